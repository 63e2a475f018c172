// The Distill tab's run as the worker holds it, on Dawn with the bundled ring teacher and an in-memory checkpoint
// store: progress in batches carrying every iteration's metrics in order, figures (DMD arrows exactly zero while the
// generator, the fake score and the teacher are one network), pause and a single step, checkpoints, an exact resume
// (the resumed run repeats the uninterrupted one's metrics), the last iteration ("done") and discard.
import { beforeAll, describe, expect, it } from 'vitest';
import { distillConfig } from '../distill/config';
import type { IterationMetrics } from '../distill/senseflow';
import type { Engine } from '../nn/engine';
import { testEngine } from '../nn/testing';
import { directorySource } from '../pipeline/bundleWrite';
import { TOY_BASE } from '../state/distillSettings';
import type { DistillEvent, RunSettings, SavedRun } from './distillApi';
import type { SavedRunData } from './distillCheckpoints';
import { type CheckpointStore, DistillSession } from './distillSession';
import { loadToyTeacherBundle } from './distillTeacher';

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

const openRing = async (store: CheckpointStore, resume: boolean, events: DistillEvent[], overrides: Partial<RunSettings> = {}) =>
  DistillSession.open(await loadToyTeacherBundle(engine, directorySource('models/toy2d/ring')), { ...settings, ...overrides }, resume, store, (e) => events.push(structuredClone(e)));

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
    const { session, opened } = await openRing(store, false, events);
    expect(opened.iteration).toBe(0);
    expect(opened.resumed).toBe(false);
    expect(opened.stepCounts).toEqual([1, 2, 4]);
    expect(opened.teacher.points.length).toBe(2 * opened.teacher.labels.length);
    expect(opened.teacher.labels.length).toBe(5 * 250);

    // Iteration 0: the student, the fake score and the real score are the teacher, so every DMD arrow is zero.
    const [first] = ofType(events, 'figure');
    expect(first!.figure.iteration).toBe(0);
    expect(first!.figure.students.map((s) => s.steps)).toEqual([1, 2, 4]);
    for (const student of first!.figure.students) {
      expect(student.points.length).toBe(2 * first!.figure.labels.length);
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
    expect(Math.max(...ofType(events, 'figure').at(-1)!.figure.students[0]!.arrows.map(Math.abs))).toBeGreaterThan(0);

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
    const resumed = await openRing(store, true, resumedEvents);
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

    await resumed.session.close(true);
    expect(store.runs.size).toBe(0);
  });

  it('refuses settings the toy cannot run, naming them', { timeout: 60_000 }, async () => {
    await expect(openRing(memoryStore(), false, [], { config: { ...settings.config, ganWeight: 0.1 } })).rejects.toThrow(/GAN term/);
    await expect(openRing(memoryStore(), false, [], { config: { ...settings.config, idaLambda: 2 } })).rejects.toThrow(/idaLambda must be in \[0, 1\]/);
  });
});
