// The Distill surface: the settings form (kept across reloads in localStorage), the run as the tab shows it
// (idle / loading / running / paused / done / error, iteration, iterations per second, elapsed), the figures'
// data (the teacher's samples once, the student's samples and DMD arrows and the evaluations at intervals) and the
// saved checkpoint of the settings in the form, which "Resume" continues. Per-iteration metrics do not go through
// React state: progress batches go into `distillMetrics` (a ring buffer) and bump `metricsVersion`, which charts
// follow with useDistill.subscribe (STYLE.md, transient updates).
//
// The run's state is what the worker's 'state' events say (they arrive in order on one channel); the calls' own
// answers, on another channel, never set it, so a late answer cannot undo a newer event.
import { create } from 'zustand';
import bundledList from 'virtual:bundled-models';
import toyTeachers, { evaluator as evaluatorFile } from 'virtual:toy-teachers';
import type { TimestepProfile } from '../distill/timestepProfile';
import { type DistillEvent, type DistillTaskName, type ImageGrid, isToyTask, type OpenedRun, type PointSet, type RunEvaluation, type RunFigure, type RunIdentity, runKey, type RunSettings, type SavedRun } from '../workers/distillApi';
import { deleteSavedRun, listSavedRuns, savedRun } from '../workers/distillCheckpoints';
import { call, proxy } from '../workers/distillClient';
import { evaluationsCsv, metricsCsv, MetricsRing, runJson } from './distillMetrics';
import { zipSync } from 'fflate';
import type { Manifest } from '../pipeline/manifest';
import { useApp } from './app';
import { activePreset, DEFAULT_FORM, type DistillForm, formIdentity, formOf, readRunSettings, withPreset, withTask } from './distillSettings';
import { useGenerate } from './generate';
import { useModels } from './models';
import type { ArmName } from '../distill/config';
import { useSystem } from './system';

export type DistillRunState = 'idle' | 'loading' | 'running' | 'paused' | 'done' | 'error';

export interface DistillRunView {
  state: DistillRunState;
  /** loading: what is loading; error: what went wrong; otherwise a note ("Resumed from iteration 150."). */
  message: string | null;
  /** The next iteration to run (= iterations done). */
  iteration: number;
  iterationsPerSecond: number | null;
  elapsedSeconds: number;
  adapter: string | null;
  /** The last checkpoint saved this session. */
  checkpoint: { iteration: number; savedAt: number } | null;
  /** A problem that did not stop the run (a checkpoint not saved). */
  warning: string | null;
  /** A pause or a single step is under way. */
  pending: 'pause' | 'step' | null;
  /** The settings of the open run (null before the first Start). */
  identity: RunIdentity | null;
}

export interface FigureView {
  /** The student's step count shown in the scatter. */
  steps: number;
  /** The label whose samples are shown, or every label. */
  label: number | 'all';
  arrows: boolean;
  /** Arrows are drawn this many times their length (they start tiny). */
  arrowScale: number;
  /** The student's sampler paths. */
  trajectories: boolean;
  /** The fake score's own samples. */
  fakeScore: boolean;
}

/** What the store needs from the worker and from storage; tests put a fake one in (setDistillBackend). */
export interface DistillBackend {
  open(settings: RunSettings, resume: boolean, onEvent: (event: DistillEvent) => void): Promise<OpenedRun>;
  start(): Promise<void>;
  pause(): Promise<number>;
  step(): Promise<number>;
  close(discard: boolean): Promise<void>;
  exportStudent(name: string): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }>;
  setCadence(cadence: Pick<RunSettings, 'iterations' | 'checkpointEvery' | 'figureEvery'>): Promise<void>;
  setFigureOptions(options: { fakeScore: boolean }): Promise<void>;
  savedRun(key: string): Promise<SavedRun | null>;
  latestSavedRun(): Promise<SavedRun | null>;
  deleteSaved(key: string): Promise<void>;
}

