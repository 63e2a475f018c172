// The model cache in real OPFS (headless chromium, vitest browser mode): a bundle cached and loaded back
// through loadBundle; a wrong hash refused before anything is written, naming the file; a write failing
// midway (a full quota, injected) leaving nothing; a folder abandoned mid-put ignored and swept; sizes;
// delete and clear; storage use. And reading a bundle from a local folder (a directory handle, a FileList).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBundle } from './bundle';
import { exampleBundle } from './bundleTesting';
import { folderName, pathInFolder, readDirectoryHandle, readFileList } from './localFolder';
import { BundleError, MANIFEST_FILE } from './manifest';
import { checkModelName, type ModelCache, ModelCacheFullError, openModelCache, type WriteFile, writeWithWritable } from './modelCache';
import { storageUse } from './storage';

const FOLDER = 'models-test';
let root: FileSystemDirectoryHandle;
let cache: ModelCache;

/** Every path under `dir` ('a/', 'a/b.txt'), sorted: what is really in OPFS. */
async function tree(dir: FileSystemDirectoryHandle, prefix = ''): Promise<string[]> {
  const paths: string[] = [];
  for await (const handle of dir.values()) {
    const path = prefix + handle.name;
    if (handle.kind === 'directory') paths.push(`${path}/`, ...(await tree(handle, `${path}/`)));
    else paths.push(path);
  }
  return paths.sort();
}

const cached = async () => tree(await root.getDirectoryHandle(FOLDER));

beforeEach(async () => {
  root = await navigator.storage.getDirectory();
  await root.removeEntry(FOLDER, { recursive: true }).catch(() => undefined);
  cache = await openModelCache({ root, folder: FOLDER });
});

afterEach(async () => {
  await root.removeEntry(FOLDER, { recursive: true }).catch(() => undefined);
});

describe('put, list, source', () => {
  it('caches a bundle; list gives its size and file count; loadBundle reads it back verified', async () => {
    const { manifest, files } = await exampleBundle();
    const progress: string[] = [];
    const entry = await cache.put('shapes', files, undefined, { onProgress: (p) => progress.push(`${p.writtenFiles}/${p.totalFiles} ${p.path}`) });
    const bytes = [...files.values()].reduce((n, b) => n + b.byteLength, 0);
    expect(entry).toMatchObject({ name: 'shapes', bytes, files: files.size });
    expect(entry.manifest).toEqual(manifest);
    expect(progress.at(-1)).toBe(`5/5 ${MANIFEST_FILE}`);
    expect(await cached()).toEqual(['shapes/', 'shapes/.complete', 'shapes/denoiser.onnx', 'shapes/manifest.json', 'shapes/text_encoder.onnx', 'shapes/tokenizer/', 'shapes/tokenizer/tokenizer.json', 'shapes/tokenizer/tokenizer_config.json']);

    const [listed, ...rest] = await cache.list();
    expect(rest).toEqual([]);
    expect(listed).toMatchObject({ name: 'shapes', bytes, files: 5 });
    expect(listed!.cachedAt).toBeGreaterThan(0);
    expect(await cache.has('shapes')).toBe(true);
    expect(await cache.has('other')).toBe(false);

    const loaded = await loadBundle(cache.source('shapes'));
    expect(loaded.manifest).toEqual(manifest);
    for (const [path, data] of loaded.files) expect(data).toEqual(files.get(path));
    // manifest.json is kept byte for byte (a model's sha may be taken over it).
    expect(await cache.source('shapes').read(MANIFEST_FILE)).toEqual(files.get(MANIFEST_FILE));
  });

  it('a second cache opened on the same folder (a reload) sees the model', async () => {
    await cache.put('shapes', (await exampleBundle()).files);
    const reopened = await openModelCache({ root, folder: FOLDER });
    expect((await reopened.list()).map((m) => m.name)).toEqual(['shapes']);
  });

  it('lists several models by name with their own sizes; writes only the files the manifest lists', async () => {
    const small = await exampleBundle();
    small.files.set('notes.txt', new TextEncoder().encode('not listed, not written'));
    await cache.put('b-model', small.files);
    await cache.put('a-model', (await exampleBundle()).files, (await exampleBundle()).manifest);
    const list = await cache.list();
    expect(list.map((m) => m.name)).toEqual(['a-model', 'b-model']);
    expect(await cached()).not.toContain('b-model/notes.txt');
    // Given as a parsed Manifest, manifest.json is re-serialised; sizes count what is on disk.
    const onDisk = async (name: string) => (await cache.source(name).read(MANIFEST_FILE)).byteLength;
    expect(list[0]!.bytes - (await onDisk('a-model'))).toBe(list[1]!.bytes - (await onDisk('b-model')));
  });

  it('replacing a model of the same name keeps one copy', async () => {
    await cache.put('shapes', (await exampleBundle()).files);
    await cache.put('shapes', (await exampleBundle()).files);
    expect((await cache.list()).length).toBe(1);
  });

  it('a model that is not cached is missing, as loadBundle says', async () => {
    await expect(loadBundle(cache.source('nothing'))).rejects.toThrow(`manifest.json: is missing: the model cache (${FOLDER}/nothing) is not a model bundle`);
  });

  it('refuses names that are not folder names', () => {
    for (const bad of ['', '.hidden', 'a/b', 'a\\b', '..', 'x'.repeat(129)]) expect(() => checkModelName(bad)).toThrow(RangeError);
    expect(() => checkModelName('shapes-student v1.2')).not.toThrow();
  });
});

