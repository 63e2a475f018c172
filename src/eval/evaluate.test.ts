import { beforeAll, describe, expect, it } from 'vitest';
import { makeBatch } from '../data/dataset';
import { AttributeEvaluator, predictionOfScene } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import { fromArray } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import { evaluateImages, measureAgainstReal, readImages, realFeatureStatistics, sceneAccuracy } from './evaluate';
import { HELD_OUT_SEED, REAL_REFERENCE_SEED, STEPS_PER_SEED, trainingBatchSeed, VALIDATION_SEED } from './seeds';

let engine: Engine;
let evaluator: AttributeEvaluator;
beforeAll(async () => {
  engine = await testEngine();
  // Untrained and tiny: these tests check the plumbing (batching, shapes, bookkeeping), not the readings.
  evaluator = new AttributeEvaluator(engine, { dim: 16, heads: 2, layers: 1 }, 7);
});

const data = makeBatch(11, 12);

describe('readImages / evaluateImages', () => {
  it('gives the same readings whatever the batch size, from host arrays or GPU tensors', async () => {
    const whole = await readImages(engine, evaluator, data.images, 250);
    const pieces = await readImages(engine, evaluator, data.images, 5); // 5 + 5 + 2
    const images = fromArray(engine, [12, 3, 32, 32], data.images);
    const fromTensor = await readImages(engine, evaluator, images, 7);
    images.dispose();
    expect(whole.features.length).toBe(12 * 16);
    expect(whole.dim).toBe(16);
    allclose(pieces.features, whole.features, { atol: 1e-5, rtol: 1e-4 }, 'features in batches of 5');
    allclose(fromTensor.features, whole.features, { atol: 1e-5, rtol: 1e-4 }, 'features from a tensor');
    expect(pieces.predictions).toEqual(whole.predictions);
    expect(whole.predictions[0]!.slots.map((s) => s.position)).toEqual(['top left', 'top right', 'bottom left', 'bottom right', 'center']);
  });

  it('scores the readings against the statements and keeps one check per image', async () => {
    const result = await evaluateImages(engine, evaluator, data.images, data.statements, { batch: 4 });
    expect(result.checks).toHaveLength(12);
    expect(result.promptAccuracy).toBe(result.checks.filter((c) => c.passed).length / 12);
    expect(result.perAttribute.color.total).toBe(12);
    await expect(evaluateImages(engine, evaluator, data.images, data.statements.slice(1))).rejects.toThrow('12 images for 11 statements');
    await expect(readImages(engine, evaluator, new Float32Array(100))).rejects.toThrow('100 values is not a whole number of 3x32x32 images');
  });

  it('measures a Frechet distance ~0 between real renders and themselves, and a larger one to noise', async () => {
    const real = makeBatch(REAL_REFERENCE_SEED, 40);
    const self = await measureAgainstReal(engine, evaluator, real.images, real.statements, { realCount: 40 });
    expect(self.frechetDistance).toBeLessThan(1e-6);
    expect(self.realCount).toBe(40);
    const reference = await realFeatureStatistics(engine, evaluator, { count: 40 });
    const noise = real.images.map((_, i) => Math.sin(i * 12.9898) * 0.9);
    const toNoise = await measureAgainstReal(engine, evaluator, noise, real.statements, { real: reference });
    const toOther = await measureAgainstReal(engine, evaluator, makeBatch(HELD_OUT_SEED, 40).images, real.statements, { real: reference });
    expect(toNoise.frechetDistance).toBeGreaterThan(3 * toOther.frechetDistance);
  });
});

describe('sceneAccuracy', () => {
  const batch = makeBatch(12, 200);
  const oracle = batch.scenes.map(predictionOfScene);

  it('is 1 everywhere for a perfect oracle', () => {
    const accuracy = sceneAccuracy(oracle, batch.scenes);
    expect(accuracy).toEqual({ images: 200, background: 1, presence: 1, position: 1, color: 1, shape: 1, size: 1, exact: 1 });
  });

  it('counts a wrong colour per object, a missed object per slot and per object', () => {
    const wrongColor = oracle.map((p, i) => {
      const position = batch.scenes[i]!.objects[0]!.position;
      return { ...p, slots: p.slots.map((s) => (s.position === position ? { ...s, color: s.color === 'red' ? ('blue' as const) : ('red' as const) } : s)) };
    });
    const objects = batch.scenes.reduce((n, s) => n + s.objects.length, 0);
    const a = sceneAccuracy(wrongColor, batch.scenes);
    expect(a.color).toBeCloseTo(1 - 200 / objects, 12);
    expect(a.exact).toBe(0);
    expect([a.shape, a.size, a.presence, a.background]).toEqual([1, 1, 1, 1]);

    const missed = oracle.map((p, i) => {
      const position = batch.scenes[i]!.objects[0]!.position;
      return { ...p, slots: p.slots.map((s) => (s.position === position ? { ...s, present: false } : s)) };
    });
    const m = sceneAccuracy(missed, batch.scenes);
    expect(m.presence).toBeCloseTo(1 - 200 / 1000, 12);
    expect(m.position).toBeCloseTo(1 - 200 / objects, 12);
  });
});

describe('seeds', () => {
  it('keeps training batches below 2^31 and every evaluation set above, distinct from one another', () => {
    for (const [seed, step] of [[0, 0], [1, STEPS_PER_SEED - 1], [2047, 12345], [4096, 7]] as const) {
      const s = trainingBatchSeed(seed, step);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(2 ** 31);
    }
    expect(trainingBatchSeed(1, 5)).not.toBe(trainingBatchSeed(1, 6));
    expect(trainingBatchSeed(1, 5)).not.toBe(trainingBatchSeed(2, 5));
    expect(new Set([HELD_OUT_SEED, REAL_REFERENCE_SEED, VALIDATION_SEED]).size).toBe(3);
    for (const s of [HELD_OUT_SEED, REAL_REFERENCE_SEED, VALIDATION_SEED]) expect(s).toBeGreaterThanOrEqual(2 ** 31);
    expect(() => trainingBatchSeed(1, STEPS_PER_SEED)).toThrow('outside [0, 1048576)');
  });
});
