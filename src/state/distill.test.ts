// The Distill store's logic with a fake worker (setDistillBackend): what Start, Pause, Step once, Resume and Reset
// ask of the worker, how its events become the run's state (state events only, in order; a late answer or an old
// run's event changes nothing), the metrics batches in the ring buffer, the form's checks, and the downloads.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IterationMetrics } from '../distill/senseflow';
import type { ToyEvaluation } from '../distill/toyEval';
import type { Manifest } from '../pipeline/manifest';
import { type DistillEvent, type OpenedRun, runKey, type RunSettings, type SavedRun } from '../workers/distillApi';
import { type DistillBackend, distillDownload, distillMetrics, setDistillBackend, studentName, teacherUrl, useDistill } from './distill';
import { DEFAULT_FORM, formIdentity } from './distillSettings';
import { useSystem } from './system';

const metric = (iteration: number): IterationMetrics => ({ iteration, generatorStep: iteration % 5 === 0, anchorIndex: 0, backwardSimulated: false, guidance: 1, fakeLoss: 1 + iteration, fakeGradNorm: 0.5 });
const evaluation = (iteration: number): ToyEvaluation => ({ iteration, steps: { '1': { energyDistance: 1 / (1 + iteration), modeCoverage: 0.5, offMode: 0.1 } }, fakeTrackingError: 0.2, parameterDistance: iteration / 10 });

class FakeWorker implements DistillBackend {
  calls: string[] = [];
  opened: { settings: RunSettings; resume: boolean }[] = [];
  listener: ((event: DistillEvent) => void) | null = null;
  iteration = 0;
  saved = new Map<string, SavedRun>();
  openResult: (resume: boolean) => OpenedRun = (resume) => ({
    iteration: resume ? 20 : 0,
    adapter: 'fake adapter',
    resumed: resume,
    elapsedSeconds: resume ? 12 : 0,
    teacher: { points: new Float32Array(4), labels: new Uint32Array(2) },
    teacherImages: null,
    profile: { sigmas: [0.1, 0.9], error: [0.01, 0.8] },
    stepCounts: [1, 2, 4],
    history: resume ? { metrics: Array.from({ length: 20 }, (_, i) => metric(i)), evaluations: [evaluation(0), evaluation(20)] } : { metrics: [], evaluations: [] },
  });

  emit(event: DistillEvent): void {
    this.listener?.(event);
  }

  async open(settings: RunSettings, resume: boolean, onEvent: (event: DistillEvent) => void): Promise<OpenedRun> {
    this.calls.push('open');
    this.opened.push({ settings, resume });
    this.listener = onEvent;
    onEvent({ type: 'loading', what: 'Loading the ring teacher' });
    onEvent({ type: 'figure', figure: { iteration: resume ? 20 : 0, labels: new Uint32Array(2), students: [] } });
    const opened = this.openResult(resume);
    this.iteration = opened.iteration;
    return opened;
  }
  async start() {
    this.calls.push('start');
    this.emit({ type: 'state', state: 'running', iteration: this.iteration });
  }
  async pause() {
    this.calls.push('pause');
    return 0;
  }
  async step() {
    this.calls.push('step');
    return 1;
  }
  async close(discard: boolean) {
    this.calls.push(`close(${discard})`);
  }
  async setFigureOptions(options: { fakeScore: boolean }) {
    this.calls.push(`setFigureOptions(${options.fakeScore})`);
  }
  async setCadence(cadence: { iterations: number }) {
    this.calls.push(`setCadence(${cadence.iterations})`);
  }
  async exportStudent(name: string) {
    this.calls.push(`exportStudent(${name})`);
    return { manifest: {} as Manifest, files: new Map([['manifest.json', new Uint8Array(2)]]) };
  }
  async savedRun(key: string) {
    return this.saved.get(key) ?? null;
  }
  async latestSavedRun() {
    return [...this.saved.values()].sort((a, b) => b.savedAt - a.savedAt)[0] ?? null;
  }
  async deleteSaved(key: string) {
    this.calls.push('deleteSaved');
    this.saved.delete(key);
  }
}

