// The 2D toy teacher for the Distill tab, from its bundle (models/toy2d/<mixture>/): the manifest validated and every
// file's size and sha256 checked (pipeline/bundle.ts), then the engine checkpoint (manifest.checkpoints.denoiser)
// loaded into a Toy2DTeacher. The CLI reads the same bundles from disk (cli/distillTeachers.ts).
import { type GaussianMixture2D, MIXTURES } from '../data/toy2d';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { loadModule } from '../nn/safetensors';
import { type BundleSource, loadBundle } from '../pipeline/bundle';

export interface ToyTeacher {
  teacher: Toy2DTeacher;
  mixture: GaussianMixture2D;
  /** The sha256 of the teacher's weights (from the manifest, checked): what its reference samples are cached under. */
  sha256: string;
}

export async function loadToyTeacherBundle(engine: Engine, source: BundleSource): Promise<ToyTeacher> {
  const where = source.description ?? 'the teacher bundle';
  const { manifest, files } = await loadBundle(source);
  const spec = manifest.checkpoints?.denoiser;
  if (manifest.architecture !== 'Toy2DTeacher' || !spec) throw new Error(`${where} is not a 2D toy teacher bundle (architecture ${manifest.architecture ?? 'not given'}, no engine checkpoint of its denoiser)`);
  const mixture = MIXTURES[manifest.name.replace(/^toy2d-/, '') as GaussianMixture2D['name']];
  if (!mixture) throw new Error(`${where}: no toy mixture named "${manifest.name}" (a toy teacher bundle is named toy2d-ring or toy2d-grid)`);
  const teacher = new Toy2DTeacher(engine, spec.config as object);
  loadModule(teacher, files.get(spec.path)!);
  return { teacher, mixture, sha256: manifest.files.find((f) => f.path === spec.path)!.sha256 };
}
