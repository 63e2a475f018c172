// The distillation worker's interface, shared by the worker (distill.worker.ts) and the page (distillClient.ts,
// state/distill.ts). Comlink carries the calls; everything here is structured-cloneable data, callbacks are Comlink
// proxies. One run lives in the worker at a time: open() loads it, start()/pause()/step() drive it, close() ends it.
import type { DistillConfig } from '../distill/config';
import type { IterationMetrics } from '../distill/senseflow';
import type { ToyEvaluation } from '../distill/toyEval';

/** The playground's tasks: the 2D toy mixtures (Shapes-32 needs a fast GPU and comes later). */
export const DISTILL_TASKS = ['ring', 'grid'] as const;
export type DistillTaskName = (typeof DISTILL_TASKS)[number];

/** What decides a run's trajectory: the same identity from the same checkpoint repeats the same iterations. */
export interface RunIdentity {
  task: DistillTaskName;
  seed: number;
  config: DistillConfig;
}

export interface RunSettings extends RunIdentity {
  /** The teacher bundle's folder URL (absolute: the worker's own location is not the page's). */
  teacherUrl: string;
  /** The run stops (state "done") when it reaches this iteration. */
  iterations: number;
  /** Iterations between checkpoints written to IndexedDB (a pause writes one too). */
  checkpointEvery: number;
  /** Iterations between figure updates and evaluations (a pause and a single step send them too). */
  figureEvery: number;
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
}

export interface DistillFigure {
  iteration: number;
  /** The label of each student point (shared by every step count). */
  labels: Uint32Array;
  students: StudentFigure[];
}

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
  | { type: 'figure'; figure: DistillFigure }
  | { type: 'evaluation'; evaluation: ToyEvaluation }
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
  /** The teacher's reference samples (100 Euler steps; also what the energy distance compares against). */
  teacher: PointSet;
  /** The served step counts of the student (1, 2, 4 for 4 anchors). */
  stepCounts: number[];
  /** A resumed run's metrics and evaluations up to its checkpoint (empty for a new run). */
  history: { metrics: IterationMetrics[]; evaluations: ToyEvaluation[] };
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
  /** Ends the open run; with `discard` its saved checkpoint is deleted too. */
  close(discard: boolean): Promise<void>;
}
