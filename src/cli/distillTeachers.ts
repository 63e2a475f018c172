// Loading a teacher bundle's engine checkpoints (manifest.checkpoints) for distillation: the toy MLP of one mixture,
// or the Shapes DiT with its text encoder. The bundle's manifest is validated and the files' hashes checked first,
// so a damaged teacher is refused with the file named rather than distilled from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GaussianMixture2D, MIXTURES } from '../data/toy2d';
import { ShapesDiT } from '../nets/dit';
import { TextEncoder } from '../nets/textEncoder';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { loadModule } from '../nn/safetensors';
import { type Manifest, sha256Hex, validateManifest } from '../pipeline/manifest';
import { readBytes } from './checkpoint';
import { UsageError } from './options';

async function readTeacherManifest(dir: string): Promise<Manifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (error) {
    throw new UsageError(`the teacher bundle ${dir} has no readable manifest.json (${(error as Error).message}); pass --teacher with a bundle folder such as models/shapes-teacher`);
  }
  return validateManifest(raw);
}

async function checkedBytes(dir: string, manifest: Manifest, path: string): Promise<Uint8Array> {
  const bytes = readBytes(join(dir, path));
  const entry = manifest.files.find((f) => f.path === path);
  if (!entry) throw new Error(`${join(dir, 'manifest.json')} lists no file ${path}`);
  const hash = await sha256Hex(bytes);
  if (hash !== entry.sha256) throw new Error(`${join(dir, path)}: sha256 ${hash} does not match the manifest's ${entry.sha256}; the teacher bundle is damaged (restore it from git)`);
  return bytes;
}

export async function loadToyTeacher(engine: Engine, dir: string): Promise<{ teacher: Toy2DTeacher; mixture: GaussianMixture2D; manifest: Manifest }> {
  const manifest = await readTeacherManifest(dir);
  const spec = manifest.checkpoints?.denoiser;
  if (manifest.architecture !== 'Toy2DTeacher' || !spec) throw new UsageError(`${dir} is not a toy2d teacher bundle (architecture ${manifest.architecture})`);
  const name = manifest.name.replace(/^toy2d-/, '') as GaussianMixture2D['name'];
  const mixture = MIXTURES[name];
  if (!mixture) throw new UsageError(`${dir}: no toy mixture named "${name}" (the bundle's name should be toy2d-ring or toy2d-grid)`);
  const teacher = new Toy2DTeacher(engine, spec.config as object);
  loadModule(teacher, await checkedBytes(dir, manifest, spec.path));
  return { teacher, mixture, manifest };
}

export async function loadShapesTeacher(engine: Engine, dir: string): Promise<{ teacher: ShapesDiT; textEncoder: TextEncoder; manifest: Manifest }> {
  const manifest = await readTeacherManifest(dir);
  const { denoiser, textEncoder } = manifest.checkpoints ?? {};
  if (!denoiser || !textEncoder) throw new UsageError(`${dir} has no engine checkpoints of its denoiser and text encoder (manifest.checkpoints); distillation needs them`);
  const teacher = new ShapesDiT(engine, denoiser.config as object);
  loadModule(teacher, await checkedBytes(dir, manifest, denoiser.path));
  const encoder = new TextEncoder(engine, textEncoder.config as object);
  loadModule(encoder, await checkedBytes(dir, manifest, textEncoder.path));
  return { teacher, textEncoder: encoder, manifest };
}
