// The GAN term: its hinge loss against a float64 reference, and one distillation on a small random Shapes setup (a
// 1-block DiT, a 1-layer text encoder, the evaluator's architecture with random weights) where the heads train, the
// evaluator stays frozen, the generator's loss includes L_G, and a checkpoint carries the heads.
import { beforeAll, describe, expect, it } from 'vitest';
import { ShapesDiT } from '../nets/dit';
import { AttributeEvaluator } from '../nets/evaluator';
import { TextEncoder } from '../nets/textEncoder';
import type { Engine } from '../nn/engine';
import type { Module } from '../nn/module';
import { saveModule } from '../nn/safetensors';
import { testEngine } from '../nn/testing';
import { fromArray, tidy } from '../nn/tensor';
import { hingeDiscriminatorLoss, hingeDiscriminatorLossReference } from './adversarial';
import { distillConfig } from './config';
import { SenseFlowDistiller } from './senseflow';
import { shapesTask } from './shapesTask';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const bytes = async (m: Module) => saveModule(m);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('hingeDiscriminatorLoss', () => {
  it('matches the float64 reference on logits on both sides of the margins', async () => {
    const real = [2, 0.5, -0.3, 1, 1.7];
    const fake = [-2, -0.5, 0.3, -1, 0.9];
    const value = tidy(engine, () => hingeDiscriminatorLoss(fromArray(engine, [5], real), fromArray(engine, [5], fake)));
    expect(await value.item()).toBeCloseTo(hingeDiscriminatorLossReference(real, fake), 6);
    value.dispose();
  });
});

describe('the GAN term in a distillation iteration', () => {
  it('trains the heads, leaves the evaluator frozen, adds L_G to the generator, and is checkpointed', { timeout: 60_000 }, async () => {
    const textEncoder = new TextEncoder(engine, { dim: 16, heads: 2, layers: 1, mlpRatio: 2 }, 1);
    const teacher = new ShapesDiT(engine, { dim: 32, heads: 2, depth: 1, contextDim: 16, mlpRatio: 2, frequencyDim: 16 }, 2);
    const evaluator = new AttributeEvaluator(engine, { dim: 32, heads: 2, layers: 1 }, 3);
    const config = distillConfig('gan', { batch: 2, lr: 1e-3, fakeStepsPerGeneratorStep: 1, anchorSteps: 2, backwardSimulation: 0 });
    const distiller = new SenseFlowDistiller(shapesTask(teacher, textEncoder, evaluator), config, 1);
    const evaluatorBefore = await bytes(evaluator);
    const headsBefore = await bytes(distiller.discriminator!);
    // Iterations until one starts from the second anchor (s = 0.75, L_G weight 1/16); at s = 1 its weight is 0.
    let sawWeighted = false;
    for (let t = 0; t < 6; t++) {
      const metrics = await distiller.step();
      expect(Number.isFinite(metrics.discriminatorLoss)).toBe(true);
      expect(Number.isFinite(metrics.ganLoss)).toBe(true);
      if (metrics.anchorIndex === 0) expect(metrics.ganLoss).toBeCloseTo(0, 12);
      else sawWeighted ||= metrics.ganLoss !== 0;
    }
    expect(sawWeighted).toBe(true);
    expect(same(evaluatorBefore, await bytes(evaluator))).toBe(true);
    expect(same(headsBefore, await bytes(distiller.discriminator!))).toBe(false);
    const checkpoint = await distiller.checkpoint();
    expect(checkpoint.discriminator && checkpoint.discriminatorOptimizer).toBeTruthy();
    // A run with the GAN term refuses a checkpoint without heads.
    expect(() => distiller.restore({ ...checkpoint, discriminator: undefined })).toThrow(/GAN heads/);
    distiller.dispose();
  });
});
