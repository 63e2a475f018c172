// A distilled student as a model bundle (manifest.ts), in memory: what `npm run export` writes to a folder and what
// the Distill tab's Export downloads and "Open in Generate" caches. One builder for both, so a student from the
// browser and one from the CLI are the same kind of bundle:
// - the student's denoiser: its ONNX export and its engine weights (the playground can start from them again),
//   with the teacher's architecture (checkpoints.denoiser.config);
// - steps.schedule 'anchors': the noise levels each served step count starts its steps from; the pipeline samples
//   it with x0-renoise. Guidance is distilled in: guidance.default 1 (one denoiser row per image);
// - Shapes: the teacher's frozen text encoder (ONNX, checkpoint, tokenizer), copied byte for byte; the 2D toy: the
//   teacher's labels.
// Every file is hashed and the result validated exactly as loadBundle will (sizes, hashes, ONNX interfaces).
import { SHAPES_DIT_NAMES, TOY2D_NAMES } from '../onnx/exportNets';
import { FORMAT_VERSION } from './bundleFields';
import type { ManifestDraft } from './bundleWrite';
import { fileEntry, type JsonValue, MANIFEST_FILE, type Manifest, type Metrics, type Provenance, type Steps, validateManifest } from './manifest';


export interface StudentBundleInput {
  name: string;
  /** The teacher's bundle: its manifest, and its files (a Shapes teacher's text encoder files are copied from here). */
  teacher: { manifest: Manifest; files: ReadonlyMap<string, Uint8Array>; denoiserSha256: string };
  denoiserOnnx: Uint8Array;
  /** The student's weights as safetensors (engine parameter names). */
  denoiserWeights: Uint8Array;
  /** The noise levels per served step count, already shifted: {"1": [1], "2": [1, 0.75], ...}. */
  anchors: Record<string, number[]>;
  shift: number;
  /** Where it came from: the command or the page, the commit, the run's seed, iterations, adapter... */
  provenance: Provenance;
  metrics: Metrics;
  /** The recipe's arm and hyper-parameters, kept in metrics.distillation. */
  distillation: { [key: string]: JsonValue };
}

/** Noise levels as the manifest keeps them: 12 significant digits. */
export const roundLevel = (s: number): number => Number(s.toPrecision(12));

/** The teacher's files a Shapes student ships unchanged: the text encoder's ONNX, external data, checkpoint and tokenizer. */
function textEncoderFiles(teacher: Manifest): string[] {
  const spec = teacher.textEncoder!;
  const checkpoint = teacher.checkpoints?.textEncoder;
  return [spec.onnx, ...(spec.externalData ?? []), ...(checkpoint ? [checkpoint.path] : []), ...teacher.files.map((f) => f.path).filter((p) => p.startsWith(`${spec.tokenizer}/`))];
}

export function studentDraft(input: StudentBundleInput): ManifestDraft {
  const { teacher } = input;
  const t = teacher.manifest;
  const denoiserCheckpoint = t.checkpoints?.denoiser;
  if (!denoiserCheckpoint) throw new Error(`the teacher ${t.name} has no checkpoints.denoiser, so the student's architecture is unknown`);
  const counts = Object.keys(input.anchors).map(Number).sort((a, b) => a - b);
  const steps: Steps = { default: counts[counts.length - 1]!, schedule: 'anchors', sigmas: Object.fromEntries(Object.entries(input.anchors).map(([n, levels]) => [n, levels.map(roundLevel)])) };
  const arm = typeof input.distillation.arm === 'string' ? ` (${input.distillation.arm})` : '';
  const common = {
    formatVersion: FORMAT_VERSION as 1,
    name: input.name,
    description: `Few-step student of ${t.name}${arm}: ${counts.join('/')} steps of x0-renoise at its anchors, guidance distilled in`,
    kind: 'flow' as const,
    steps,
    shift: input.shift,
    guidance: { default: 1 },
    provenance: input.provenance,
    metrics: { ...input.metrics, distillation: input.distillation },
    space: structuredClone(t.space),
  };
  if (t.architecture === 'ShapesDiT') {
    if (!t.textEncoder || !t.checkpoints?.textEncoder) throw new Error(`the teacher ${t.name} has no textEncoder or checkpoints.textEncoder; a Shapes teacher bundle has both`);
    return {
      ...common,
      architecture: 'ShapesDiT',
      conditioning: 'text',
      resolution: structuredClone(t.resolution!),
      textEncoder: structuredClone(t.textEncoder),
      denoiser: { onnx: 'denoiser.onnx', inputs: { ...SHAPES_DIT_NAMES.inputs }, outputs: { prediction: SHAPES_DIT_NAMES.outputs.velocity } },
      checkpoints: { textEncoder: structuredClone(t.checkpoints.textEncoder), denoiser: { path: 'denoiser.safetensors', config: structuredClone(denoiserCheckpoint.config) } },
    };
  }
  if (t.architecture === 'Toy2DTeacher') {
    return {
      ...common,
      architecture: 'Toy2DTeacher',
      conditioning: 'label',
      labels: [...(t.labels ?? [])],
      denoiser: { onnx: 'denoiser.onnx', inputs: { ...TOY2D_NAMES.inputs }, outputs: { prediction: TOY2D_NAMES.outputs.velocity } },
      checkpoints: { denoiser: { path: 'denoiser.safetensors', config: structuredClone(denoiserCheckpoint.config) } },
    };
  }
  throw new Error(`students of a ${t.architecture ?? 'foreign'} teacher cannot be exported (ShapesDiT and Toy2DTeacher can)`);
}

/** The files the bundle holds besides manifest.json, the teacher's copied ones checked against its manifest. */
export async function studentFiles(input: StudentBundleInput): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>([
    ['denoiser.onnx', input.denoiserOnnx],
    ['denoiser.safetensors', input.denoiserWeights],
  ]);
  const t = input.teacher.manifest;
  if (t.architecture === 'ShapesDiT') {
    for (const path of textEncoderFiles(t)) {
      const bytes = input.teacher.files.get(path);
      const entry = t.files.find((f) => f.path === path);
      if (!bytes || !entry) throw new Error(`the teacher ${t.name} lacks ${path}, which its student ships unchanged`);
      const facts = await fileEntry(path, bytes);
      if (facts.sha256 !== entry.sha256) throw new Error(`the teacher's ${path} has sha256 ${facts.sha256}, not the ${entry.sha256} its manifest lists: the teacher bundle changed; restore it before exporting`);
      files.set(path, bytes);
    }
  }
  return files;
}

/** The manifest (validated against the files) of `draft` and `files`. */
export async function finishBundle(draft: ManifestDraft, files: ReadonlyMap<string, Uint8Array>): Promise<Manifest> {
  const paths = [...files.keys()].sort();
  const entries = await Promise.all(paths.map((path) => fileEntry(path, files.get(path)!)));
  return validateManifest({ ...draft, files: entries }, files);
}

/** The whole bundle in memory: the manifest, and every file including manifest.json's bytes. */
export async function studentBundle(input: StudentBundleInput): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const files = await studentFiles(input);
  const manifest = await finishBundle(studentDraft(input), files);
  files.set(MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
  return { manifest, files };
}
