// One distillation run of the Distill tab, as the worker holds it: a task's run (distillRun.ts: the 2D toy in
// distillToy.ts, Shapes in distillShapes.ts), the loop that runs its iterations until paused, and what it reports:
// progress in batches (every PROGRESS_MS, with the iterations' metrics), figures and an evaluation every `figureEvery`
// iterations and on pause or a single step, a checkpoint every `checkpointEvery` iterations and on pause.
// Framework-free (no Comlink, no IndexedDB): the worker wires it to both, and a Node test runs it on Dawn with an
// in-memory checkpoint store.
import { servedStepCounts } from '../distill/config';
import type { IterationMetrics } from '../distill/senseflow';
import type { DistillEvent, OpenedRun, RunEvaluation, RunSettings, SavedRun, WorkerRunState } from './distillApi';
import { runKey } from './distillApi';
import type { Manifest } from '../pipeline/manifest';
import type { SavedRunData } from './distillCheckpoints';
import type { FigureOptions, PlaygroundRun, ReferenceStore } from './distillRun';

/** What can change in an open run: where it stops, and how often it checkpoints and draws. */
export type Cadence = Pick<RunSettings, 'iterations' | 'checkpointEvery' | 'figureEvery'>;

/** Progress events while running: at most one per this many milliseconds. */
export const PROGRESS_MS = 250;
/** Per-iteration metrics a run keeps (and saves with its checkpoint); older ones are dropped. */
export const MAX_KEPT_METRICS = 50_000;

/** Where checkpoints go: IndexedDB in the worker (distillCheckpoints.ts), a Map in tests. */
export interface CheckpointStore extends ReferenceStore {
  load(key: string): Promise<{ run: SavedRun; data: SavedRunData } | null>;
  save(run: SavedRun, data: SavedRunData): Promise<void>;
  delete(key: string): Promise<void>;
}

const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class DistillSession {
  private running = false;
  private loop: Promise<void> | null = null;
  private closed = false;
  private savedIteration: number;
  private elapsedBefore: number;
  private runningSince: number | null = null;
  private readonly stepCounts: number[];
  private figureOptions: FigureOptions;

  private constructor(
    private readonly run: PlaygroundRun,
    private runSettings: RunSettings,
    private readonly store: CheckpointStore,
    private readonly report: (event: DistillEvent) => void,
    private readonly metrics: IterationMetrics[],
    private readonly evaluations: RunEvaluation[],
    elapsedSeconds: number,
  ) {
    this.savedIteration = run.distiller.iteration;
    this.elapsedBefore = elapsedSeconds;
    this.stepCounts = servedStepCounts(run.distiller.config);
    this.figureOptions = { fakeScore: runSettings.fakeScoreFigure ?? false };
  }

  /**
   * Takes over a task's run (resuming its saved checkpoint when asked and there is one) and sends its first figures.
   * On failure the run is disposed.
   */
  static async open(run: PlaygroundRun, settings: RunSettings, resume: boolean, store: CheckpointStore, report: (event: DistillEvent) => void): Promise<{ session: DistillSession; opened: OpenedRun }> {
    try {
      const saved = resume ? await store.load(runKey(settings)) : null;
      if (saved) {
        report({ type: 'loading', what: `Restoring the checkpoint of iteration ${saved.run.iteration}` });
        run.distiller.restore(saved.data.checkpoint);
      }
      const metrics = saved ? saved.data.metrics.filter((m) => m.iteration < saved.run.iteration) : [];
      const evaluations = saved ? saved.data.evaluations.filter((e) => e.iteration <= saved.run.iteration) : [];
      const session = new DistillSession(run, settings, store, report, metrics, evaluations, saved?.run.elapsedSeconds ?? 0);
      report({ type: 'loading', what: 'Drawing the figures' });
      await session.sendFigures();
      const opened: OpenedRun = {
        iteration: run.distiller.iteration,
        adapter: '',
        resumed: saved !== null,
        elapsedSeconds: session.elapsedSeconds(),
        teacher: run.teacher,
        teacherImages: run.teacherImages,
        profile: run.profile,
        stepCounts: session.stepCounts,
        history: { metrics: [...session.metrics], evaluations: [...session.evaluations] },
      };
      return { session, opened };
    } catch (error) {
      run.dispose();
      throw error;
    }
  }

  get settings(): RunSettings {
    return this.runSettings;
  }

  /** A new last iteration and cadence (they do not change the trajectory): a finished run can go on. */
  setCadence(cadence: Cadence): void {
    for (const [name, value] of Object.entries(cadence)) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of at least 1, not ${value}.`);
    }
    this.runSettings = { ...this.runSettings, ...cadence };
  }

  /** Which optional parts the next figures draw; with `redraw`, sends a figure now (a paused run's toggles show at once). */
  async setFigureOptions(options: FigureOptions, redraw: boolean): Promise<void> {
    this.figureOptions = { ...options };
    if (redraw && !this.running && !this.closed) this.report({ type: 'figure', figure: await this.run.figure(this.figureOptions) });
  }

  private get distiller() {
    return this.run.distiller;
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

  /** The generator now as a model bundle (a paused or finished run only: the weights must hold still). */
  async exportStudent(name: string, adapter: string): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
    if (this.running) throw new Error('Pause the run before exporting its student.');
    if (this.closed) throw new Error('This run was closed; open it again.');
    return this.run.exportStudent(name, { settings: this.settings, adapter, elapsedSeconds: this.elapsedSeconds(), evaluation: this.evaluations.at(-1) ?? null });
  }

  async close(discard: boolean): Promise<void> {
    if (this.closed) return;
    await this.pause().catch(() => undefined);
    this.closed = true;
    this.run.dispose();
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
    this.report({ type: 'figure', figure: await this.run.figure(this.figureOptions) });
    const evaluation = await this.run.evaluate();
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