describe('refusals leave nothing behind', () => {
  it('a file with a wrong hash: BundleError naming the file, and nothing in OPFS', async () => {
    const { files } = await exampleBundle();
    const corrupted = files.get('denoiser.onnx')!.slice();
    corrupted[corrupted.length - 1]! ^= 1;
    files.set('denoiser.onnx', corrupted);
    const error = await cache.put('shapes', files).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as Error).message).toMatch(/^denoiser\.onnx: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}$/);
    expect(await cached()).toEqual([]);
    expect(await cache.list()).toEqual([]);
  });

  it('a missing file or no manifest: refused, naming the file', async () => {
    const { files } = await exampleBundle();
    files.delete('tokenizer/tokenizer.json');
    await expect(cache.put('shapes', files)).rejects.toThrow('tokenizer/tokenizer.json: is missing (listed in manifest.json files)');
    files.delete(MANIFEST_FILE);
    await expect(cache.put('shapes', files)).rejects.toThrow(/^manifest\.json: is missing/);
    expect(await cached()).toEqual([]);
  });

  it('storage running out midway: ModelCacheFullError, the model half-written is removed', async () => {
    let writes = 0;
    const runsOut: WriteFile = async (dir, name, bytes) => {
      if (++writes === 3) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      await writeWithWritable(dir, name, bytes);
    };
    const full = await openModelCache({ root, folder: FOLDER, writeFile: runsOut });
    await full.put('kept', (await exampleBundle()).files).catch(() => undefined); // writes 1-2 ok, 3 fails: not kept
    writes = 100; // from here every write works
    await full.put('kept', (await exampleBundle()).files);
    writes = 0;
    const error = await full.put('shapes', (await exampleBundle()).files).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelCacheFullError);
    expect((error as Error).message).toMatch(/^Not enough storage to cache "shapes" \(it needs \d+\.\d MiB, about \d+\.\d MiB is free\): delete cached models/);
    expect(await cached()).toEqual((await cached()).filter((p) => p.startsWith('kept/')));
    expect((await full.list()).map((m) => m.name)).toEqual(['kept']);
  });

  it('a write that comes out short is refused and removed', async () => {
    const truncates: WriteFile = (dir, name, bytes) => writeWithWritable(dir, name, name === 'denoiser.onnx' ? bytes.subarray(0, 5) : bytes);
    const broken = await openModelCache({ root, folder: FOLDER, writeFile: truncates });
    await expect(broken.put('shapes', (await exampleBundle()).files)).rejects.toThrow(/^denoiser\.onnx: was written to the cache as 5 bytes, expected \d+$/);
    expect(await cached()).toEqual([]);
  });

  it('a folder abandoned mid-put (no marker) is not listed, cannot be loaded, and the next put sweeps it', async () => {
    const models = await root.getDirectoryHandle(FOLDER);
    const abandoned = await models.getDirectoryHandle('abandoned', { create: true });
    await writeWithWritable(abandoned, 'denoiser.onnx', new Uint8Array(10));
    await writeWithWritable(abandoned, MANIFEST_FILE, new TextEncoder().encode('{}'));
    expect(await cache.list()).toEqual([]);
    expect(await cache.has('abandoned')).toBe(false);
    await expect(cache.source('abandoned').read(MANIFEST_FILE)).rejects.toThrow(/is not in the model cache/);
    await cache.put('shapes', (await exampleBundle()).files);
    expect((await cached()).some((p) => p.startsWith('abandoned'))).toBe(false);
  });
});

