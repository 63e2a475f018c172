// The generation worker's interface, shared by the worker (generate.worker.ts) and the page (generateClient.ts).
// Comlink carries the calls; everything here is structured-cloneable data (no class instances), and callbacks are
// Comlink proxies.
import type { LoadProgress } from '../pipeline/bundle';
import type { ExecutionProvider, GenerateRequest, GenerateSettings, GenerateTimings } from '../pipeline/generate';
import type { Manifest } from '../pipeline/manifest';
import type { PutProgress } from '../pipeline/modelCache';
import type { StorageUse } from '../pipeline/storage';

/** Where a model's files come from: a bundle shipped with the app (fetched from its URL) or one in the OPFS cache. */
export type ModelRef = { source: 'bundled'; name: string; url: string } | { source: 'cached'; name: string };

export function modelKey(ref: ModelRef): string {
  return `${ref.source}:${ref.name}`;
}

/** What a running generation reports, in order: loading the model (first use only), then each step. */
export type GenerateEvent =
  | { type: 'loading'; what: string; progress?: LoadProgress }
  | {
      type: 'step';
      step: number;
      steps: number;
      ms: number;
      /** Each image's x0 estimate after this step, RGBA, width x height. */
      previews?: Uint8ClampedArray[];
      /** The previews' size (0 without previews). */
      width: number;
      height: number;
    };

export interface GeneratedPicture {
  seed: number;
  width: number;
  height: number;
  /** width x height RGBA. */
  rgba: Uint8ClampedArray;
  /** The image as a PNG with its settings in text chunks (pngMeta.ts): what Download PNG and the history keep. */
  png: Uint8Array;
  /** Each step's x0 estimate, RGBA (the preview strip). */
  previews: Uint8ClampedArray[];
}

export interface WorkerGenerateResult {
  images: GeneratedPicture[];
  settings: GenerateSettings;
  provider: ExecutionProvider;
  /** The manifest's name and the denoiser's sha256 (what a PNG names the model by). */
  model: { name: string; sha256: string };
  timings: GenerateTimings;
  /** Loading the bundle and starting its sessions, when this request had to (first use of a model on a provider). */
  loadMs: number | null;
}

export interface CachedModelInfo {
  name: string;
  manifest: Manifest | null;
  problem?: string;
  bytes: number;
  files: number;
  cachedAt: number;
}

export type CacheProgress = { phase: 'reading'; progress: LoadProgress } | { phase: 'writing'; progress: PutProgress };

export interface GenerateWorkerApi {
  /** Generates; rejects with an AbortError when cancel(jobId) is called, with the pipeline's error otherwise. */
  generate(jobId: number, model: ModelRef, provider: ExecutionProvider, request: GenerateRequest, onEvent?: (event: GenerateEvent) => void): Promise<WorkerGenerateResult>;
  cancel(jobId: number): void;
  /** The complete models in the OPFS cache. */
  listCached(): Promise<CachedModelInfo[]>;
  /** Fetches a bundle from a URL, verifies it, caches it under `name` (default: the manifest's name). */
  cacheFromUrl(url: string, name: string | null, onProgress?: (progress: CacheProgress) => void): Promise<CachedModelInfo>;
  /** Caches a bundle from a picked folder (a directory handle, or the files of an <input webkitdirectory>). */
  cacheFromFolder(folder: FileSystemDirectoryHandle | File[], name: string | null, onProgress?: (progress: CacheProgress) => void): Promise<CachedModelInfo>;
  /** Caches a bundle made in the page (a student exported from the Distill tab): its files by path, manifest.json included. */
  cacheFromFiles(files: Map<string, Uint8Array>, name: string | null, onProgress?: (progress: CacheProgress) => void): Promise<CachedModelInfo>;
  deleteCached(name: string): Promise<boolean>;
  storageUse(): Promise<StorageUse | null>;
}
