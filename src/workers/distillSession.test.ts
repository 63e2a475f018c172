// The Distill tab's run as the worker holds it, on Dawn with the bundled ring teacher and an in-memory checkpoint
// store: progress in batches carrying every iteration's metrics in order, figures (DMD arrows exactly zero while the
// generator, the fake score and the teacher are one network), pause and a single step, checkpoints, an exact resume
// (the resumed run repeats the uninterrupted one's metrics), the last iteration ("done") and discard.
import * as ortModule from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Toy2DTeacher } from '../nets/toy2d';
import type { Ort } from '../onnx/exportOrt';
import { toy2dParity } from '../onnx/exportParity';
import { loadBundle } from '../pipeline/bundle';
import { Pipeline } from '../pipeline/generate';
import { distillConfig } from '../distill/config';
import type { IterationMetrics } from '../distill/senseflow';
import type { Engine } from '../nn/engine';
import { testEngine } from '../nn/testing';
import { directorySource } from '../pipeline/bundleWrite';
import { TOY_BASE } from '../state/distillSettings';
import { type DistillEvent, type DistillFigure, isShapesFigure, type RunFigure, type RunSettings, type SavedRun } from './distillApi';
import type { SavedRunData } from './distillCheckpoints';
import { type CheckpointStore, DistillSession } from './distillSession';
import { loadToyTeacherBundle } from './distillTeacher';
import { openToyRun } from './distillToy';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** Shared by every store of this file: the reference samples are computed once. */
const references = new Map<string, Float32Array>();

function memoryStore(): CheckpointStore & { runs: Map<string, { run: SavedRun; data: SavedRunData }> } {
  const runs = new Map<string, { run: SavedRun; data: SavedRunData }>();
  return {
    runs,
    loadReference: async (key) => references.get(key) ?? null,
    saveReference: async (key, points) => void references.set(key, points),
    load: async (key) => runs.get(key) ?? null,
    save: async (run, data) => void runs.set(run.key, { run, data: structuredClone(data) }),
    delete: async (key) => void runs.delete(key),
  };
}

const settings: RunSettings = {
  task: 'ring',
  seed: 5,
  config: distillConfig('senseflow', { batch: 16, fakeStepsPerGeneratorStep: 2 }, TOY_BASE),
  teacherUrl: 'models/toy2d/ring/',
  iterations: 9,
  checkpointEvery: 4,
  figureEvery: 4,
};

/** A run of the bundled toy teacher settings.task names (the ring unless overridden). */
async function openToy(store: CheckpointStore, resume: boolean, events: DistillEvent[], overrides: Partial<RunSettings> = {}) {
  const runSettings = { ...settings, ...overrides };
  const report = (e: DistillEvent) => events.push(structuredClone(e));
  const toy = await loadToyTeacherBundle(engine, directorySource(`models/toy2d/${runSettings.task}`));
  return DistillSession.open(await openToyRun(toy, runSettings, store, report), runSettings, resume, store, report);
}

function toyFigure(figure: RunFigure): DistillFigure {
  if (isShapesFigure(figure)) throw new Error('a Shapes figure from a ring run');
  return figure;
}

const ofType = <T extends DistillEvent['type']>(events: DistillEvent[], type: T) => events.filter((e): e is Extract<DistillEvent, { type: T }> => e.type === type);

