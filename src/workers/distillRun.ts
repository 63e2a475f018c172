// One task's side of a Distill tab run, as the session (distillSession.ts) drives it: the distiller, what the tab
// draws once (the teacher's samples or images, its reconstruction error over the noise level), and what it redraws and
// measures at intervals (the student's figure, an evaluation). distillToy.ts makes one for the 2D toy mixtures,
// distillShapes.ts for Shapes-32.
import { servedStepCounts } from '../distill/config';
import { pairGuidance, regressionChunks, TEACHER_STEPS, TeacherPairs, trajectorySigmas } from '../distill/regression';
import type { SenseFlowDistiller } from '../distill/senseflow';
import type { TimestepProfile } from '../distill/timestepProfile';
import { anchorSigmas } from '../flow/schedule';
import { type ParameterValues, readParameters } from '../onnx/graph';
import type { Module } from '../nn/module';
import { saveModule } from '../nn/safetensors';
import type { Kept } from '../nn/tensor';
import type { JsonValue, Manifest } from '../pipeline/manifest';
import { studentBundle } from '../pipeline/studentBundle';
import type { DistillEvent, ImageGrid, PointSet, RunEvaluation, RunFigure, RunSettings } from './distillApi';
import { stableJson } from './distillApi';
import type { TeacherBundle } from './distillTeacher';

export interface PlaygroundRun {
  readonly distiller: SenseFlowDistiller<Module, Kept>;
  readonly teacher: PointSet | null;
  readonly teacherImages: ImageGrid | null;
  readonly profile: TimestepProfile;
  /** The student's figure now (on the GPU; read back), with the optional parts the page shows. */
  figure(options: FigureOptions): Promise<RunFigure>;
  evaluate(): Promise<RunEvaluation>;
  /**
   * The student now (the generator, or its moving average) as a model bundle (pipeline/studentBundle.ts); `about` says
   * where and how it was trained.
   */
  exportStudent(name: string, about: StudentAbout): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }>;
  /** Frees the distiller's networks and the frozen ones (teacher, text encoder, evaluator). */
  dispose(): void;
}

/** Parts of a figure that cost GPU time and are drawn only when the page shows them. */
export interface FigureOptions {
  /** The 2D toy's fake-score samples. */
  fakeScore: boolean;
}

/** What the student's provenance and metrics say of the run it came from. */
export interface StudentAbout {
  settings: RunSettings;
  /** The adapter it trained on, in words. */
  adapter: string;
  /** Seconds of training. */
  elapsedSeconds: number;
  /** The latest evaluation, kept in the bundle's metrics as the playground measured it. */
  evaluation: RunEvaluation | null;
}

/** The student of a run as a bundle, its denoiser exported to ONNX by `toOnnx`. */
export async function exportGenerator(
  distiller: SenseFlowDistiller<Module, Kept>,
  teacher: TeacherBundle,
  toOnnx: (values: ParameterValues) => Uint8Array,
  name: string,
  about: StudentAbout,
): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const { config } = distiller;
  const { settings } = about;
  return studentBundle({
    name,
    teacher,
    denoiserOnnx: toOnnx(await readParameters(distiller.student)),
    denoiserWeights: await saveModule(distiller.student),
    anchors: Object.fromEntries(servedStepCounts(config).map((n) => [String(n), anchorSigmas(n, config.shift)])),
    shift: config.shift,
    provenance: {
      command: `the Distill tab of senseflow-web (${settings.task}, ${distiller.iteration} iterations)`,
      commit: __APP_COMMIT__,
      date: new Date().toISOString(),
      source: `distilled from ${teacher.manifest.name} (${teacher.manifest.denoiser.onnx} sha256 ${teacher.denoiserSha256}) in the browser`,
      seed: settings.seed,
      steps: distiller.iteration,
      wallSeconds: Math.round(about.elapsedSeconds),
      adapter: about.adapter,
    },
    metrics: { parameters: distiller.student.parameterCount(), ...(about.evaluation ? { playgroundEvaluation: about.evaluation as unknown as JsonValue } : {}) },
    distillation: JSON.parse(JSON.stringify(config)) as { [key: string]: JsonValue },
  });
}

/** Where the teachers' references are cached between runs (IndexedDB in the worker, a Map in tests). */
export interface ReferenceStore {
  loadReference(key: string): Promise<Float32Array | null>;
  saveReference(key: string, values: Float32Array): Promise<void>;
}

/** References computed or loaded in this worker, by key: reopening a run (reset, resume) skips them. */
const memory = new Map<string, Float32Array>();

/**
 * A reference that depends only on what `key` names (the teacher's weights, the guidance, the measurement's seed and
 * size): from memory, from the store, or computed (saying so, since it is the slow part of opening a run on a
 * software adapter) and stored.
 */
export async function cachedReference(key: Record<string, unknown>, store: ReferenceStore, what: string, report: (event: DistillEvent) => void, compute: () => Promise<Float32Array>): Promise<Float32Array> {
  const id = stableJson(key);
  const known = memory.get(id) ?? (await store.loadReference(id).catch(() => null));
  if (known) {
    memory.set(id, known);
    return known;
  }
  report({ type: 'loading', what });
  const values = await compute();
  memory.set(id, values);
  await store.saveReference(id, values).catch(() => undefined); // only a cache
  return values;
}

/**
 * With the regression term (config.regressionWeight > 0): the teacher's noise -> sample pairs (distill/regression.ts),
 * integrated once per teacher, seed, batch, pair count and guidance and cached like the references, so reopening a
 * run (reset, resume) does not integrate the teacher again; without it the distiller would make them silently on its
 * first generator step.
 */
export async function prepareRegressionPairs(distiller: SenseFlowDistiller<Module, Kept>, teacherSha256: string, store: ReferenceStore, report: (event: DistillEvent) => void): Promise<void> {
  const { config, seed } = distiller;
  if ((config.regressionWeight ?? 0) <= 0) return;
  const chunks = regressionChunks(config);
  // With trajectory points (regressionAnchors 'all', settable from a settings file) their noise levels join the key;
  // without them the key is what it was, so pairs cached before the option are found again.
  const pointSigmas = trajectorySigmas(config);
  const key = { kind: 'regression-pairs', teacher: teacherSha256, seed, batch: config.batch, chunks, guidance: pairGuidance(config), steps: TEACHER_STEPS, ...(pointSigmas.length > 0 ? { pointSigmas } : {}) };
  const what = `Integrating the teacher for the regression term (${chunks * config.batch} pairs, ${TEACHER_STEPS} Euler steps each; once per teacher, seed and batch)`;
  const packed = await cachedReference(key, store, what, report, async () => (await distiller.teacherPairs()).pack());
  distiller.regressionPairs ??= TeacherPairs.unpack(packed, config, seed);
}

/** A profile as one array for the cache: sigmas then errors. */
export const packProfile = (p: TimestepProfile): Float32Array => Float32Array.from([...p.sigmas, ...p.error]);
export function unpackProfile(values: Float32Array): TimestepProfile {
  const n = values.length / 2;
  return { sigmas: Array.from(values.subarray(0, n)), error: Array.from(values.subarray(n)) };
}