describe('delete, clear, storage use', () => {
  it('delete removes a model and its files; clear removes all', async () => {
    await cache.put('a', (await exampleBundle()).files);
    await cache.put('b', (await exampleBundle()).files);
    expect(await cache.delete('a')).toBe(true);
    expect(await cache.delete('a')).toBe(false);
    expect((await cache.list()).map((m) => m.name)).toEqual(['b']);
    expect((await cached()).every((p) => p.startsWith('b/'))).toBe(true);
    await cache.clear();
    expect(await cached()).toEqual([]);
  });

  it('a cached model whose manifest went bad is listed with its problem, so it can be deleted', async () => {
    await cache.put('shapes', (await exampleBundle()).files);
    const dir = await (await root.getDirectoryHandle(FOLDER)).getDirectoryHandle('shapes');
    await writeWithWritable(dir, MANIFEST_FILE, new TextEncoder().encode('{ not json'));
    const [entry] = await cache.list();
    expect(entry).toMatchObject({ name: 'shapes', manifest: null });
    expect(entry!.problem).toMatch(/^manifest\.json: is not valid JSON/);
    expect(await cache.delete('shapes')).toBe(true);
  });

  it('storage use: usage and quota from navigator.storage.estimate()', async () => {
    const use = await storageUse();
    expect(use).not.toBeNull();
    expect(use!.quota).toBeGreaterThan(0);
    expect(use!.usage).toBeGreaterThanOrEqual(0);
    expect(typeof use!.persisted).toBe('boolean');
  });
});

describe('local folders', () => {
  it('reads a directory handle recursively into path -> bytes, and that caches', async () => {
    const { files } = await exampleBundle();
    const folder = await (await root.getDirectoryHandle(FOLDER)).getDirectoryHandle('picked', { create: true });
    for (const [path, bytes] of files) {
      const parts = path.split('/');
      let dir = folder;
      for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create: true });
      await writeWithWritable(dir, parts.at(-1)!, bytes);
    }
    const read = await readDirectoryHandle(folder);
    expect([...read.keys()]).toEqual([...files.keys()].sort());
    for (const [path, bytes] of read) expect(bytes).toEqual(files.get(path));
    expect([...(await readDirectoryHandle(folder, { filter: (p) => p.endsWith('.onnx') })).keys()]).toEqual(['denoiser.onnx', 'text_encoder.onnx']);
    await cache.put('from-folder', read);
    expect(await cache.has('from-folder')).toBe(true);
  });

  it('reads an <input webkitdirectory> FileList, dropping the folder name from the paths', async () => {
    const { files } = await exampleBundle();
    const list = [...files].map(([path, bytes]) => {
      const file = new File([bytes.slice()], path.split('/').at(-1)!);
      Object.defineProperty(file, 'webkitRelativePath', { value: `shapes-student/${path}` });
      return file;
    });
    expect(folderName(list)).toBe('shapes-student');
    expect(pathInFolder(list.find((f) => f.name === 'tokenizer.json')!)).toBe('tokenizer/tokenizer.json');
    const read = await readFileList(list);
    expect([...read.keys()]).toEqual([...files.keys()].sort());
    for (const [path, bytes] of read) expect(bytes).toEqual(files.get(path));
    expect(folderName([new File(['x'], 'a.txt')])).toBeNull();
  });
});