const workerBackend: DistillBackend = {
  open: (settings, resume, onEvent) => call((w) => w.open(settings, resume, proxy(onEvent))),
  start: () => call((w) => w.start()),
  pause: () => call((w) => w.pause()),
  step: () => call((w) => w.step()),
  close: (discard) => call((w) => w.close(discard)),
  exportStudent: (name) => call((w) => w.exportStudent(name)),
  setCadence: (cadence) => call((w) => w.setCadence(cadence)),
  setFigureOptions: (options) => call((w) => w.setFigureOptions(options)),
  savedRun: (key) => savedRun(key),
  latestSavedRun: async () => (await listSavedRuns())[0] ?? null,
  deleteSaved: (key) => deleteSavedRun(key),
};

let backend: DistillBackend = workerBackend;

export function setDistillBackend(next: DistillBackend | null): void {
  backend = next ?? workerBackend;
}

/** Per-iteration metrics of the open run (the worker keeps as many). */
export const distillMetrics = new MetricsRing(50_000);

export interface DistillState {
  form: DistillForm;
  view: FigureView;
  run: DistillRunView;
  /** The saved checkpoint of the form's settings, when there is one. */
  saved: SavedRun | null;
  /** The newest saved run of other settings (offered when the form's settings have none). */
  otherSaved: SavedRun | null;
  stepCounts: number[];
  /** 2D toy: the teacher's samples. */
  teacher: PointSet | null;
  /** Shapes: the teacher's images of the figure's captions. */
  teacherImages: ImageGrid | null;
  /** The teacher's reconstruction error over the noise level. */
  profile: TimestepProfile | null;
  figure: RunFigure | null;
  evaluations: RunEvaluation[];
  /** Bumped whenever distillMetrics changes. */
  metricsVersion: number;
  /** The last export of the student (a download or "Open in Generate"). */
  studentExport: StudentExport;
  /** Runs kept to overlay on the charts (with and without IDA, say): their evaluations, by label. Kept across reloads. */
  comparisons: ComparedRun[];
  /** Keeps the open run's evaluations so far for comparison (at most MAX_COMPARISONS: the oldest goes). */
  keepForComparison(): void;
  removeComparison(label: string): void;

  setField<K extends keyof DistillForm>(name: K, value: DistillForm[K]): void;
  applyPreset(arm: ArmName): void;
  setView(view: Partial<FigureView>): void;
  /** Starts a new run (or goes on with the paused one). */
  start(): Promise<void>;
  /** Continues the form's saved run from its checkpoint. */
  resume(): Promise<void>;
  pause(): Promise<void>;
  /** One iteration (opening a new run first if none is open). */
  step(): Promise<void>;
  /** Ends the run and deletes its checkpoint. */
  reset(): Promise<void>;
  /** Puts the settings of the newest saved run (otherSaved) into the form. */
  loadOtherSaved(): void;
  refreshSaved(): Promise<void>;
  /**
   * Exports the open run's generator as a model bundle: 'download' saves it as a .zip of the bundle's folder;
   * 'generate' caches it in this browser and opens it in the Generate tab.
   */
  exportStudent(to: 'download' | 'generate'): Promise<void>;
}

export interface ComparedRun {
  /** "ring senseflow seed 1, to iteration 400". */
  label: string;
  task: DistillTaskName;
  evaluations: RunEvaluation[];
}

export const MAX_COMPARISONS = 3;
const COMPARISONS_KEY = 'senseflow-distill-comparisons';

function readComparisons(): ComparedRun[] {
  try {
    const stored = JSON.parse(storage()?.getItem(COMPARISONS_KEY) ?? '[]') as unknown;
    if (!Array.isArray(stored)) return [];
    return stored.filter((c): c is ComparedRun => typeof c?.label === 'string' && typeof c?.task === 'string' && Array.isArray(c?.evaluations)).slice(-MAX_COMPARISONS);
  } catch {
    return [];
  }
}

export type StudentExport = { state: 'idle' } | { state: 'working'; what: string } | { state: 'done'; name: string; message: string } | { state: 'error'; message: string };

/** The name a run's student is exported under: task, recipe and iteration ("ring-senseflow-seed1-it120"). */
export function studentName(identity: RunIdentity, iteration: number): string {
  const preset = activePreset(formOf(identity, DEFAULT_FORM)) ?? 'custom';
  return `${identity.task}-${preset}-seed${identity.seed}-it${iteration}`;
}