async function until(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const comparable = (m: IterationMetrics) => ({ ...m });

describe('DistillSession', () => {
  it('runs in batches, pauses, steps once, checkpoints, and resumes exactly', { timeout: 240_000 }, async () => {
    const store = memoryStore();
    const events: DistillEvent[] = [];
    const { session, opened } = await openToy(store, false, events);
    expect(opened.iteration).toBe(0);
    expect(opened.resumed).toBe(false);
    expect(opened.stepCounts).toEqual([1, 2, 4]);
    expect(opened.teacher!.points.length).toBe(2 * opened.teacher!.labels.length);
    expect(opened.teacher!.labels.length).toBe(5 * 250);
    expect(opened.teacherImages).toBeNull();
    // The teacher's reconstruction error over the noise level: small at low noise, large at high.
    expect(opened.profile.error[0]).toBeLessThan(0.05);
    expect(opened.profile.error.at(-1)).toBeGreaterThan(0.2);

    // Iteration 0: the student, the fake score and the real score are the teacher, so every DMD arrow is zero.
    const first = toyFigure(ofType(events, 'figure')[0]!.figure);
    expect(first.iteration).toBe(0);
    expect(first.students.map((s) => s.steps)).toEqual([1, 2, 4]);
    for (const student of first.students) {
      expect(student.points.length).toBe(2 * first.labels.length);
      expect(Math.max(...student.arrows.map(Math.abs))).toBe(0);
    }
    expect(ofType(events, 'evaluation')[0]!.evaluation.iteration).toBe(0);

    session.start();
    await until(() => session.iteration >= 6, 'iteration 6');
    const paused = await session.pause();
    expect(session.state).toBe('paused');
    expect(ofType(events, 'state').map((e) => e.state)).toEqual(['running', 'paused']);
    const progress = ofType(events, 'progress');
    // Batched: fewer messages than iterations, and together they carry every iteration once, in order.
    expect(progress.length).toBeLessThan(paused);
    expect(progress.flatMap((p) => p.metrics).map((m) => m.iteration)).toEqual(Array.from({ length: paused }, (_, i) => i));
    expect(progress.at(-1)!.iteration).toBe(paused);
    // Figures and evaluations every 4 iterations and at the pause; checkpoints at 4 and at the pause.
    const figureIterations = ofType(events, 'figure').map((e) => e.figure.iteration);
    expect(figureIterations).toContain(4);
    expect(figureIterations.at(-1)).toBe(paused);
    const checkpoints = [4, 8].filter((i) => i <= paused);
    if (paused % 4 !== 0) checkpoints.push(paused);
    expect(ofType(events, 'checkpoint').map((e) => e.iteration)).toEqual(checkpoints);
    expect(Math.max(...toyFigure(ofType(events, 'figure').at(-1)!.figure).students[0]!.arrows.map(Math.abs))).toBeGreaterThan(0);

    // Step once: one iteration, its progress, figures and state.
    events.length = 0;
    expect(await session.step()).toBe(paused + 1);
    expect(ofType(events, 'progress').flatMap((p) => p.metrics).map((m) => m.iteration)).toEqual([paused]);
    expect(ofType(events, 'figure')[0]!.figure.iteration).toBe(paused + 1);
    expect(ofType(events, 'state').at(-1)!.state).toBe('paused');
    const stepped = ofType(events, 'progress')[0]!.metrics[0]!;
    await session.close(false);

    // The saved checkpoint is the pause's: reopening goes on from there, with the metrics and evaluations up to it,
    // and repeats the same iteration exactly.
    const saved = [...store.runs.values()][0]!;
    expect(saved.run.iteration).toBe(paused);
    const resumedEvents: DistillEvent[] = [];
    const resumed = await openToy(store, true, resumedEvents);
    expect(resumed.opened).toMatchObject({ iteration: paused, resumed: true });
    expect(resumed.opened.history.metrics.map((m) => m.iteration)).toEqual(Array.from({ length: paused }, (_, i) => i));
    expect(resumed.opened.history.evaluations.at(-1)!.iteration).toBe(paused);
    await resumed.session.step();
    expect(comparable(ofType(resumedEvents, 'progress')[0]!.metrics[0]!)).toEqual(comparable(stepped));

    // To the last iteration: the run says done and will not go further.
    resumedEvents.length = 0;
    resumed.session.start();
    await until(() => ofType(resumedEvents, 'state').some((e) => e.state === 'done'), 'done');
    expect(resumed.session.iteration).toBe(settings.iterations);
    expect(resumed.session.state).toBe('done');
    expect(() => resumed.session.start()).toThrow(/last iteration \(9\)/);
    await expect(resumed.session.step()).rejects.toThrow(/last iteration/);
    expect(store.runs.get(saved.run.key)!.run.iteration).toBe(settings.iterations);

    // A finished run goes on once its last iteration is raised (the cadence is not part of its identity).
    expect(() => resumed.session.setCadence({ iterations: 0, checkpointEvery: 4, figureEvery: 4 })).toThrow(/iterations must be a whole number of at least 1/);
    resumed.session.setCadence({ iterations: 11, checkpointEvery: 4, figureEvery: 4 });
    expect(resumed.session.state).toBe('paused');
    resumedEvents.length = 0;
    resumed.session.start();
    await until(() => ofType(resumedEvents, 'state').some((e) => e.state === 'done'), 'done again');
    expect(resumed.session.iteration).toBe(11);
    expect(store.runs.get(saved.run.key)!.run.iteration).toBe(11);

    await resumed.session.close(true);
    expect(store.runs.size).toBe(0);
  });

  it('exports the student as a bundle that validates, matches the engine in ORT, and generates at its anchors', { timeout: 240_000 }, async () => {
    const events: DistillEvent[] = [];
    const { session } = await openToy(memoryStore(), false, events);
    // The fake score's samples are drawn only when the page shows them; turning them on redraws a paused run's figure.
    expect(toyFigure(ofType(events, 'figure')[0]!.figure).fakeScore).toBeUndefined();
    await session.setFigureOptions({ fakeScore: true }, true);
    expect(toyFigure(ofType(events, 'figure').at(-1)!.figure).fakeScore!.points).toHaveLength(toyFigure(ofType(events, 'figure')[0]!.figure).labels.length * 2);
    await session.step();
    await session.step();
    const { manifest, files } = await session.exportStudent('ring-test-it2', 'Dawn (test)');
    expect(manifest).toMatchObject({ name: 'ring-test-it2', architecture: 'Toy2DTeacher', conditioning: 'label', guidance: { default: 1 }, steps: { schedule: 'anchors', default: 4 } });
    expect(Object.keys(manifest.steps.sigmas!)).toEqual(['1', '2', '4']);
    expect(manifest.provenance).toMatchObject({ seed: 5, steps: 2, adapter: 'Dawn (test)' });
    expect(manifest.metrics?.playgroundEvaluation).toMatchObject({ iteration: 2 });
    expect([...files.keys()].sort()).toEqual(['denoiser.onnx', 'denoiser.safetensors', 'manifest.json']);
    // loadBundle checks every size and hash and the ONNX interface, as the Generate tab will.
    const loaded = await loadBundle({ read: async (path) => files.get(path)! });
    const ort = ortModule as unknown as Ort;
    ort.env.wasm.numThreads = 1;
    const distiller = (session as unknown as { run: { distiller: { generator: Toy2DTeacher } } }).run.distiller;
    expect(await toy2dParity(ort, distiller.generator, files.get('denoiser.onnx')!)).toBeLessThan(1e-4);
    const pipeline = await Pipeline.create(ort, loaded, { provider: 'wasm' });
    const result = await pipeline.generate({ prompt: 'east-west', seed: 3, steps: 1 });
    expect(result.settings).toMatchObject({ steps: 1, sampler: 'x0', guidance: 1 });
    await pipeline.release();
    await session.close(true);
  });

  it('runs the grid (a teacher with coordinate features) and exports a student that matches the engine in ORT', { timeout: 240_000 }, async () => {
    const events: DistillEvent[] = [];
    const { session } = await openToy(memoryStore(), false, events, { task: 'grid', teacherUrl: 'models/toy2d/grid/' });
    await session.step();
    const { files } = await session.exportStudent('grid-test-it1', 'Dawn (test)');
    const generator = (session as unknown as { run: { distiller: { generator: Toy2DTeacher } } }).run.distiller.generator;
    expect(generator.config.coordinateFeatures).toBe(16);
    const ort = ortModule as unknown as Ort;
    ort.env.wasm.numThreads = 1;
    expect(await toy2dParity(ort, generator, files.get('denoiser.onnx')!)).toBeLessThan(1e-4);
    const pipeline = await Pipeline.create(ort, await loadBundle({ read: async (path) => files.get(path)! }), { provider: 'wasm' });
    const result = await pipeline.generate({ prompt: 'row 2', seed: 3, steps: 1 });
    expect(result.settings).toMatchObject({ steps: 1, sampler: 'x0' });
    await pipeline.release();
    await session.close(true);
  });

  it('runs the ring with the GAN term (its losses in the metrics), and refuses settings it cannot run, naming them', { timeout: 60_000 }, async () => {
    const events: DistillEvent[] = [];
    const { session } = await openToy(memoryStore(), false, events, { config: { ...settings.config, ganWeight: 0.1 } });
    await session.step();
    const [metrics] = ofType(events, 'progress')[0]!.metrics;
    expect(Number.isFinite(metrics!.discriminatorLoss)).toBe(true);
    expect(Number.isFinite(metrics!.discriminatorGradNorm)).toBe(true);
    await session.close(true);
    await expect(openToy(memoryStore(), false, [], { config: { ...settings.config, idaLambda: 2 } })).rejects.toThrow(/idaLambda must be in \[0, 1\]/);
  });

  it("with the regression term integrates the teacher's pairs on opening, saying so, once: a reopened run reads them from the cache", { timeout: 120_000 }, async () => {
    const regression = { config: { ...settings.config, regressionWeight: 1, regressionPairs: 32 } };
    const pairing = (events: DistillEvent[]) => ofType(events, 'loading').filter((e) => e.what.startsWith('Integrating the teacher for the regression term'));
    const first: DistillEvent[] = [];
    const { session } = await openToy(memoryStore(), false, first, regression);
    expect(pairing(first).map((e) => e.what)).toEqual(['Integrating the teacher for the regression term (32 pairs, 50 Euler steps each; once per teacher, seed and batch)']);
    await session.step();
    const [metrics] = ofType(first, 'progress')[0]!.metrics;
    expect(metrics!.regressionLoss).toBeGreaterThan(0);
    await session.close(true);
    // Reopened: the same iteration from the cached pairs, and no integration.
    const again: DistillEvent[] = [];
    const reopened = await openToy(memoryStore(), false, again, regression);
    expect(pairing(again)).toEqual([]);
    await reopened.session.step();
    expect(ofType(again, 'progress')[0]!.metrics[0]!.regressionLoss).toBe(metrics!.regressionLoss);
    await reopened.session.close(true);
    // The term at every anchor (from a settings file) needs the trajectory points: its pairs are not the cached ones.
    const everyAnchor: DistillEvent[] = [];
    const all = await openToy(memoryStore(), false, everyAnchor, { config: { ...regression.config, regressionAnchors: 'all' } });
    expect(pairing(everyAnchor)).toHaveLength(1);
    await all.session.step();
    expect(ofType(everyAnchor, 'progress')[0]!.metrics[0]!.regressionLoss).toBeGreaterThan(0);
    await all.session.close(true);
  });
});
