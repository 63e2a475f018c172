// The GAN term: its hinge loss against a float64 reference, and one distillation on a small random Shapes setup (a
// 1-block DiT, a 1-layer text encoder, the evaluator's architecture with random weights) where the heads train, the
// evaluator stays frozen, the generator's loss includes L_G, and a checkpoint carries the heads; on the 2D toy the
// same with the frozen copy of the teacher as the feature network, freed with the distiller.
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
import { RING } from '../data/toy2d';
import { Toy2DTeacher } from '../nets/toy2d';
import { toyTask } from './toyTask';

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

  it('runs on the 2D toy through a frozen copy of the teacher, which the distiller frees', { timeout: 60_000 }, async () => {
    const teacher = new Toy2DTeacher(engine, { labels: RING.labels.length, hidden: 16, embeddingDim: 8 }, 3);
    const teacherBefore = await bytes(teacher);
    const live = engine.stats().liveBytes;
    const task = toyTask(teacher, RING);
    const distiller = new SenseFlowDistiller(task, distillConfig('gan', { batch: 8, lr: 1e-2, anchorSteps: 2, backwardSimulation: 0, fakeStepsPerGeneratorStep: 1 }), 2);
    const features = task.adversarial!;
    expect([features.layers, features.featureDim, features.textDim]).toEqual([2, 16, 8]);
    expect(features.network).not.toBe(teacher);
    expect(features.network.parameters().every((p) => !p.requiresGrad)).toBe(true);
    const headsBefore = await bytes(distiller.discriminator!);
    let sawWeighted = false;
    for (let t = 0; t < 6; t++) {
      const metrics = await distiller.step();
      expect(Number.isFinite(metrics.discriminatorLoss)).toBe(true);
      sawWeighted ||= metrics.anchorIndex === 1 && metrics.ganLoss !== 0;
    }
    expect(sawWeighted).toBe(true);
    expect(same(headsBefore, await bytes(distiller.discriminator!))).toBe(false);
    expect(same(teacherBefore, await bytes(teacher))).toBe(true);
    expect(same(teacherBefore, await bytes(features.network))).toBe(true); // the copy is frozen too
    distiller.dispose();
    expect(engine.stats().liveBytes).toBe(live); // the copy went with the distiller
    expect(task.adversarial!.network).not.toBe(features.network); // a later run gets a fresh copy
    task.adversarial!.release!();
  });

  it('refuses the GAN term on a task made without a feature network, rather than training without it', () => {
    const textEncoder = new TextEncoder(engine, { dim: 16, heads: 2, layers: 1, mlpRatio: 2 }, 1);
    const teacher = new ShapesDiT(engine, { dim: 32, heads: 2, depth: 1, contextDim: 16, mlpRatio: 2, frequencyDim: 16 }, 2);
    expect(() => new SenseFlowDistiller(shapesTask(teacher, textEncoder), distillConfig('gan', { batch: 2 }), 1)).toThrow(
      'the adversarial (GAN) term needs a frozen feature network, and this shapes task was made without one; run it with --gan 0',
    );
    teacher.dispose();
    textEncoder.dispose();
  });
});
