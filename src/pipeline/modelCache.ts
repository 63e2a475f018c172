// Model bundles cached in the origin private file system (OPFS), one folder per model:
//   <root>/models/<name>/manifest.json, the files it lists (subfolders as in the bundle), and .complete
// A model is visible only once `.complete` exists. put() checks every file (size, sha256, ONNX interface:
// validateManifest) before writing anything, writes the files and manifest.json, and creates the empty
// `.complete` marker last (creating an empty file is one atomic step; OPFS has no portable folder rename).
// A failed put removes its folder; a folder without the marker (a tab closed mid-put) is ignored by
// list() and swept by the next put. delete() removes the marker first, so a half-deleted model is never
// listed. Writers in several tabs are serialised with a Web Lock.
import { BundleFileMissing, type BundleSource } from './bundle';
import { BundleError, MANIFEST_FILE, type Manifest, parseManifest, validateManifest } from './manifest';
import { isQuotaError, mebibytes, storageUse } from './storage';

export const CACHE_FOLDER = 'models';
const COMPLETE = '.complete';

export interface CachedModel {
  name: string;
  /** Null when manifest.json cannot be read any more; `problem` says why, and the model can only be deleted. */
  manifest: Manifest | null;
  problem?: string;
  /** Bytes on disk, manifest.json included. */
  bytes: number;
  files: number;
  /** When caching finished (ms since the epoch). */
  cachedAt: number;
}

export interface PutProgress {
  path: string;
  writtenFiles: number;
  totalFiles: number;
  writtenBytes: number;
  totalBytes: number;
}

/** Writes one file's bytes into a folder; the default uses createWritable. Tests inject failing ones. */
export type WriteFile = (dir: FileSystemDirectoryHandle, name: string, bytes: Uint8Array) => Promise<void>;

export interface ModelCacheOptions {
  /** Default: the OPFS root, navigator.storage.getDirectory(). */
  root?: FileSystemDirectoryHandle;
  /** The folder under the root that holds the models (default 'models'). */
  folder?: string;
  writeFile?: WriteFile;
}

/** Storage ran out while caching; nothing of the model was kept. */
export class ModelCacheFullError extends Error {
  constructor(
    readonly model: string,
    readonly neededBytes: number,
    free: number | null,
    cause: unknown,
  ) {
    super(
      `Not enough storage to cache "${model}" (it needs ${mebibytes(neededBytes)}${free === null ? '' : `, about ${mebibytes(free)} is free`}): ` +
        'delete cached models you no longer need, then try again. Nothing of it was kept.',
      { cause },
    );
    this.name = 'ModelCacheFullError';
  }
}

export interface ModelCache {
  /**
   * Caches a bundle under `name`; a model already cached under that name is removed first. `manifest`: manifest.json's bytes or text
   * (kept verbatim) or a parsed Manifest; default: files.get('manifest.json'). Only the files the manifest
   * lists are written. Throws BundleError (naming the file) before writing anything if a file is missing or
   * does not match its size, sha256 or ONNX interface; ModelCacheFullError when storage runs out.
   */
  put(name: string, files: ReadonlyMap<string, Uint8Array>, manifest?: Manifest | Uint8Array | string, options?: { onProgress?: (progress: PutProgress) => void }): Promise<CachedModel>;
  /** The complete models, by name. */
  list(): Promise<CachedModel[]>;
  has(name: string): Promise<boolean>;
  /** Removes a model (complete or not); false if there was none. */
  delete(name: string): Promise<boolean>;
  /** Removes every model. */
  clear(): Promise<void>;
  /** The cached files as a BundleSource: `loadBundle(cache.source(name))` loads and re-verifies the model. */
  source(name: string): BundleSource;
}

/** A model name is a folder name: 1-128 characters, no path separators or characters file systems refuse, not starting with '.'. */
export function checkModelName(name: string): void {
  if (!/^[^./\\:*?"<>|\x00-\x1f][^/\\:*?"<>|\x00-\x1f]{0,127}$/.test(name)) {
    throw new RangeError(`"${name}" cannot name a cached model: use 1-128 characters without / \\ : * ? " < > |, not starting with "."`);
  }
}

/** createWritable writes to a swap file and replaces the file on close(), so a failed write leaves no partial content. */
export const writeWithWritable: WriteFile = async (dir, name, bytes) => {
  const handle = await dir.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  try {
    await writable.write(bytes as Uint8Array<ArrayBuffer>);
    await writable.close();
  } catch (error) {
    await writable.abort().catch(() => undefined);
    throw error;
  }
};

const isNotFound = (error: unknown) => error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'TypeMismatchError');

