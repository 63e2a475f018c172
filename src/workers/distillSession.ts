// One distillation run of the Distill tab, as the worker holds it: the SenseFlowDistiller of a 2D toy teacher, the
// loop that runs its iterations until paused, and what it reports: progress in batches (every PROGRESS_MS, with the
// iterations' metrics), figures and an evaluation every `figureEvery` iterations and on pause or a single step, a
// checkpoint every `checkpointEvery` iterations and on pause. Framework-free (no Comlink, no IndexedDB): the worker
// wires it to both, and a Node test runs it on Dawn with an in-memory checkpoint store.
import { distillConfig, servedStepCounts } from '../distill/config';
import { type IterationMetrics, SenseFlowDistiller } from '../distill/senseflow';
import { evaluateToy, referenceGuidance, TOY_EVAL, type ToyEvaluation, toyTeacherReference } from '../distill/toyEval';
import { type ToyCondition, toyTask } from '../distill/toyTask';
import type { Toy2DTeacher } from '../nets/toy2d';
import type { DistillEvent, OpenedRun, RunSettings, SavedRun, WorkerRunState } from './distillApi';
import { runKey, stableJson } from './distillApi';
import type { SavedRunData } from './distillCheckpoints';
import { figureLabels, referenceLabels, studentFigure } from './distillFigures';
import type { ToyTeacher } from './distillTeacher';

/** Progress events while running: at most one per this many milliseconds. */
export const PROGRESS_MS = 250;
/** Per-iteration metrics a run keeps (and saves with its checkpoint); older ones are dropped. */
export const MAX_KEPT_METRICS = 50_000;

/** Where checkpoints go: IndexedDB in the worker (distillCheckpoints.ts), a Map in tests. */
export interface CheckpointStore {
  load(key: string): Promise<{ run: SavedRun; data: SavedRunData } | null>;
  save(run: SavedRun, data: SavedRunData): Promise<void>;
  delete(key: string): Promise<void>;
  /** The teacher's reference samples saved under `key` (toyReference), if any. */
  loadReference(key: string): Promise<Float32Array | null>;
  saveReference(key: string, points: Float32Array): Promise<void>;
}

/** Reference samples computed or loaded in this worker, by key: reopening a run (reset, resume) skips them. */
const references = new Map<string, Float32Array>();

/**
 * The teacher's reference samples at the run's guidance (toyEval.ts toyTeacherReference): from memory, from the
 * store, or computed and stored. They depend only on the teacher's weights, the guidance and the evaluation's seed
 * and size, which make the key.
 */
async function toyReference(toy: ToyTeacher, guidance: number, store: CheckpointStore, report: (event: DistillEvent) => void): Promise<Float32Array> {
  const key = stableJson({ teacher: toy.sha256, guidance, seed: TOY_EVAL.seed, samplesPerLabel: TOY_EVAL.samplesPerLabel, steps: TOY_EVAL.teacherSteps });
  const known = references.get(key) ?? (await store.loadReference(key).catch(() => null));
  if (known) {
    references.set(key, known);
    return known;
  }
  report({ type: 'loading', what: `Sampling the teacher (${TOY_EVAL.teacherSteps} Euler steps; once per teacher and guidance)` });
  const reference = await toyTeacherReference(toyTask(toy.teacher, toy.mixture), toy.mixture, guidance);
  references.set(key, reference);
  await store.saveReference(key, reference).catch(() => undefined); // only a cache
  return reference;
}

type ToyDistiller = SenseFlowDistiller<Toy2DTeacher, ToyCondition>;

