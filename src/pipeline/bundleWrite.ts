// Node side of model bundles: writing one (the bundle CLI) and reading one from a local folder.
// writeBundle hashes every file, fills in the manifest's `files`, and validates the result exactly as
// loadBundle will (sizes, hashes, ONNX interfaces) before writing anything, so an invalid bundle is
// never written.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { BundleFileMissing, type BundleSource } from './bundle';
import { fileEntry, MANIFEST_FILE, type Manifest, validateManifest } from './manifest';

/** A manifest before its files are hashed. */
export type ManifestDraft = Omit<Manifest, 'files'>;

function inside(dir: string, path: string): string {
  const root = resolve(dir);
  const full = resolve(root, path);
  if (!full.startsWith(root + sep)) throw new Error(`bundle path "${path}" leaves the bundle folder ${dir}`);
  return full;
}

/**
 * Writes `files` and manifest.json (the draft plus every file's size and sha256) into `dir`, created if
 * needed. Returns the manifest written.
 */
export async function writeBundle(dir: string, draft: ManifestDraft, files: ReadonlyMap<string, Uint8Array>): Promise<Manifest> {
  const paths = [...files.keys()].sort();
  const entries = await Promise.all(paths.map((path) => fileEntry(path, files.get(path)!)));
  const manifest = await validateManifest({ ...draft, files: entries }, files);
  for (const path of paths) {
    const target = inside(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, files.get(path)!);
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** A bundle in a local folder. */
export function directorySource(dir: string): BundleSource {
  return {
    description: dir,
    read: async (path) => {
      try {
        return new Uint8Array(await readFile(inside(dir, path)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new BundleFileMissing(path, dir);
        throw error;
      }
    },
  };
}