const IDLE: DistillRunView = { state: 'idle', message: null, iteration: 0, iterationsPerSecond: null, elapsedSeconds: 0, adapter: null, checkpoint: null, warning: null, pending: null, identity: null };
const DEFAULT_VIEW: FigureView = { steps: 1, label: 'all', arrows: true, arrowScale: 1, trajectories: true, fakeScore: false };
const STORAGE_KEY = 'senseflow-distill-settings';

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // some browsers throw when storage is disabled
  }
}

/** The form and view kept from the last visit; fields that are missing or of the wrong type take the defaults. */
function readStored(): { form: DistillForm; view: FigureView } {
  try {
    const stored = JSON.parse(storage()?.getItem(STORAGE_KEY) ?? '{}') as { form?: Record<string, unknown>; view?: Record<string, unknown> };
    const form = { ...DEFAULT_FORM } as Record<string, unknown>;
    for (const [key, value] of Object.entries(stored.form ?? {})) if (key in form && typeof value === typeof form[key]) form[key] = value;
    const view = { ...DEFAULT_VIEW } as Record<string, unknown>;
    for (const [key, value] of Object.entries(stored.view ?? {})) if (key in view && (typeof value === typeof view[key] || key === 'label')) view[key] = value;
    return { form: form as unknown as DistillForm, view: view as unknown as FigureView };
  } catch {
    return { form: { ...DEFAULT_FORM }, view: { ...DEFAULT_VIEW } };
  }
}

const absolute = (path: string) => new URL(`${import.meta.env.BASE_URL}${path}`, globalThis.location?.href ?? 'http://localhost/').href;

/** The teacher bundle's folder URL (absolute: the worker resolves it against its own script otherwise). */
export function teacherUrl(task: DistillTaskName): string {
  if (!isToyTask(task)) return absolute(bundledList.find((m) => (m.manifest as { name?: string }).name === 'shapes-teacher')?.path ?? 'models/shapes-teacher/');
  return absolute((toyTeachers as Record<string, string>)[task] ?? `models/toy2d/${task}/`);
}

/** The attribute evaluator's weights for a Shapes run (absolute URL and sha256). */
export function evaluatorSettings(): RunSettings['evaluator'] {
  return evaluatorFile ? { url: absolute(evaluatorFile.path), sha256: evaluatorFile.sha256 } : undefined;
}

/** Hands a file to the browser's downloads (a temporary link). */
function saveBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Evaluations by iteration, a newer one replacing one of the same iteration. */
function upsertEvaluations(list: readonly RunEvaluation[], more: readonly RunEvaluation[]): RunEvaluation[] {
  const byIteration = new Map(list.map((e) => [e.iteration, e]));
  for (const e of more) byIteration.set(e.iteration, e);
  return [...byIteration.values()].sort((a, b) => a.iteration - b.iteration);
}

/** The form's fields an open run takes changes of (DistillWorkerApi.setCadence). */
export const CADENCE_FIELDS = ['iterations', 'checkpointEvery', 'figureEvery'] as const;

/** Bumped by every new run and by reset: events of older runs are ignored. */
let runToken = 0;
let savedToken = 0;

