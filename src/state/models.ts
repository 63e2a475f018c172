// The models surface: the bundles shipped with the app (virtual:bundled-models, built by vite.config.ts) and those the
// user cached in OPFS from a URL or a local folder (through the generation worker, which verifies every file before
// anything is written: modelCache.ts). Bundled models come first in every list.
import bundledList from 'virtual:bundled-models';
import { create } from 'zustand';
import { denoiserSha256, isPointsModel } from '../pipeline/generate';
import { type Manifest, parseManifest } from '../pipeline/manifest';
import type { StorageUse } from '../pipeline/storage';
import type { CachedModelInfo, CacheProgress, ModelRef } from '../workers/generateApi';
import { call, proxy } from '../workers/generateClient';

export interface ModelEntry {
  /** 'bundled:<name>' or 'cached:<name>': the picker's value. */
  id: string;
  source: 'bundled' | 'cached';
  /** The bundle's name (a cached model: the name it was cached under). */
  name: string;
  ref: ModelRef;
  manifest: Manifest;
  /** sha256 of the denoiser: what a PNG's settings name the model by. */
  sha256: string;
  /** Bytes of all its files. */
  bytes: number;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function bundledEntries(): { entries: ModelEntry[]; problems: string[] } {
  const entries: ModelEntry[] = [];
  const problems: string[] = [];
  for (const { path, manifest: raw } of bundledList) {
    try {
      const manifest = parseManifest(raw);
      const url = `${import.meta.env.BASE_URL}${path}`;
      entries.push({
        id: `bundled:${manifest.name}`,
        source: 'bundled',
        name: manifest.name,
        ref: { source: 'bundled', name: manifest.name, url },
        manifest,
        sha256: denoiserSha256(manifest),
        bytes: manifest.files.reduce((n, f) => n + f.bytes, 0),
      });
    } catch (error) {
      problems.push(`${path}: ${message(error)}`);
    }
  }
  return { entries, problems };
}

function cachedEntry(model: CachedModelInfo): ModelEntry | null {
  if (!model.manifest) return null;
  try {
    return {
      id: `cached:${model.name}`,
      source: 'cached',
      name: model.name,
      ref: { source: 'cached', name: model.name },
      manifest: model.manifest,
      sha256: denoiserSha256(model.manifest),
      bytes: model.bytes,
    };
  } catch {
    return null;
  }
}

/**
 * Whether the generate pipeline can run this model: text-to-image, or 2D points for a label (drawn as a scatter
 * image); others are listed but not offered.
 */
export function canGenerate(manifest: Manifest): boolean {
  return (manifest.conditioning === 'text' && manifest.space.type !== 'points') || (isPointsModel(manifest) && manifest.space.type === 'points' && manifest.space.dims === 2);
}

export type CacheJob =
  | { state: 'idle' }
  | { state: 'running'; what: string; /** 0..1, or null before the sizes are known. */ fraction: number | null }
  | { state: 'done'; message: string }
  | { state: 'error'; message: string };

export interface ModelsState {
  bundled: ModelEntry[];
  /** Bundled manifests that did not parse (a broken build). */
  bundledProblems: string[];
  /** Every complete model in the cache, including ones that cannot be read any more (to delete them). */
  cached: CachedModelInfo[];
  /** The cached models the picker offers. */
  cachedEntries: ModelEntry[];
  status: 'idle' | 'loading' | 'ready' | 'error';
  storage: StorageUse | null;
  job: CacheJob;
  /** The last failure to list or delete, or null. */
  error: string | null;
  refresh(): Promise<void>;
  cacheFromUrl(url: string, name?: string): Promise<ModelEntry | null>;
  cacheFromFolder(folder: FileSystemDirectoryHandle | File[], name?: string): Promise<ModelEntry | null>;
  /** Caches a bundle made in the page (the Distill tab's exported student). */
  cacheFromFiles(files: Map<string, Uint8Array>, name: string): Promise<ModelEntry | null>;
  remove(name: string): Promise<void>;
}

const initial = bundledEntries();

function describeProgress(progress: CacheProgress): { what: string; fraction: number } {
  if (progress.phase === 'reading') {
    const p = progress.progress;
    return { what: `Reading and checking ${p.path} (${p.loadedFiles} of ${p.totalFiles} files)`, fraction: p.totalBytes ? p.loadedBytes / p.totalBytes : 0 };
  }
  const p = progress.progress;
  return { what: `Writing ${p.path} to the cache (${p.writtenFiles} of ${p.totalFiles} files)`, fraction: p.totalBytes ? p.writtenBytes / p.totalBytes : 0 };
}

export const useModels = create<ModelsState>()((set, get) => {
  async function cacheWith(what: string, run: (onProgress: (progress: CacheProgress) => void) => Promise<CachedModelInfo>): Promise<ModelEntry | null> {
    if (get().job.state === 'running') return null;
    set({ job: { state: 'running', what, fraction: null } });
    try {
      const cached = await run(proxy((progress: CacheProgress) => set({ job: { state: 'running', ...describeProgress(progress) } })));
      await get().refresh();
      const entry = get().cachedEntries.find((e) => e.name === cached.name) ?? null;
      const unusable = entry && !canGenerate(entry.manifest) ? ' The Generate tab does not offer it: it runs text-to-image models and label-conditioned models of 2D points.' : '';
      set({ job: { state: 'done', message: `Cached "${cached.name}" (${cached.files} files).${unusable}` } });
      return entry && canGenerate(entry.manifest) ? entry : null;
    } catch (error) {
      set({ job: { state: 'error', message: `The model was not cached: ${message(error)}` } });
      await get().refresh();
      return null;
    }
  }

  return {
    bundled: initial.entries,
    bundledProblems: initial.problems,
    cached: [],
    cachedEntries: [],
    status: 'idle',
    storage: null,
    job: { state: 'idle' },
    error: null,

    async refresh() {
      if (get().status === 'idle') set({ status: 'loading' });
      try {
        const [cached, storage] = await Promise.all([call((w) => w.listCached()), call((w) => w.storageUse())]);
        const cachedEntries = cached.map(cachedEntry).filter((e): e is ModelEntry => e !== null && canGenerate(e.manifest));
        set({ cached, cachedEntries, storage, status: 'ready', error: null });
      } catch (error) {
        set({ status: 'error', error: `The model cache could not be read: ${message(error)}` });
      }
    },

    cacheFromUrl: (url, name) => cacheWith(`Fetching ${url}`, (onProgress) => call((w) => w.cacheFromUrl(url, name?.trim() || null, onProgress))),

    cacheFromFiles: (files, name) => cacheWith(`Caching ${name}`, (onProgress) => call((w) => w.cacheFromFiles(files, name, onProgress))),
    cacheFromFolder: (folder, name) => cacheWith('Reading the folder', (onProgress) => call((w) => w.cacheFromFolder(folder, name?.trim() || null, onProgress))),

    async remove(name) {
      try {
        await call((w) => w.deleteCached(name));
        set({ job: { state: 'done', message: `Deleted "${name}" from the cache.` } });
      } catch (error) {
        set({ error: `"${name}" could not be deleted: ${message(error)}` });
      }
      await get().refresh();
    },
  };
});

/** Every model the Generate tab offers: bundled first, then cached. */
export function allModels(state: Pick<ModelsState, 'bundled' | 'cachedEntries'> = useModels.getState()): ModelEntry[] {
  return [...state.bundled, ...state.cachedEntries];
}

export function findModel(id: string): ModelEntry | undefined {
  return allModels().find((m) => m.id === id);
}

/**
 * The model a name or hash refers to (a deep link's `model`, a PNG's model and model_sha256): by the denoiser's
 * sha256 when given, else by name (the bundle's or the cache's); bundled models win.
 */
export function matchModel(name: string | null, sha256: string | null = null): ModelEntry | undefined {
  const models = allModels();
  return (sha256 ? models.find((m) => m.sha256 === sha256) : undefined) ?? (name ? models.find((m) => m.name === name || m.manifest.name === name) : undefined);
}
