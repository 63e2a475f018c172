import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { type HostTensor, randn, toF32, uniform } from '../host';
import { allclose, checkOp, type Reference, testEngine } from '../testing';
import { fromArray, type Tensor, tidy } from '../tensor';
import { mseLoss, mseLossReference, pseudoHuberLoss, pseudoHuberLossReference } from './loss';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

type LossOp = (p: Tensor, t: Tensor, w?: Tensor | null) => Tensor;
const LOSSES: Record<'mse' | 'pseudoHuber', { op: LossOp; reference: () => Reference }> = {
  mse: { op: mseLoss, reference: mseLossReference },
  pseudoHuber: { op: (p, t, w) => pseudoHuberLoss(p, t, 0.3, w), reference: () => pseudoHuberLossReference(0.3) },
};

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe.each(Object.keys(LOSSES) as (keyof typeof LOSSES)[])('%s', (name) => {
  const { op, reference } = LOSSES[name];

  it.each([[[3, 67]], [[2, 5, 7]], [[1]], [[600]]])('means over %j, gradients for prediction and target', async (shape) => {
    await checkOp(engine, {
      inputs: [randn(shape, 1), randn(shape, 2)],
      gpu: ([p, t]) => op(p!, t!),
      reference: reference(),
      k: count(shape),
    });
  });

  it.each([[[4, 33]], [[5, 2, 3]]])('weights samples of %j, with gradients for the weights too', async (shape) => {
    await checkOp(engine, {
      inputs: [randn(shape, 3), randn(shape, 4), uniform([shape[0]!], 5, 0, 2)],
      gpu: ([p, t, w]) => op(p!, t!, w!),
      reference: reference(),
      k: count(shape),
    });
  });

  it('returns no gradient for a target that needs none', async () => {
    await checkOp(engine, {
      inputs: [randn([3, 7], 6), randn([3, 7], 7), uniform([3], 8, 0, 2)],
      differentiable: [true, false, false],
      gpu: ([p, t, w]) => op(p!, t!, w!),
      reference: reference(),
      k: 21,
    });
  });

  it('reduces 100k elements to a scalar within a few ulp (two-level sum)', async () => {
    const shape = [8, 12500];
    const inputs = [randn(shape, 9), randn(shape, 10), uniform([8], 11, 0, 2)].map(toF32) as [HostTensor, HostTensor, HostTensor];
    const expected = reference().forward(inputs).data[0]!;
    const value = await tidy(engine, () => {
      const [p, t, w] = inputs.map((x) => fromArray(engine, x.shape, x.data));
      return op(p!, t!, w!);
    }).item();
    // A single f32 running sum over 1e5 positive terms drifts by ~1e-5 relative; two levels stay near 1e-7.
    allclose([value], [expected], { atol: 0, rtol: 1e-6 }, `${name} of 100k elements`);
  });
});

it('pseudoHuberLoss keeps its value where |d| << c (no cancellation in sqrt(d^2 + c^2) - c)', async () => {
  // d ~ 1e-3, c = 10: the loss is ~ d^2 / 2c = 5e-8, while sqrt(d^2 + c^2) rounds to c in f32.
  const p = randn([4, 9], 12);
  const t = { shape: p.shape, data: p.data.map((v, i) => v + 1e-3 * Math.cos(i)) };
  await checkOp(engine, {
    inputs: [p, t],
    gpu: ([a, b]) => pseudoHuberLoss(a!, b!, 10),
    reference: pseudoHuberLossReference(10),
    forwardTolerance: { atol: 0, rtol: 1e-4 },
    backwardTolerance: { atol: 1e-9, rtol: 1e-3 },
  });
});

it('refuses bad input, naming the tensor and what was expected', () => {
  tidy(engine, () => {
    const p = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6], 'f32', 'pred');
    const t = fromArray(engine, [3, 2], [1, 2, 3, 4, 5, 6], 'f32', 'x0');
    const w = fromArray(engine, [3], [1, 1, 1], 'f32', 'w');
    const scalar = fromArray(engine, [], [1], 'f32', 'scalar');
    const empty = fromArray(engine, [0, 3], [], 'f32', 'none');
    expect(() => mseLoss(p, t)).toThrow("mseLoss: target (the prediction's shape): expected [2, 3], got x0[3, 2]");
    expect(() => mseLoss(p, p, w)).toThrow('mseLoss: weights (one per sample): expected [2], got w[3]');
    expect(() => mseLoss(scalar, scalar, w)).toThrow('mseLoss: weights need a batch axis, but the prediction scalar[] is a scalar');
    expect(() => mseLoss(empty, empty)).toThrow('mseLoss: prediction none[0, 3] is empty');
    expect(() => pseudoHuberLoss(p, p, 0)).toThrow('pseudoHuberLoss: c must be a positive number, got 0');
    expect(() => pseudoHuberLoss(p, t, 1)).toThrow("pseudoHuberLoss: target (the prediction's shape): expected [2, 3], got x0[3, 2]");
  });
});

it('a scalar prediction gives a scalar loss', async () => {
  const value = await tidy(engine, () => mseLoss(fromArray(engine, [], [3]), fromArray(engine, [], [1]))).item();
  expect(value).toBe(4);
});
