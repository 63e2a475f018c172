// The distillation worker's interface, shared by the worker (distill.worker.ts) and the page (distillClient.ts,
// state/distill.ts). Comlink carries the calls; everything here is structured-cloneable data, callbacks are Comlink
// proxies. One run lives in the worker at a time: open() loads it, start()/pause()/step() drive it, close() ends it.
import type { DistillConfig } from '../distill/config';
import type { IterationMetrics } from '../distill/senseflow';
import type { Manifest } from '../pipeline/manifest';
import type { TimestepProfile } from '../distill/timestepProfile';
import type { ToyEvaluation } from '../distill/toyEval';

/** The playground's tasks: the 2D toy mixtures, and Shapes-32 (text to 32x32 images; slow without a real GPU). */
export const DISTILL_TASKS = ['ring', 'grid', 'shapes'] as const;
export type DistillTaskName = (typeof DISTILL_TASKS)[number];
export type ToyTaskName = Exclude<DistillTaskName, 'shapes'>;
export const isToyTask = (task: DistillTaskName): task is ToyTaskName => task !== 'shapes';

/** What decides a run's trajectory: the same identity from the same checkpoint repeats the same iterations. */
export interface RunIdentity {
  task: DistillTaskName;
  seed: number;
  config: DistillConfig;
}

export interface RunSettings extends RunIdentity {
  /** The teacher bundle's folder URL (absolute: the worker's own location is not the page's). */
  teacherUrl: string;
  /** Shapes: the attribute evaluator's weights (URL, sha256), which read the student's images (prompt accuracy, FD-T). */
  evaluator?: { url: string; sha256: string };
  /** The run stops (state "done") when it reaches this iteration. */
  iterations: number;
  /** Iterations between checkpoints written to IndexedDB (a pause writes one too). */
  checkpointEvery: number;
  /** Iterations between figure updates and evaluations (a pause and a single step send them too). */
  figureEvery: number;
  /** Shapes: the captions an evaluation generates and reads per step count (default SHAPES_PLAYGROUND's 64). */
  evalCaptions?: number;
  /** 2D toy: whether figures include the fake score's own samples (they cost ~40% of a figure; default false). */
  fakeScoreFigure?: boolean;
}

/** JSON with object keys sorted at every level, so equal settings give equal strings whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The key a run's checkpoint is saved under: its identity (task, seed, every distillation setting). */
export function runKey(identity: RunIdentity): string {
  return stableJson({ task: identity.task, seed: identity.seed, config: identity.config });
}

/** Points of one set of figure samples: [n, 2] row-major, with each point's label. */
export interface PointSet {
  points: Float32Array;
  labels: Uint32Array;
}

/** The student at one step count: its samples, and on each the DMD update arrow. */
export interface StudentFigure {
  steps: number;
  /** [n, 2]. */
  points: Float32Array;
  /**
   * [n, 2]: x0_real - x0_fake at the sample noised to a few mid noise levels (averaged), the direction DMD moves the
   * sample (minus its gradient, before the per-sample normaliser).
   */
  arrows: Float32Array;
  /** The sampler's path of some of these samples (absent where the figure leaves them out). */
  trajectories?: StudentTrajectories;
}

/**
 * The x0-renoise sampler's path (shared/DESIGN.md) of some of a student's samples through its k steps: for each, the
 * state x_j it starts step j from (x_0 the noise) and the step's estimate x0_hat_j = x_j - s_j v(x_j), alternating.
 */
export interface StudentTrajectories {
  /** The figure points (indices into `labels` and the student's `points`) whose paths these are, [m]. */
  index: Uint32Array;
  /** The student's anchors s_0 > ... > s_{k-1}. */
  anchors: number[];
  /** [m, 2k, 2]: per sample x_0, x0_hat_0, x_1, x0_hat_1, ..., x0_hat_{k-1} (the last is the shown point). */
  points: Float32Array;
}

/** Samples of the fake score's own flow: the distribution it believes the student makes. */
export interface FakeScoreFigure {
  /** Euler steps from s = 1 to 0, without guidance (the fake score is trained without it). */
  steps: number;
  /** [n, 2], from the same noise and labels as the student's points. */
  points: Float32Array;
}

export interface DistillFigure {
  iteration: number;
  /** The label of each student point (shared by every step count). */
  labels: Uint32Array;
  students: StudentFigure[];
  /** Absent where the figure leaves it out. */
  fakeScore?: FakeScoreFigure;
}

/** Images [n, channels, size, size] in [-1, 1] (the model's space), one per caption, row-major. */
export interface ImageGrid {
  captions: string[];
  /** The teacher's prompt accuracy on the evaluation's captions (of which these are the first). */
  promptAccuracy: number;
  channels: number;
  size: number;
  images: Float32Array;
}

