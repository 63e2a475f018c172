// The distillation worker: WebGPU, the training engine and the open run (distillSession.ts) live here, so the page
// stays responsive while the student trains. WebGPU is acquired on the first open() and kept; without it open()
// rejects with the reason, written for the user, and nothing else in the app is affected.
import * as Comlink from 'comlink';
import { acquireBrowserGpu, WebGpuUnavailableError } from '../gpu/device';
import { Engine } from '../nn/engine';
import { fetchSource } from '../pipeline/bundle';
import { type DistillEvent, type DistillWorkerApi, isToyTask, type RunSettings } from './distillApi';
import { deleteSavedRun, loadReference, loadSavedRun, saveReference, saveRun, savedRun } from './distillCheckpoints';
import type { PlaygroundRun } from './distillRun';
import { type CheckpointStore, DistillSession } from './distillSession';
import { openShapesRun, SHAPES_PLAYGROUND } from './distillShapes';
import { loadEvaluatorFile, loadShapesTeacherBundle, loadToyTeacherBundle } from './distillTeacher';
import { openToyRun } from './distillToy';

const store: CheckpointStore = {
  async load(key) {
    const run = await savedRun(key);
    const data = run ? await loadSavedRun(key) : null;
    return run && data ? { run, data } : null;
  },
  save: saveRun,
  delete: deleteSavedRun,
  loadReference,
  saveReference,
};

let engineReady: Promise<Engine> | undefined;
let session: DistillSession | null = null;
let adapterName = '';
/** The page's event callback for the open run (a Comlink proxy). */
let listener: ((event: DistillEvent) => void) | null = null;

function describeAdapter(engine: Engine): string {
  const a = engine.adapter;
  const name = [a.vendor, a.architecture, a.device, a.description].filter((part) => part && part !== 'unknown').join(' / ') || 'unknown adapter';
  return a.isFallbackAdapter ? `${name} (a software fallback adapter)` : name;
}

function engine(): Promise<Engine> {
  engineReady ??= acquireBrowserGpu({
    label: 'distill',
    onLost: (info) => {
      engineReady = undefined;
      if (info.reason === 'destroyed') return;
      listener?.({ type: 'error', message: `The GPU device was lost (${info.message || info.reason}). Reset the run to start again on a new device.`, iteration: session?.iteration ?? 0 });
      session = null;
    },
  }).then(
    (gpu) => new Engine(gpu),
    (error: unknown) => {
      engineReady = undefined;
      if (error instanceof WebGpuUnavailableError) throw new Error(`The distillation playground needs WebGPU, and it is unavailable here: ${error.reason}`);
      throw error;
    },
  );
  return engineReady;
}

function releaseListener(): void {
  (listener as unknown as Comlink.Remote<(event: DistillEvent) => void> | null)?.[Comlink.releaseProxy]();
  listener = null;
}

/** The task's run: its frozen networks loaded (and checked) from their bundles, the distiller made. */
async function openRun(gpu: Engine, settings: RunSettings, report: (event: DistillEvent) => void): Promise<PlaygroundRun> {
  if (isToyTask(settings.task)) {
    report({ type: 'loading', what: `Loading the ${settings.task} teacher` });
    const toy = await loadToyTeacherBundle(gpu, fetchSource(settings.teacherUrl));
    try {
      return await openToyRun(toy, settings, store, report);
    } catch (error) {
      toy.teacher.dispose();
      throw error;
    }
  }
  if (!settings.evaluator) throw new Error('A Shapes run needs the attribute evaluator (settings.evaluator), which reads its images.');
  report({ type: 'loading', what: 'Loading the Shapes teacher and the attribute evaluator' });
  const evaluatorUrl = new URL(settings.evaluator.url);
  const evaluator = await loadEvaluatorFile(gpu, fetchSource(new URL('./', evaluatorUrl)), evaluatorUrl.pathname.split('/').pop()!, settings.evaluator.sha256);
  let shapes;
  try {
    shapes = await loadShapesTeacherBundle(gpu, fetchSource(settings.teacherUrl));
  } catch (error) {
    evaluator.dispose();
    throw error;
  }
  try {
    return await openShapesRun(shapes, evaluator, settings, store, report, { ...SHAPES_PLAYGROUND, evalCaptions: settings.evalCaptions ?? SHAPES_PLAYGROUND.evalCaptions });
  } catch (error) {
    shapes.teacher.dispose();
    shapes.textEncoder.dispose();
    evaluator.dispose();
    throw error;
  }
}

function current(): DistillSession {
  if (!session) throw new Error('No run is open: press Start.');
  return session;
}

const api: DistillWorkerApi = {
  async open(settings, resume, onEvent) {
    await session?.close(false);
    session = null;
    releaseListener();
    listener = onEvent;
    const report = (event: DistillEvent) => void listener?.(event);
    report({ type: 'loading', what: 'Starting WebGPU' });
    const gpu = await engine();
    const run = await openRun(gpu, settings, report);
    const { session: opened, opened: info } = await DistillSession.open(run, settings, resume, store, report);
    session = opened;
    adapterName = describeAdapter(gpu);
    return { ...info, adapter: adapterName };
  },

  start() {
    current().start();
  },

  pause() {
    return session ? session.pause() : Promise.resolve(0);
  },

  step() {
    return current().step();
  },

  setFigureOptions(options) {
    return current().setFigureOptions(options, true);
  },

  async setCadence(cadence) {
    current().setCadence(cadence);
  },

  exportStudent(name) {
    return current().exportStudent(name, adapterName);
  },

  async close(discard) {
    const closing = session;
    session = null;
    await closing?.close(discard);
    releaseListener();
  },
};

Comlink.expose(api);
