// Loading a model bundle (a folder with manifest.json and the files it lists) from anywhere that can
// hand over a file's bytes by path: a URL (fetch), OPFS, a local folder (bundleWrite.ts, Node), or an
// in-memory map (tests). Every file is checked against the manifest's size and sha256 and the ONNX
// graphs against its input/output names before anything is handed to ONNX Runtime, so a wrong or
// corrupted bundle is refused with the file and the field at fault (BundleError), not with an ORT error.
import { BundleError, type FileFacts, MANIFEST_FILE, type Manifest, parseManifest, validateManifest } from './manifest';

/** Where a bundle's files come from. read() rejects with BundleFileMissing when the file does not exist. */
export interface BundleSource {
  read(path: string): Promise<Uint8Array>;
  /** For messages: the URL or folder. */
  readonly description?: string;
}

export class BundleFileMissing extends Error {
  constructor(
    readonly path: string,
    where: string,
  ) {
    super(`${path} is not in ${where}`);
    this.name = 'BundleFileMissing';
  }
}

/** Files held in memory (tests; bundles assembled in the page). */
export function memorySource(files: ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>, description = 'memory'): BundleSource {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  return {
    description,
    read: async (path) => {
      const bytes = map.get(path);
      if (!bytes) throw new BundleFileMissing(path, description);
      return bytes;
    },
  };
}

/** Files under a base URL ('models/shapes-teacher/'), fetched; 404 counts as missing. */
export function fetchSource(baseUrl: string | URL, fetchImpl: typeof fetch = (...args) => fetch(...args)): BundleSource {
  const base = new URL(baseUrl, globalThis.location?.href);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return {
    description: base.href,
    read: async (path) => {
      const url = new URL(path, base);
      const response = await fetchImpl(url);
      if (response.status === 404) throw new BundleFileMissing(path, base.href);
      if (!response.ok) throw new Error(`GET ${url.href} answered ${response.status} ${response.statusText}`);
      // Single-page-app servers (vite preview, many static hosts) answer a missing file with their index.html.
      if (/^text\/html\b/i.test(response.headers.get('content-type') ?? '') && !/\.html?$/i.test(path)) {
        throw new Error(`GET ${url.href} answered with a web page, not the file: the file is probably not there (is this the bundle's folder?)`);
      }
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

export interface LoadProgress {
  path: string;
  loadedFiles: number;
  totalFiles: number;
  loadedBytes: number;
  totalBytes: number;
}

export interface LoadedBundle {
  manifest: Manifest;
  /** Every listed file's bytes (those `only` chose), verified, by path. */
  files: Map<string, Uint8Array>;
}

/** The files inference needs: all but the engine checkpoints (safetensors for training in the browser). */
export function isInferenceFile(path: string, manifest: Manifest): boolean {
  const { textEncoder, denoiser } = manifest.checkpoints ?? {};
  return path !== textEncoder?.path && path !== denoiser?.path;
}

async function readFile(source: BundleSource, path: string): Promise<Uint8Array> {
  try {
    return await source.read(path);
  } catch (error) {
    const where = source.description ?? 'the bundle';
    if (error instanceof BundleFileMissing) {
      throw new BundleError(path, null, path === MANIFEST_FILE ? `is missing: ${where} is not a model bundle` : `is missing from ${where} (listed in ${MANIFEST_FILE} files)`);
    }
    throw new BundleError(path, null, `could not be read from ${where}: ${(error as Error).message}`);
  }
}

/**
 * Reads manifest.json and every file it lists, verifies sizes, hashes and ONNX interfaces, and returns
 * the manifest with the files' bytes. Throws a BundleError naming the file (and field) on any problem.
 */
export async function loadBundle(
  source: BundleSource,
  options: {
    onProgress?: (progress: LoadProgress) => void;
    /** Reads only the listed files this accepts (isInferenceFile: skip the training checkpoints); default all. */
    only?: (path: string, manifest: Manifest) => boolean;
  } = {},
): Promise<LoadedBundle> {
  const manifest = parseManifest(await readFile(source, MANIFEST_FILE));
  const wanted = manifest.files.filter((f) => options.only?.(f.path, manifest) ?? true);
  const totalBytes = wanted.reduce((n, f) => n + f.bytes, 0);
  const files = new Map<string, Uint8Array>();
  let loadedBytes = 0;
  // One file at a time: a real model's files are hundreds of MB each, and they all stay in memory anyway.
  for (const entry of wanted) {
    const bytes = await readFile(source, entry.path);
    // Checked here, before reading on, so a truncated download is reported at once.
    if (bytes.byteLength !== entry.bytes) throw new BundleError(entry.path, null, `size mismatch: expected ${entry.bytes} bytes, got ${bytes.byteLength}`);
    files.set(entry.path, bytes);
    loadedBytes += bytes.byteLength;
    options.onProgress?.({ path: entry.path, loadedFiles: files.size, totalFiles: wanted.length, loadedBytes, totalBytes });
  }
  // Files left unread are taken as the manifest lists them; every file read is checked.
  const facts = new Map<string, FileFacts>(manifest.files.map((f) => [f.path, files.get(f.path) ?? { bytes: f.bytes, sha256: f.sha256 }]));
  return { manifest: await validateManifest(manifest, facts), files };
}