const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class DistillSession {
  private running = false;
  private loop: Promise<void> | null = null;
  private closed = false;
  private savedIteration: number;
  private elapsedBefore: number;
  private runningSince: number | null = null;
  private readonly labels: Uint32Array;
  private readonly stepCounts: number[];

  private constructor(
    private readonly distiller: ToyDistiller,
    private readonly toy: ToyTeacher,
    private readonly reference: Float32Array,
    readonly settings: RunSettings,
    private readonly store: CheckpointStore,
    private readonly report: (event: DistillEvent) => void,
    private readonly metrics: IterationMetrics[],
    private readonly evaluations: ToyEvaluation[],
    elapsedSeconds: number,
  ) {
    this.savedIteration = distiller.iteration;
    this.elapsedBefore = elapsedSeconds;
    this.labels = figureLabels(toy.mixture);
    this.stepCounts = servedStepCounts(distiller.config);
  }

  /** Makes the run (resuming its saved checkpoint when asked and there is one) and sends its first figures. */
  static async open(toy: ToyTeacher, settings: RunSettings, resume: boolean, store: CheckpointStore, report: (event: DistillEvent) => void): Promise<{ session: DistillSession; opened: OpenedRun }> {
    // The page checked the settings already; checking again here names the bad one if a caller did not.
    const config = distillConfig(null, settings.config);
    if (config.ganWeight > 0) throw new Error('The GAN term reads the attribute evaluator of the Shapes task; the 2D toy runs without it (GAN weight 0).');
    const task = toyTask(toy.teacher, toy.mixture);
    const distiller = new SenseFlowDistiller(task, config, settings.seed);
    try {
      const saved = resume ? await store.load(runKey(settings)) : null;
      if (saved) {
        report({ type: 'loading', what: `Restoring the checkpoint of iteration ${saved.run.iteration}` });
        distiller.restore(saved.data.checkpoint);
      }
      const reference = await toyReference(toy, referenceGuidance(config), store, report);
      const metrics = saved ? saved.data.metrics.filter((m) => m.iteration < saved.run.iteration) : [];
      const evaluations = saved ? saved.data.evaluations.filter((e) => e.iteration <= saved.run.iteration) : [];
      const session = new DistillSession(distiller, toy, reference, settings, store, report, metrics, evaluations, saved?.run.elapsedSeconds ?? 0);
      report({ type: 'loading', what: 'Drawing the figures' });
      await session.sendFigures();
      const opened: OpenedRun = {
        iteration: distiller.iteration,
        adapter: '',
        resumed: saved !== null,
        elapsedSeconds: session.elapsedSeconds(),
        teacher: referenceLabels(toy.mixture, reference),
        stepCounts: session.stepCounts,
        history: { metrics: [...session.metrics], evaluations: [...session.evaluations] },
      };
      return { session, opened };
    } catch (error) {
      distiller.dispose();
      throw error;
    }
  }

  get iteration(): number {
    return this.distiller.iteration;
  }

  get state(): WorkerRunState {
    return this.running ? 'running' : this.iteration >= this.settings.iterations ? 'done' : 'paused';
  }

  elapsedSeconds(): number {
    return this.elapsedBefore + (this.runningSince === null ? 0 : (performance.now() - this.runningSince) / 1000);
  }

  start(): void {
    if (this.closed) throw new Error('This run was closed; open it again.');
    if (this.running) return;
    if (this.iteration >= this.settings.iterations) throw new Error(`The run has reached its last iteration (${this.settings.iterations}); raise "Stop at" to go on.`);
    this.running = true;
    this.runningSince = performance.now();
    this.report({ type: 'state', state: 'running', iteration: this.iteration });
    this.loop = this.runLoop();
  }

  async pause(): Promise<number> {
    if (!this.running) return this.iteration;
    this.running = false;
    await this.loop;
    return this.iteration;
  }

  async step(): Promise<number> {
    if (this.running) throw new Error('The run is running: pause it before stepping.');
    if (this.closed) throw new Error('This run was closed; open it again.');
    if (this.iteration >= this.settings.iterations) throw new Error(`The run has reached its last iteration (${this.settings.iterations}); raise "Stop at" to go on.`);
    const started = performance.now();
    const metrics = await this.distiller.step();
    this.keep(metrics);
    const seconds = (performance.now() - started) / 1000;
    this.elapsedBefore += seconds;
    this.report({ type: 'progress', iteration: this.iteration, iterationsPerSecond: 1 / seconds, elapsedSeconds: this.elapsedSeconds(), metrics: [metrics] });
    await this.sendFigures();
    this.report({ type: 'state', state: this.state, iteration: this.iteration });
    return this.iteration;
  }

  async close(discard: boolean): Promise<void> {
    if (this.closed) return;
    await this.pause().catch(() => undefined);
    this.closed = true;
    this.distiller.dispose();
    this.toy.teacher.dispose();
    if (discard) await this.store.delete(runKey(this.settings));
  }

  private keep(metrics: IterationMetrics): void {
    this.metrics.push(metrics);
    if (this.metrics.length > MAX_KEPT_METRICS) this.metrics.splice(0, this.metrics.length - MAX_KEPT_METRICS);
  }

  private async runLoop(): Promise<void> {
    let pending: IterationMetrics[] = [];
    let windowStart = performance.now();
    let windowIterations = 0;
    let lastRate = 0;
    const sendProgress = () => {
      const now = performance.now();
      if (windowIterations > 0) lastRate = windowIterations / ((now - windowStart) / 1000);
      this.report({ type: 'progress', iteration: this.iteration, iterationsPerSecond: lastRate, elapsedSeconds: this.elapsedSeconds(), metrics: pending });
      pending = [];
      windowStart = now;
      windowIterations = 0;
    };
    try {
      while (this.running && this.iteration < this.settings.iterations) {
        const metrics = await this.distiller.step();
        this.keep(metrics);
        pending.push(metrics);
        windowIterations++;
        const t = this.iteration;
        const figures = t % this.settings.figureEvery === 0;
        const checkpoint = t % this.settings.checkpointEvery === 0;
        if (figures || checkpoint || performance.now() - windowStart >= PROGRESS_MS) {
          sendProgress();
          // Back to the event loop now and then, so a pause (a message) is read promptly.
          await yieldToEvents();
        }
        if (figures) await this.sendFigures();
        if (checkpoint) await this.saveCheckpoint();
        // Figures and checkpoints are not iterations: keep them out of the rate.
        if (figures || checkpoint) windowStart = performance.now();
      }
      this.stopClock();
      sendProgress();
      const finalFigures = this.iteration % this.settings.figureEvery !== 0;
      if (finalFigures) await this.sendFigures();
      if (this.iteration !== this.savedIteration) await this.saveCheckpoint();
      this.report({ type: 'state', state: this.iteration >= this.settings.iterations ? 'done' : 'paused', iteration: this.iteration });
    } catch (error) {
      this.stopClock();
      if (pending.length > 0) sendProgress();
      this.report({ type: 'error', message: error instanceof Error ? error.message : String(error), iteration: this.iteration });
    } finally {
      this.running = false;
    }
  }

  private stopClock(): void {
    this.elapsedBefore = this.elapsedSeconds();
    this.runningSince = null;
  }

  private async sendFigures(): Promise<void> {
    this.report({ type: 'figure', figure: await studentFigure(this.distiller, this.labels, this.stepCounts) });
    const evaluation = await evaluateToy(this.distiller, this.toy.mixture, this.reference);
    const previous = this.evaluations.at(-1);
    if (previous?.iteration === evaluation.iteration) this.evaluations.pop();
    this.evaluations.push(evaluation);
    this.report({ type: 'evaluation', evaluation });
  }

  private async saveCheckpoint(): Promise<void> {
    const checkpoint = await this.distiller.checkpoint();
    const key = runKey(this.settings);
    const run: SavedRun = {
      key,
      identity: { task: this.settings.task, seed: this.settings.seed, config: this.settings.config },
      iteration: checkpoint.iteration,
      savedAt: Date.now(),
      elapsedSeconds: this.elapsedSeconds(),
    };
    try {
      await this.store.save(run, { checkpoint, metrics: [...this.metrics], evaluations: [...this.evaluations] });
      this.savedIteration = checkpoint.iteration;
      this.report({ type: 'checkpoint', iteration: checkpoint.iteration, savedAt: run.savedAt });
    } catch (error) {
      this.report({ type: 'warning', message: error instanceof Error ? error.message : String(error) });
    }
  }
}