let worker: FakeWorker;
const store = () => useDistill.getState();
const initial = useDistill.getState();

beforeEach(() => {
  worker = new FakeWorker();
  setDistillBackend(worker);
  useSystem.setState({ webgpu: { state: 'checking' } });
});

afterEach(async () => {
  await store().reset();
  useDistill.setState({ form: { ...DEFAULT_FORM }, view: initial.view, saved: null, otherSaved: null });
  setDistillBackend(null);
});

describe('the Distill store', () => {
  it('Start opens a run of the form (the 2D toy defaults) and starts it; the worker says when it runs', async () => {
    await store().start();
    expect(worker.calls).toEqual(['open', 'start']);
    const { settings, resume } = worker.opened[0]!;
    expect(resume).toBe(false);
    expect(settings).toMatchObject({ task: 'ring', seed: 1, iterations: 2000, checkpointEvery: 100, figureEvery: 50, teacherUrl: teacherUrl('ring') });
    expect(settings.teacherUrl).toMatch(/^http:\/\/localhost\/models\/toy2d\/ring\/$/);
    expect(settings.config).toMatchObject({ batch: 256, lr: 1e-3, guidance: [1, 1], idaLambda: 0.97, isgWeight: 0.5, alignment: 'generator', ganWeight: 0 });
    expect(store().run).toMatchObject({ state: 'running', adapter: 'fake adapter', iteration: 0, identity: { task: 'ring', seed: 1 } });
    expect(store().figure?.iteration).toBe(0);
    expect(store().teacher?.points).toHaveLength(4);
  });

  it('progress batches go into the ring buffer and bump metricsVersion; figures, evaluations and checkpoints are kept', async () => {
    await store().start();
    const version = store().metricsVersion;
    worker.emit({ type: 'progress', iteration: 3, iterationsPerSecond: 9.5, elapsedSeconds: 1.2, metrics: [metric(0), metric(1), metric(2)] });
    worker.emit({ type: 'progress', iteration: 5, iterationsPerSecond: 10, elapsedSeconds: 1.4, metrics: [metric(3), metric(4)] });
    expect(distillMetrics.toArray().map((m) => m.iteration)).toEqual([0, 1, 2, 3, 4]);
    expect(store().metricsVersion).toBe(version + 2);
    expect(store().run).toMatchObject({ iteration: 5, iterationsPerSecond: 10, elapsedSeconds: 1.4 });

    worker.emit({ type: 'evaluation', evaluation: evaluation(5) });
    worker.emit({ type: 'evaluation', evaluation: evaluation(0) });
    worker.emit({ type: 'evaluation', evaluation: { ...evaluation(5), fakeTrackingError: 0.1 } });
    expect(store().evaluations.map((e) => [e.iteration, (e as ToyEvaluation).fakeTrackingError])).toEqual([
      [0, 0.2],
      [5, 0.1],
    ]);
    worker.emit({ type: 'checkpoint', iteration: 5, savedAt: 1000 });
    expect(store().run.checkpoint).toEqual({ iteration: 5, savedAt: 1000 });
    expect(store().saved).toMatchObject({ iteration: 5, key: runKey(store().run.identity!) });
    worker.emit({ type: 'warning', message: 'The checkpoint was not saved: storage is full.' });
    expect(store().run.warning).toMatch(/storage is full/);
  });

  it('the run state follows the state events only; Pause and Step once ask the worker', async () => {
    await store().start();
    await store().pause();
    expect(worker.calls).toEqual(['open', 'start', 'pause']);
    expect(store().run.state).toBe('running'); // until the worker says it stopped
    worker.emit({ type: 'state', state: 'paused', iteration: 7 });
    expect(store().run).toMatchObject({ state: 'paused', iteration: 7, pending: null });

    await store().step();
    expect(worker.calls.at(-1)).toBe('step');
    await store().start();
    expect(worker.calls.slice(-3)).toEqual(['step', 'setCadence(2000)', 'start']); // a paused run goes on (with the form's cadence): no new open
    worker.emit({ type: 'state', state: 'done', iteration: 2000 });
    expect(store().run).toMatchObject({ state: 'done', message: 'Done: the run reached iteration 2000.' });
    await store().start();
    await store().step();
    expect(worker.calls.at(-1)).toBe('start'); // nothing more once done
  });

  it('Step once on an idle tab opens a run and steps it', async () => {
    await store().step();
    expect(worker.calls).toEqual(['open', 'step']);
    expect(store().run.state).toBe('paused');
  });

  it('the loop failing shows the error; events of a run that was reset are ignored', async () => {
    await store().start();
    const old = worker.listener!;
    worker.emit({ type: 'error', message: 'GPU validation error in matmul', iteration: 12 });
    expect(store().run).toMatchObject({ state: 'error', message: 'GPU validation error in matmul', iteration: 12 });

    await store().reset();
    expect(worker.calls.slice(-2)).toEqual(['close(true)', 'deleteSaved']);
    expect(store().run.state).toBe('idle');
    old({ type: 'progress', iteration: 40, iterationsPerSecond: 1, elapsedSeconds: 1, metrics: [metric(39)] });
    old({ type: 'state', state: 'running', iteration: 40 });
    expect(store().run).toMatchObject({ state: 'idle', iteration: 0 });
    expect(distillMetrics.length).toBe(0);
  });

  it('a form that does not read is refused on Start, naming the control; the settings lock while a run is open', async () => {
    store().setField('batch', '0');
    await store().start();
    expect(worker.calls).toEqual([]);
    expect(store().run).toMatchObject({ state: 'error', message: 'Batch size must be a whole number from 1 to 4096, not "0".' });
    store().setField('batch', '32');
    store().setField('guidanceMin', '3');
    await store().start();
    expect(store().run.message).toBe('Guidance from (3) must not be above Guidance to (1).');
    store().setField('guidanceMax', '5');
    await store().start();
    expect(worker.opened[0]!.settings.config).toMatchObject({ batch: 32, guidance: [3, 5] });
    store().setField('batch', '64');
    store().applyPreset('dmd');
    expect(store().form).toMatchObject({ batch: '32', idaLambda: '0.97' });
  });

  it('without WebGPU, Start says so and does not open a run', async () => {
    useSystem.setState({ webgpu: { state: 'unavailable', reason: 'This browser has no navigator.gpu.' } });
    await store().start();
    expect(worker.calls).toEqual([]);
    expect(store().run).toMatchObject({ state: 'error', message: 'The distillation playground needs WebGPU, and it is unavailable here: This browser has no navigator.gpu.' });
  });

  it('offers the saved checkpoint of the form\'s settings; Resume opens it, with its history, and runs on', async () => {
    const identity = formIdentity(store().form)!;
    worker.saved.set(runKey(identity), { key: runKey(identity), identity, iteration: 20, savedAt: 5, elapsedSeconds: 12 });
    await store().refreshSaved();
    expect(store().saved?.iteration).toBe(20);
    expect(store().otherSaved).toBeNull();

    await store().resume();
    expect(worker.opened[0]!.resume).toBe(true);
    expect(worker.calls).toEqual(['open', 'start']);
    expect(store().run).toMatchObject({ state: 'running', iteration: 20, elapsedSeconds: 12, message: 'Resumed from the checkpoint of iteration 20.' });
    expect(distillMetrics.toArray().map((m) => m.iteration)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(store().evaluations.map((e) => e.iteration)).toEqual([0, 20]);
  });

  it('offers the newest saved run of other settings, and puts its settings in the form', async () => {
    const other = formIdentity({ ...DEFAULT_FORM, task: 'grid', batch: '32', seed: '9', idaLambda: '1', isgWeight: '0' })!;
    worker.saved.set(runKey(other), { key: runKey(other), identity: other, iteration: 70, savedAt: 9, elapsedSeconds: 3 });
    await store().refreshSaved();
    expect(store().saved).toBeNull();
    expect(store().otherSaved?.iteration).toBe(70);
    store().loadOtherSaved();
    expect(store().form).toMatchObject({ task: 'grid', batch: '32', seed: '9', idaLambda: '1', isgWeight: '0' });
    await store().refreshSaved();
    expect(store().saved?.iteration).toBe(70);
  });

  it('keeps runs for comparison by label, the newest three, and names an exported student by its run', async () => {
    useDistill.setState({ comparisons: [] });
    expect(store().comparisons).toEqual([]);
    await store().start();
    store().keepForComparison(); // no evaluation yet: nothing to keep
    expect(store().comparisons).toEqual([]);
    worker.emit({ type: 'evaluation', evaluation: evaluation(0) });
    worker.emit({ type: 'evaluation', evaluation: evaluation(10) });
    store().keepForComparison();
    store().keepForComparison(); // the same label replaces, not duplicates
    expect(store().comparisons.map((c) => c.label)).toEqual(['ring senseflow seed 1, to iteration 10']);
    expect(store().comparisons[0]!.evaluations.map((e) => e.iteration)).toEqual([0, 10]);
    for (const i of [20, 30, 40]) {
      worker.emit({ type: 'evaluation', evaluation: evaluation(i) });
      store().keepForComparison();
    }
    expect(store().comparisons.map((c) => c.label)).toEqual([20, 30, 40].map((i) => `ring senseflow seed 1, to iteration ${i}`));
    store().removeComparison('ring senseflow seed 1, to iteration 30');
    expect(store().comparisons).toHaveLength(2);
    expect(studentName(store().run.identity!, 40)).toBe('ring-senseflow-seed1-it40');
    useDistill.setState({ comparisons: [] });
  });

  it('a finished run goes on: its last iteration (not its recipe) can be raised, and Continue applies it', async () => {
    await store().start();
    worker.emit({ type: 'state', state: 'done', iteration: 2000 });
    expect(store().run.state).toBe('done');
    store().setField('idaLambda', '0.5'); // the recipe stays locked
    expect(store().form.idaLambda).toBe(DEFAULT_FORM.idaLambda);
    await store().start();
    expect(store().run.message).toBe('The run is at iteration 2000: raise "Stop at iteration" above it to go on.');
    store().setField('iterations', '2500');
    expect(store().form.iterations).toBe('2500');
    worker.calls.length = 0;
    await store().start();
    expect(worker.calls).toEqual(['setCadence(2500)', 'start']);
    expect(store().run.state).toBe('running');
    store().setField('iterations', '3000'); // not while running
    expect(store().form.iterations).toBe('2500');
  });

  it('downloads the metrics as JSON and CSV', async () => {
    await store().start();
    worker.emit({ type: 'progress', iteration: 2, iterationsPerSecond: 9.5, elapsedSeconds: 1.2, metrics: [metric(0), { ...metric(1), dmdLoss: 0.25, restored: { reason: 'NaN', toIteration: 0 } }] });
    worker.emit({ type: 'evaluation', evaluation: evaluation(2) });
    const json = distillDownload('json');
    expect(json.name).toBe('senseflow-distill-ring-seed1-it2.json');
    const parsed = JSON.parse(json.text);
    expect(parsed.run).toMatchObject({ task: 'ring', seed: 1 });
    expect(parsed.metrics).toHaveLength(2);
    expect(parsed.evaluations[0].iteration).toBe(2);
    expect(distillDownload('metrics-csv').text.split('\n')[2]).toBe('1,0,0,0,1,2,0.5,0.25,,,,,,,0');
    expect(distillDownload('evaluations-csv').text).toBe('iteration,energyDistance_1step,modeCoverage_1step,offMode_1step,fakeTrackingError,parameterDistance\n2,0.3333333333333333,0.5,0.1,0.2,0.2\n');
  });
});