/** Shapes: the student's images at each step count for the grid's fixed captions and seeds. */
export interface ShapesFigure {
  iteration: number;
  students: { steps: number; images: Float32Array }[];
}

/** Shapes: what an evaluation measures of the student (distillShapes.ts SHAPES_PLAYGROUND). */
export interface ShapesEvaluation {
  iteration: number;
  /** Captions (and seeds) per step count. */
  captions: number;
  steps: Record<string, { promptAccuracy: number; fdTeacher: number }>;
  parameterDistance: number;
}

export type RunFigure = DistillFigure | ShapesFigure;
export type RunEvaluation = ToyEvaluation | ShapesEvaluation;
export const isShapesFigure = (figure: RunFigure): figure is ShapesFigure => !('labels' in figure);
export const isShapesEvaluation = (evaluation: RunEvaluation): evaluation is ShapesEvaluation => !('fakeTrackingError' in evaluation);

export type WorkerRunState = 'paused' | 'running' | 'done';

/** What an open run reports, in batches (never one message per iteration). */
export type DistillEvent =
  | { type: 'loading'; what: string }
  | {
      type: 'progress';
      iteration: number;
      /** Over the last batch of iterations. */
      iterationsPerSecond: number;
      /** Time spent running (pauses excluded), including before a resume. */
      elapsedSeconds: number;
      /** The iterations since the last progress event, in order. */
      metrics: IterationMetrics[];
    }
  | { type: 'figure'; figure: RunFigure }
  | { type: 'evaluation'; evaluation: RunEvaluation }
  | { type: 'checkpoint'; iteration: number; savedAt: number }
  | { type: 'state'; state: WorkerRunState; iteration: number }
  /** Something went wrong that does not stop the run (a checkpoint could not be saved). */
  | { type: 'warning'; message: string }
  /** The running loop failed; the run is paused at `iteration` (or unusable, if the GPU device was lost). */
  | { type: 'error'; message: string; iteration: number };

export interface OpenedRun {
  iteration: number;
  /** The adapter, in words ("SwiftShader Device (Subzero)", ...). */
  adapter: string;
  /** Whether it continued from a saved checkpoint. */
  resumed: boolean;
  elapsedSeconds: number;
  /** 2D toy: the teacher's reference samples (100 Euler steps; also what the energy distance compares against). */
  teacher: PointSet | null;
  /** Shapes: the teacher's images for the figure grid's captions and seeds. */
  teacherImages: ImageGrid | null;
  /** The teacher's reconstruction error over the noise level (timestepProfile.ts). */
  profile: TimestepProfile;
  /** The served step counts of the student (1, 2, 4 for 4 anchors). */
  stepCounts: number[];
  /** A resumed run's metrics and evaluations up to its checkpoint (empty for a new run). */
  history: { metrics: IterationMetrics[]; evaluations: RunEvaluation[] };
}

/** A saved checkpoint, as listed without its bytes. */
export interface SavedRun {
  key: string;
  identity: RunIdentity;
  iteration: number;
  savedAt: number;
  elapsedSeconds: number;
}

export interface DistillWorkerApi {
  /**
   * Acquires WebGPU (once), loads the teacher, makes the distiller, and with `resume` restores the run's saved
   * checkpoint when there is one; sends the figures and the evaluation of where it starts. Replaces an open run.
   * Rejects with a message for the user (no WebGPU, a damaged teacher bundle, invalid settings).
   */
  open(settings: RunSettings, resume: boolean, onEvent: (event: DistillEvent) => void): Promise<OpenedRun>;
  /** Runs iterations until pause(), close() or the settings' last iteration. Returns at once. */
  start(): void;
  /** Stops after the current iteration, sends figures, an evaluation and a checkpoint; resolves with the iteration. */
  pause(): Promise<number>;
  /** One iteration (paused runs only), then figures and an evaluation; resolves with the new iteration. */
  step(): Promise<number>;
  /**
   * The open run's generator as a model bundle (pipeline/studentBundle.ts) named `name`: its files by path,
   * manifest.json included. The run must be paused or done.
   */
  exportStudent(name: string): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }>;
  /** Whether the open run's figures include the fake score's samples; a paused run sends a figure with them at once. */
  setFigureOptions(options: { fakeScore: boolean }): Promise<void>;
  /** Sets where the open run stops and its cadence (a finished run goes on after raising its last iteration). */
  setCadence(cadence: Pick<RunSettings, 'iterations' | 'checkpointEvery' | 'figureEvery'>): Promise<void>;
  /** Ends the open run; with `discard` its saved checkpoint is deleted too. */
  close(discard: boolean): Promise<void>;
}
