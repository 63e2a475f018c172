import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host, type HostTensor, mulberry32, randn, toF32 } from '../host';
import { allclose, checkOp, testEngine } from '../testing';
import { backward, fromArray, tidy } from '../tensor';
import { IGNORED_TARGET, softmaxCrossEntropy, softmaxCrossEntropyReference } from './crossEntropy';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

function classes(rowShape: number[], channels: number, seed: number): HostTensor {
  const random = mulberry32(seed);
  const t = host(rowShape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.floor(random() * channels);
  return t;
}

function mask(rowShape: number[], seed: number): HostTensor {
  const random = mulberry32(seed);
  const t = host(rowShape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = random() < 0.6 ? 1 : 0;
  return t;
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe('softmaxCrossEntropy', () => {
  // Odd class counts and row counts; 67 rows span two workgroups; one class (ce = 0, gradient 0); a single row.
  it.each([[[3, 5]], [[2, 3, 7]], [[67, 9]], [[5, 1]], [[11]]])('means over the rows of %j, forward and gradient', async (shape) => {
    const rowShape = shape.slice(0, -1);
    await checkOp(engine, {
      inputs: [randn(shape, 1, 2), classes(rowShape, shape.at(-1)!, 2)],
      dtypes: ['f32', 'u32'],
      differentiable: [true, false],
      gpu: ([x, t]) => softmaxCrossEntropy(x!, t!),
      reference: softmaxCrossEntropyReference(),
      k: count(shape),
    });
  });

  it.each([[[4, 5, 2]], [[67, 8]], [[3, 4]]])('weights the rows of %j (0 masks a row out)', async (shape) => {
    const rowShape = shape.slice(0, -1);
    await checkOp(engine, {
      inputs: [randn(shape, 3, 2), classes(rowShape, shape.at(-1)!, 4), mask(rowShape, 5)],
      dtypes: ['f32', 'u32', 'f32'],
      differentiable: [true, false, false],
      gpu: ([x, t, w]) => softmaxCrossEntropy(x!, t!, w!),
      reference: softmaxCrossEntropyReference(),
      k: count(shape),
    });
  });

  it('with every row masked out is 0 with a zero gradient (the denominator is max(sum w, 1))', async () => {
    const x = randn([3, 4], 6);
    const { value, grad } = await evaluate(x, [0, 1, 2], [0, 0, 0]);
    expect(value).toBe(0);
    expect(grad.every((g) => g === 0)).toBe(true);
  });

  it('divides by the sum of the weights, not the row count', async () => {
    // Equal rows with weights 2 and 1: the weighted mean equals each row's own loss.
    const x = host([2, 3], [0.5, -1, 2, 0.5, -1, 2]);
    const { value } = await evaluate(x, [1, 1], [2, 1]);
    const single = await evaluate(host([1, 3], [0.5, -1, 2]), [1]);
    allclose([value], [single.value], { atol: 1e-6, rtol: 1e-6 });
  });

  it('ignores rows whose target is out of range: no loss, no count, zero gradient', async () => {
    const x = randn([4, 5], 7, 2);
    const targets = [2, 5, IGNORED_TARGET, 0];
    await checkOp(engine, {
      inputs: [x, host([4], targets)],
      dtypes: ['f32', 'u32'],
      differentiable: [true, false],
      gpu: ([l, t]) => softmaxCrossEntropy(l!, t!),
      reference: softmaxCrossEntropyReference(),
      k: 20,
    });
    // The same as the loss over the two valid rows alone.
    const full = await evaluate(x, targets);
    const valid = await evaluate(host([2, 5], [...x.data.slice(0, 5), ...x.data.slice(15, 20)]), [2, 0]);
    allclose([full.value], [valid.value], { atol: 1e-6, rtol: 1e-6 }, 'loss with ignored rows');
    expect(full.grad.slice(5, 15).every((g) => g === 0)).toBe(true);
  });

  it('is stable for huge logits (the row max is subtracted): finite, and ~0 for a confident right answer', async () => {
    const x = host([2, 3], [1000, -1000, 0, 80, 85, 90]);
    const { value } = await evaluate(x, [0, 1]);
    // Row 0: ce ~ 0; row 1: ce = logsumexp(80, 85, 90) - 85 = 5 + log(1 + e^-5 + e^-10).
    allclose([value], [(5 + Math.log(1 + Math.exp(-5) + Math.exp(-10))) / 2], { atol: 1e-5, rtol: 1e-6 });
  });

  it('equals log(C) for uniform logits', async () => {
    const { value } = await evaluate(host([2, 7]), [3, 6]);
    allclose([value], [Math.log(7)], { atol: 1e-6, rtol: 1e-6 });
  });

  it('records nothing without a gradient and frees its saved probabilities', async () => {
    await engine.sync();
    const before = engine.stats().liveBytes;
    const x = fromArray(engine, [6, 5], randn([6, 5], 8).data);
    const t = fromArray(engine, [6], [0, 1, 2, 3, 4, 0], 'u32');
    const loss = softmaxCrossEntropy(x, t);
    expect(loss.requiresGrad).toBe(false);
    for (const tensor of [x, t, loss]) tensor.dispose();
    await engine.sync();
    expect(engine.stats().liveBytes).toBe(before);
  });

  it('refuses bad input, naming the tensor', () => {
    tidy(engine, () => {
      const x = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6], 'f32', 'logits');
      const t = fromArray(engine, [2], [0, 1], 'u32', 'labels');
      expect(() => softmaxCrossEntropy(x, fromArray(engine, [2], [0, 1], 'f32', 'fl'))).toThrow('targets must be u32 class indices, got f32 fl[2]');
      expect(() => softmaxCrossEntropy(x, fromArray(engine, [3], [0, 1, 2], 'u32', 'three'))).toThrow(
        'softmaxCrossEntropy: targets (one per row of the logits): expected [2], got three[3]',
      );
      expect(() => softmaxCrossEntropy(x, t, fromArray(engine, [2, 1], [1, 1], 'f32', 'w'))).toThrow('weights (one per row of the logits): expected [2], got w[2, 1]');
      expect(() => softmaxCrossEntropy(fromArray(engine, [2, 0], [], 'f32', 'none'), t)).toThrow('logits none[2, 0] have no classes');
    });
  });
});

async function evaluate(x: HostTensor, targets: number[], weights?: number[]): Promise<{ value: number; grad: Float32Array }> {
  const kept = tidy(engine, () => {
    const rows = x.shape.slice(0, -1);
    const logits = fromArray(engine, x.shape, toF32(x).data);
    logits.requiresGrad = true;
    const loss = softmaxCrossEntropy(logits, fromArray(engine, rows, targets, 'u32'), weights ? fromArray(engine, rows, weights) : null);
    const grads = backward(loss);
    return { loss, grad: grads.get(logits)! };
  });
  const result = { value: await kept.loss.item(), grad: await kept.grad.read() };
  kept.loss.dispose();
  kept.grad.dispose();
  return result;
}