export const useDistill = create<DistillState>()((set, get) => {
  const stored = readStored();

  function onEvent(token: number, event: DistillEvent): void {
    if (token !== runToken) return;
    switch (event.type) {
      case 'loading':
        if (get().run.state === 'loading') set((s) => ({ run: { ...s.run, message: event.what } }));
        return;
      case 'progress':
        distillMetrics.push(event.metrics);
        set((s) => ({
          metricsVersion: s.metricsVersion + 1,
          run: { ...s.run, iteration: Math.max(s.run.iteration, event.iteration), iterationsPerSecond: event.iterationsPerSecond, elapsedSeconds: event.elapsedSeconds },
        }));
        return;
      case 'figure':
        set({ figure: event.figure });
        return;
      case 'evaluation':
        set((s) => ({ evaluations: upsertEvaluations(s.evaluations, [event.evaluation]) }));
        return;
      case 'checkpoint':
        set((s) => ({
          run: { ...s.run, checkpoint: { iteration: event.iteration, savedAt: event.savedAt } },
          saved: s.run.identity ? { key: runKey(s.run.identity), identity: s.run.identity, iteration: event.iteration, savedAt: event.savedAt, elapsedSeconds: s.run.elapsedSeconds } : s.saved,
        }));
        return;
      case 'state':
        set((s) => ({ run: { ...s.run, state: event.state, iteration: event.iteration, message: event.state === 'done' ? `Done: the run reached iteration ${event.iteration}.` : s.run.message } }));
        return;
      case 'warning':
        set((s) => ({ run: { ...s.run, warning: event.message } }));
        return;
      case 'error':
        set((s) => ({ run: { ...s.run, state: 'error', pending: null, message: event.message, iteration: Math.max(s.run.iteration, event.iteration) } }));
        return;
    }
  }

  /** Opens a run of the form's settings in the worker; false when it could not (the error is shown). */
  async function open(resume: boolean): Promise<boolean> {
    const { form } = get();
    const problem = useSystem.getState().webgpu;
    if (problem.state === 'unavailable') {
      set({ run: { ...IDLE, state: 'error', message: `The distillation playground needs WebGPU, and it is unavailable here: ${problem.reason}` } });
      return false;
    }
    const read = readRunSettings(form, teacherUrl(form.task));
    if ('error' in read) {
      set({ run: { ...IDLE, state: 'error', message: read.error } });
      return false;
    }
    const settings: RunSettings = isToyTask(read.settings.task) ? { ...read.settings, fakeScoreFigure: get().view.fakeScore } : { ...read.settings, evaluator: evaluatorSettings() };
    if (!isToyTask(settings.task) && !settings.evaluator) {
      set({ run: { ...IDLE, state: 'error', message: 'This build of the app has no attribute evaluator (models/evaluator/evaluator.safetensors), which a Shapes run needs to read its images.' } });
      return false;
    }
    const identity: RunIdentity = { task: settings.task, seed: settings.seed, config: settings.config };
    const token = ++runToken;
    distillMetrics.clear();
    set((s) => ({ run: { ...IDLE, state: 'loading', message: 'Starting', identity }, figure: null, evaluations: [], teacher: null, teacherImages: null, profile: null, metricsVersion: s.metricsVersion + 1 }));
    try {
      const opened = await backend.open(settings, resume, (event) => onEvent(token, event));
      if (token !== runToken) return false;
      const live = distillMetrics.toArray();
      distillMetrics.clear();
      distillMetrics.push(opened.history.metrics);
      distillMetrics.push(live.filter((m) => m.iteration >= opened.iteration));
      set((s) => ({
        run: {
          ...s.run,
          state: opened.iteration >= settings.iterations ? 'done' : 'paused',
          message: opened.resumed ? `Resumed from the checkpoint of iteration ${opened.iteration}.` : null,
          iteration: opened.iteration,
          elapsedSeconds: opened.elapsedSeconds,
          adapter: opened.adapter,
        },
        teacher: opened.teacher,
        teacherImages: opened.teacherImages,
        profile: opened.profile,
        stepCounts: opened.stepCounts,
        view: opened.stepCounts.includes(s.view.steps) ? s.view : { ...s.view, steps: opened.stepCounts[0] ?? 1 },
        evaluations: upsertEvaluations(opened.history.evaluations, s.evaluations),
        metricsVersion: s.metricsVersion + 1,
      }));
      return true;
    } catch (error) {
      if (token === runToken) set((s) => ({ run: { ...s.run, state: 'error', message: message(error) } }));
      return false;
    }
  }

  /** Runs a call on the open run, showing its failure. */
  async function guarded(work: () => Promise<unknown>): Promise<void> {
    const token = runToken;
    try {
      await work();
    } catch (error) {
      if (token === runToken) set((s) => ({ run: { ...s.run, state: 'error', pending: null, message: message(error) } }));
    }
  }

  const hasOpenRun = () => ['paused', 'running', 'done'].includes(get().run.state) || get().run.pending !== null;

  return {
    form: stored.form,
    view: stored.view,
    run: IDLE,
    saved: null,
    otherSaved: null,
    stepCounts: [1, 2, 4],
    teacher: null,
    teacherImages: null,
    profile: null,
    figure: null,
    evaluations: [],
    metricsVersion: 0,
    studentExport: { state: 'idle' },
    comparisons: readComparisons(),

    keepForComparison() {
      const { run, evaluations } = get();
      if (!run.identity || evaluations.length === 0) return;
      const preset = activePreset(formOf(run.identity, DEFAULT_FORM)) ?? 'custom';
      const label = `${run.identity.task} ${preset} seed ${run.identity.seed}, to iteration ${evaluations.at(-1)!.iteration}`;
      const kept: ComparedRun = { label, task: run.identity.task, evaluations: structuredClone(evaluations) };
      set((s) => ({ comparisons: [...s.comparisons.filter((c) => c.label !== label), kept].slice(-MAX_COMPARISONS) }));
    },

    removeComparison(label) {
      set((s) => ({ comparisons: s.comparisons.filter((c) => c.label !== label) }));
    },

    setField(name, value) {
      const { state, pending } = get().run;
      // An open run's cadence may change while it is paused or done (Start applies it); everything else waits for Reset.
      const cadenceOpen = CADENCE_FIELDS.includes(name as (typeof CADENCE_FIELDS)[number]) && (state === 'paused' || state === 'done') && pending === null;
      if ((hasOpenRun() && !cadenceOpen) || state === 'loading') return; // the controls are disabled
      set((s) => ({ form: name === 'task' ? withTask(s.form, value as DistillTaskName) : { ...s.form, [name]: value } }));
      void get().refreshSaved();
    },

    applyPreset(arm) {
      if (hasOpenRun() || get().run.state === 'loading') return;
      set((s) => ({ form: withPreset(s.form, arm) }));
      void get().refreshSaved();
    },

    setView(view) {
      const before = get().view.fakeScore;
      set((s) => ({ view: { ...s.view, ...view } }));
      // The fake score's samples are computed only while shown: tell an open run.
      if (view.fakeScore !== undefined && view.fakeScore !== before && hasOpenRun()) void guarded(() => backend.setFigureOptions({ fakeScore: view.fakeScore! }));
    },

    async start() {
      const { state } = get().run;
      if (state === 'running' || state === 'loading') return;
      if (state === 'paused' || state === 'done') {
        // The cadence typed since the run opened (a higher "Stop at iteration" continues a finished run).
        const read = readRunSettings(get().form, '');
        if ('error' in read) {
          set((s) => ({ run: { ...s.run, message: read.error } }));
          return;
        }
        const { iterations, checkpointEvery, figureEvery } = read.settings;
        if (iterations <= get().run.iteration) {
          set((s) => ({ run: { ...s.run, message: `The run is at iteration ${s.run.iteration}: raise "Stop at iteration" above it to go on.` } }));
          return;
        }
        await guarded(() => backend.setCadence({ iterations, checkpointEvery, figureEvery }));
      } else if (!(await open(false))) return;
      await guarded(() => backend.start());
    },

    async resume() {
      const { state } = get().run;
      if (state === 'running' || state === 'loading' || !get().saved) return;
      if (!(await open(true))) return;
      if (get().run.state === 'paused') await guarded(() => backend.start());
    },

    async pause() {
      if (get().run.state !== 'running') return;
      set((s) => ({ run: { ...s.run, pending: 'pause' } }));
      await guarded(() => backend.pause());
      set((s) => ({ run: { ...s.run, pending: null } }));
    },

    async step() {
      const { state, pending } = get().run;
      if (state === 'running' || state === 'loading' || state === 'done' || pending) return;
      if (state !== 'paused' && !(await open(false))) return;
      set((s) => ({ run: { ...s.run, pending: 'step' } }));
      await guarded(() => backend.step());
      set((s) => ({ run: { ...s.run, pending: null } }));
    },

    async reset() {
      runToken++;
      const identity = get().run.identity ?? formIdentity(get().form);
      distillMetrics.clear();
      set((s) => ({ run: IDLE, figure: null, evaluations: [], teacher: null, teacherImages: null, profile: null, saved: null, metricsVersion: s.metricsVersion + 1 }));
      try {
        await backend.close(true);
        if (identity) await backend.deleteSaved(runKey(identity));
      } catch (error) {
        set((s) => ({ run: { ...s.run, message: `The saved run could not be deleted: ${message(error)}` } }));
      }
      await get().refreshSaved();
    },

    async exportStudent(to) {
      const { run } = get();
      if (!run.identity || !['paused', 'done'].includes(run.state) || run.pending || get().studentExport.state === 'working') return;
      const name = studentName(run.identity, run.iteration);
      set({ studentExport: { state: 'working', what: `Exporting the student of iteration ${run.iteration} to ONNX` } });
      try {
        const { files } = await backend.exportStudent(name);
        if (to === 'download') {
          saveBlob(`${name}.zip`, new Blob([zipSync(Object.fromEntries([...files].map(([path, bytes]) => [`${name}/${path}`, bytes])))], { type: 'application/zip' }));
          set({ studentExport: { state: 'done', name, message: `Downloaded ${name}.zip: the bundle's folder (manifest.json, the ONNX denoiser, its weights${files.has('text_encoder.onnx') ? ', the text encoder' : ''}). Add it in the Generate tab with "From a folder", or load it with onnxruntime.` } });
          return;
        }
        set({ studentExport: { state: 'working', what: `Caching ${name} in this browser` } });
        const entry = await useModels.getState().cacheFromFiles(files, name);
        if (!entry) {
          const job = useModels.getState().job;
          throw new Error(job.state === 'error' ? job.message : `${name} was cached, but the Generate tab cannot run it`);
        }
        useGenerate.getState().selectModel(entry.id);
        useApp.getState().setTab('generate');
        set({ studentExport: { state: 'done', name, message: `Opened ${name} in the Generate tab (cached in this browser; the Models panel lists it).` } });
      } catch (error) {
        set({ studentExport: { state: 'error', message: `The student was not exported: ${message(error)}` } });
      }
    },

    loadOtherSaved() {
      const other = get().otherSaved;
      if (!other || hasOpenRun()) return;
      set((s) => ({ form: formOf(other.identity, s.form) }));
      void get().refreshSaved();
    },

    async refreshSaved() {
      const token = ++savedToken;
      const identity = formIdentity(get().form);
      try {
        const [saved, latest] = await Promise.all([identity ? backend.savedRun(runKey(identity)) : null, backend.latestSavedRun()]);
        if (token !== savedToken) return;
        set({ saved, otherSaved: latest && latest.key !== saved?.key ? latest : null });
      } catch {
        if (token === savedToken) set({ saved: null, otherSaved: null }); // no IndexedDB here: nothing to resume
      }
    },
  };
});

