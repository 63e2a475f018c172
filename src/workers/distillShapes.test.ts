// A Distill tab run on Shapes-32, on Dawn with the bundled teacher and evaluator at small sizes: the teacher's grid
// and reference, the figure (the student's images at 1, 2 and 4 steps equal the teacher-copy's at iteration 0 for
// the same noise), an evaluation, a few iterations with the GAN term, and a damaged evaluator refused by its hash.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { distillConfig } from '../distill/config';
import type { Engine } from '../nn/engine';
import { testEngine } from '../nn/testing';
import { directorySource } from '../pipeline/bundleWrite';
import { sha256Hex } from '../pipeline/manifest';
import { type DistillEvent, isShapesEvaluation, isShapesFigure, type RunSettings } from './distillApi';
import { openShapesRun, SHAPES_PLAYGROUND } from './distillShapes';
import { loadEvaluatorFile, loadShapesTeacherBundle } from './distillTeacher';

let engine: Engine;
let evaluatorSha: string;
beforeAll(async () => {
  engine = await testEngine();
  evaluatorSha = await sha256Hex(readFileSync('models/evaluator/evaluator.safetensors'));
});

const sizes = { ...SHAPES_PLAYGROUND, gridCaptions: 2, evalCaptions: 4, teacherSteps: 4, chunk: 4, profileSamples: 4 };
const memory = new Map<string, Float32Array>();
const store = { loadReference: async (key: string) => memory.get(key) ?? null, saveReference: async (key: string, v: Float32Array) => void memory.set(key, v) };

describe('openShapesRun', () => {
  it('draws the teacher once, the student at each step count, evaluates, and trains with the GAN term', { timeout: 600_000 }, async () => {
    const settings: RunSettings = {
      task: 'shapes',
      seed: 3,
      config: distillConfig('senseflow', { batch: 2, ganWeight: 0.1, fakeStepsPerGeneratorStep: 1 }, { lr: 1e-4, guidance: [3, 5] }),
      teacherUrl: 'models/shapes-teacher/',
      iterations: 10,
      checkpointEvery: 10,
      figureEvery: 10,
    };
    const events: DistillEvent[] = [];
    const evaluator = await loadEvaluatorFile(engine, directorySource('models/evaluator'), 'evaluator.safetensors', evaluatorSha);
    const shapes = await loadShapesTeacherBundle(engine, directorySource('models/shapes-teacher'));
    const run = await openShapesRun(shapes, evaluator, settings, store, (e) => events.push(e), sizes);
    try {
      expect(events.map((e) => e.type === 'loading' && e.what)).toEqual([expect.stringContaining('Sampling the teacher (4 captions, 4 Euler steps at guidance 4'), expect.stringContaining('reconstruction error')]);
      expect(run.teacher).toBeNull();
      expect(run.teacherImages!.captions).toHaveLength(2);
      expect(run.teacherImages!.images).toHaveLength(2 * 3 * 32 * 32);
      expect(run.profile.error.at(-1)).toBeGreaterThan(run.profile.error[0]!);

      const figure = await run.figure({ fakeScore: false });
      if (!isShapesFigure(figure)) throw new Error('expected a Shapes figure');
      expect(figure.iteration).toBe(0);
      expect(figure.students.map((s) => s.steps)).toEqual([1, 2, 4]);
      for (const s of figure.students) {
        expect(s.images).toHaveLength(2 * 3 * 32 * 32);
        expect(s.images.every(Number.isFinite)).toBe(true);
      }
      const evaluation = await run.evaluate();
      if (!isShapesEvaluation(evaluation)) throw new Error('expected a Shapes evaluation');
      expect(Object.keys(evaluation.steps)).toEqual(['1', '2', '4']);
      for (const m of Object.values(evaluation.steps)) {
        expect(m.promptAccuracy).toBeGreaterThanOrEqual(0);
        expect(m.promptAccuracy).toBeLessThanOrEqual(1);
        expect(Number.isFinite(m.fdTeacher)).toBe(true);
      }
      expect(evaluation.parameterDistance).toBe(0);

      for (let i = 0; i < 2; i++) {
        const metrics = await run.distiller.step();
        expect(Number.isFinite(metrics.fakeLoss)).toBe(true);
        expect(metrics.discriminatorLoss).toBeDefined();
      }
      expect((await run.evaluate()).parameterDistance).toBeGreaterThan(0);
    } finally {
      run.dispose();
    }

    // A second run of the same teacher and guidance takes the references from the cache: nothing to sample.
    events.length = 0;
    const again = await openShapesRun(
      await loadShapesTeacherBundle(engine, directorySource('models/shapes-teacher')),
      await loadEvaluatorFile(engine, directorySource('models/evaluator'), 'evaluator.safetensors', evaluatorSha),
      settings,
      store,
      (e) => events.push(e),
      sizes,
    );
    expect(events).toEqual([]);
    again.dispose();
  });

  it('refuses an evaluator file whose sha256 is not the expected one', async () => {
    await expect(loadEvaluatorFile(engine, directorySource('models/evaluator'), 'evaluator.safetensors', '0'.repeat(64))).rejects.toThrow(/evaluator\.safetensors: sha256 [0-9a-f]{64} is not the expected 0{64}; the evaluator file is damaged/);
  });
});