async function exists(dir: FileSystemDirectoryHandle, name: string): Promise<boolean> {
  try {
    await dir.getFileHandle(name);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** The folder that holds `path`'s file, and the file's name. */
async function parentOf(dir: FileSystemDirectoryHandle, path: string, create: boolean): Promise<[FileSystemDirectoryHandle, string]> {
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new BundleError(path, null, 'is not a relative path inside the bundle');
  let folder = dir;
  for (const segment of segments.slice(0, -1)) folder = await folder.getDirectoryHandle(segment, { create });
  return [folder, segments.at(-1)!];
}

/** Bytes and file count of everything under `dir`. */
async function sizeOf(dir: FileSystemDirectoryHandle): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for await (const handle of dir.values()) {
    if (handle.kind === 'directory') {
      const inner = await sizeOf(handle);
      bytes += inner.bytes;
      files += inner.files;
    } else if (handle.name !== COMPLETE) {
      bytes += (await handle.getFile()).size;
      files += 1;
    }
  }
  return { bytes, files };
}

async function describe(name: string, dir: FileSystemDirectoryHandle): Promise<CachedModel> {
  const { bytes, files } = await sizeOf(dir);
  const cachedAt = (await (await dir.getFileHandle(COMPLETE)).getFile()).lastModified;
  try {
    const manifest = parseManifest(new Uint8Array(await (await (await dir.getFileHandle(MANIFEST_FILE)).getFile()).arrayBuffer()));
    return { name, manifest, bytes, files, cachedAt };
  } catch (error) {
    return { name, manifest: null, problem: isNotFound(error) ? `${MANIFEST_FILE}: is missing` : (error as Error).message, bytes, files, cachedAt };
  }
}

function manifestBytes(manifest: Manifest | Uint8Array | string): Uint8Array {
  if (manifest instanceof Uint8Array) return manifest;
  return new TextEncoder().encode(typeof manifest === 'string' ? manifest : `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Runs `task` holding the cache's Web Lock (every tab of the site shares it); without Web Locks, directly. */
function locked<T>(folder: string, task: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks;
  return locks ? locks.request(`senseflow-model-cache/${folder}`, task) : task();
}

/** The model cache in `options.root` (default: this site's OPFS). */
export async function openModelCache(options: ModelCacheOptions = {}): Promise<ModelCache> {
  const root = options.root ?? (await navigator.storage.getDirectory());
  const folder = options.folder ?? CACHE_FOLDER;
  const writeFile = options.writeFile ?? writeWithWritable;
  const models = await root.getDirectoryHandle(folder, { create: true });

  async function modelDir(name: string): Promise<FileSystemDirectoryHandle | null> {
    try {
      return await models.getDirectoryHandle(name);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async function remove(name: string): Promise<boolean> {
    const dir = await modelDir(name);
    if (!dir) return false;
    await dir.removeEntry(COMPLETE).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    await models.removeEntry(name, { recursive: true });
    return true;
  }

  /** Removes folders left without the marker by an interrupted put (called holding the lock). */
  async function sweep(): Promise<void> {
    const incomplete: string[] = [];
    for await (const handle of models.values()) {
      if (handle.kind === 'directory' && !(await exists(handle, COMPLETE))) incomplete.push(handle.name);
    }
    for (const name of incomplete) await models.removeEntry(name, { recursive: true });
  }

  async function write(name: string, files: ReadonlyMap<string, Uint8Array>, manifest: Manifest, manifestFile: Uint8Array, onProgress?: (progress: PutProgress) => void) {
    await sweep();
    await remove(name);
    const dir = await models.getDirectoryHandle(name, { create: true });
    const totalBytes = manifest.files.reduce((n, f) => n + f.bytes, 0) + manifestFile.byteLength;
    const totalFiles = manifest.files.length + 1;
    let writtenBytes = 0;
    let writtenFiles = 0;
    try {
      for (const [path, bytes] of [...manifest.files.map((f) => [f.path, files.get(f.path)!] as const), [MANIFEST_FILE, manifestFile] as const]) {
        const [parent, fileName] = await parentOf(dir, path, true);
        await writeFile(parent, fileName, bytes);
        const written = (await (await parent.getFileHandle(fileName)).getFile()).size;
        if (written !== bytes.byteLength) throw new BundleError(path, null, `was written to the cache as ${written} bytes, expected ${bytes.byteLength}`);
        writtenBytes += bytes.byteLength;
        writtenFiles += 1;
        onProgress?.({ path, writtenFiles, totalFiles, writtenBytes, totalBytes });
      }
      await dir.getFileHandle(COMPLETE, { create: true });
    } catch (error) {
      await models.removeEntry(name, { recursive: true }).catch(() => undefined);
      if (!isQuotaError(error)) throw error;
      const use = await storageUse().catch(() => null);
      throw new ModelCacheFullError(name, totalBytes, use ? Math.max(0, use.quota - use.usage) : null, error);
    }
    return describe(name, dir);
  }

  return {
    async put(name, files, manifestInput = files.get(MANIFEST_FILE), { onProgress } = {}) {
      checkModelName(name);
      if (manifestInput === undefined) throw new BundleError(MANIFEST_FILE, null, `is missing: the files of "${name}" have no ${MANIFEST_FILE} and none was given`);
      const manifestFile = manifestBytes(manifestInput);
      // Every file checked against the manifest before anything is written.
      const manifest = await validateManifest(manifestFile, files);
      return locked(folder, () => write(name, files, manifest, manifestFile, onProgress));
    },

    async list() {
      const cached: CachedModel[] = [];
      for await (const handle of models.values()) {
        if (handle.kind === 'directory' && (await exists(handle, COMPLETE))) cached.push(await describe(handle.name, handle));
      }
      return cached.sort((a, b) => a.name.localeCompare(b.name));
    },

    async has(name) {
      const dir = await modelDir(name);
      return dir !== null && (await exists(dir, COMPLETE));
    },

    delete: (name) => locked(folder, () => remove(name)),

    clear: () =>
      locked(folder, async () => {
        const names: string[] = [];
        for await (const name of models.keys()) names.push(name);
        for (const name of names) await remove(name);
      }),

    source(name) {
      const description = `the model cache (${folder}/${name})`;
      return {
        description,
        async read(path) {
          const dir = await modelDir(name);
          if (!dir || !(await exists(dir, COMPLETE))) throw new BundleFileMissing(path, description);
          try {
            const [parent, fileName] = await parentOf(dir, path, false);
            return new Uint8Array(await (await (await parent.getFileHandle(fileName)).getFile()).arrayBuffer());
          } catch (error) {
            if (isNotFound(error)) throw new BundleFileMissing(path, description);
            throw error;
          }
        },
      };
    },
  };
}