// The form, the figure view and the kept runs survive a reload.
useDistill.subscribe((state, previous) => {
  if (state.comparisons !== previous.comparisons) {
    try {
      storage()?.setItem(COMPARISONS_KEY, JSON.stringify(state.comparisons));
    } catch {
      // full or disabled: they are not kept
    }
  }
  if (state.form === previous.form && state.view === previous.view) return;
  try {
    storage()?.setItem(STORAGE_KEY, JSON.stringify({ form: state.form, view: state.view }));
  } catch {
    // full or disabled: the settings just are not kept
  }
});

/** The run's metrics as a download: name and text. */
export function distillDownload(kind: 'json' | 'metrics-csv' | 'evaluations-csv'): { name: string; text: string; type: string } {
  const { run, evaluations, form } = useDistill.getState();
  const base = `senseflow-distill-${run.identity?.task ?? form.task}-seed${run.identity?.seed ?? form.seed}-it${run.iteration}`;
  const metrics = distillMetrics.toArray();
  if (kind === 'json') return { name: `${base}.json`, text: runJson(run.identity, metrics, evaluations), type: 'application/json' };
  if (kind === 'metrics-csv') return { name: `${base}-iterations.csv`, text: metricsCsv(metrics), type: 'text/csv' };
  return { name: `${base}-evaluations.csv`, text: evaluationsCsv(evaluations), type: 'text/csv' };
}
