// The Distill tab's frozen networks, from their bundles, every file's size and sha256 checked first
// (pipeline/bundle.ts), so a damaged download is refused with the file named rather than distilled from:
// - a 2D toy teacher (models/toy2d/<mixture>/): the engine checkpoint manifest.checkpoints.denoiser as a Toy2DTeacher;
// - the Shapes teacher (models/shapes-teacher/): its DiT and its text encoder (frozen; the student keeps it);
// - the attribute evaluator (models/evaluator/evaluator.safetensors, checked against the sha256 the build recorded),
//   which reads the Shapes student's images for prompt accuracy and FD-T.
// The CLI reads the same bundles from disk (cli/distillTeachers.ts).
import { type GaussianMixture2D, MIXTURES } from '../data/toy2d';
import { ShapesDiT } from '../nets/dit';
import { type AttributeEvaluator, loadEvaluator } from '../nets/evaluator';
import { TextEncoder } from '../nets/textEncoder';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { loadModule } from '../nn/safetensors';
import { type BundleSource, type LoadedBundle, loadBundle } from '../pipeline/bundle';
import { sha256Hex } from '../pipeline/manifest';

/** What a student's bundle needs of its teacher's (pipeline/studentBundle.ts): the manifest, the files, the denoiser's hash. */
export interface TeacherBundle {
  manifest: LoadedBundle['manifest'];
  files: LoadedBundle['files'];
  /** The sha256 of the teacher's denoiser ONNX, which names it in the student's provenance. */
  denoiserSha256: string;
}

function teacherBundle({ manifest, files }: LoadedBundle): TeacherBundle {
  return { manifest, files, denoiserSha256: manifest.files.find((f) => f.path === manifest.denoiser.onnx)?.sha256 ?? '' };
}

export interface ToyTeacher {
  teacher: Toy2DTeacher;
  mixture: GaussianMixture2D;
  /** The sha256 of the teacher's weights (from the manifest, checked): what its reference samples are cached under. */
  sha256: string;
  bundle: TeacherBundle;
}

export interface ShapesTeacher {
  teacher: ShapesDiT;
  textEncoder: TextEncoder;
  /** The sha256 of the DiT's weights: what its references are cached under. */
  sha256: string;
  bundle: TeacherBundle;
}

export async function loadToyTeacherBundle(engine: Engine, source: BundleSource): Promise<ToyTeacher> {
  const where = source.description ?? 'the teacher bundle';
  const loaded = await loadBundle(source);
  const { manifest, files } = loaded;
  const spec = manifest.checkpoints?.denoiser;
  if (manifest.architecture !== 'Toy2DTeacher' || !spec) throw new Error(`${where} is not a 2D toy teacher bundle (architecture ${manifest.architecture ?? 'not given'}, no engine checkpoint of its denoiser)`);
  const mixture = MIXTURES[manifest.name.replace(/^toy2d-/, '') as GaussianMixture2D['name']];
  if (!mixture) throw new Error(`${where}: no toy mixture named "${manifest.name}" (a toy teacher bundle is named toy2d-ring or toy2d-grid)`);
  const teacher = new Toy2DTeacher(engine, spec.config as object);
  loadModule(teacher, files.get(spec.path)!);
  return { teacher, mixture, sha256: manifest.files.find((f) => f.path === spec.path)!.sha256, bundle: teacherBundle(loaded) };
}

export async function loadShapesTeacherBundle(engine: Engine, source: BundleSource): Promise<ShapesTeacher> {
  const where = source.description ?? 'the teacher bundle';
  const loaded = await loadBundle(source);
  const { manifest, files } = loaded;
  const { denoiser, textEncoder } = manifest.checkpoints ?? {};
  if (manifest.architecture !== 'ShapesDiT' || !denoiser || !textEncoder) {
    throw new Error(`${where} is not a Shapes teacher bundle (architecture ${manifest.architecture ?? 'not given'}; distillation needs the engine checkpoints of its DiT and text encoder)`);
  }
  const teacher = new ShapesDiT(engine, denoiser.config as object);
  const encoder = new TextEncoder(engine, textEncoder.config as object);
  try {
    loadModule(teacher, files.get(denoiser.path)!);
    loadModule(encoder, files.get(textEncoder.path)!);
  } catch (error) {
    teacher.dispose();
    encoder.dispose();
    throw new Error(`${where}: its checkpoints do not load (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  return { teacher, textEncoder: encoder, sha256: manifest.files.find((f) => f.path === denoiser.path)!.sha256, bundle: teacherBundle(loaded) };
}

export async function loadEvaluatorFile(engine: Engine, source: BundleSource, path: string, sha256: string): Promise<AttributeEvaluator> {
  const bytes = await source.read(path);
  const hash = await sha256Hex(bytes);
  if (hash !== sha256) throw new Error(`${source.description ?? ''}${path}: sha256 ${hash} is not the expected ${sha256}; the evaluator file is damaged or from another build (reload the page)`);
  return loadEvaluator(engine, bytes);
}
