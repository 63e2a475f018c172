import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../nn/engine';
import { randn } from '../nn/host';
import { allclose, testEngine, tolerance } from '../nn/testing';
import { backward, fromArray, type Tensor, tidy } from '../nn/tensor';
import { dmdGradient, dmdGradientReference, dmdLoss, dmdLossReference, isgLoss, isgLossReference } from './losses';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function inputs(shape: number[], seed: number) {
  const n = numel(shape);
  return { x: randn([n], seed).data, real: randn([n], seed + 1).data, fake: randn([n], seed + 2).data };
}

describe('dmdGradient', () => {
  // Awkward shapes: per-sample sizes that are not multiples of 64 (the block length) or of the workgroup, one sample,
  // one value per sample, and a per-sample size over 64 * 64.
  it.each([[[3, 37]], [[5, 3, 7, 5]], [[1, 1]], [[7, 2]], [[2, 3, 40, 41]]])('matches the float64 reference on %j', async (shape) => {
    const { x, real, fake } = inputs(shape, 11);
    const expected = dmdGradientReference(x, real, fake, shape[0]!);
    const { g, norm } = tidy(engine, () => {
      const t = (data: ArrayLike<number>) => fromArray(engine, shape, data);
      return dmdGradient(t(x), t(real), t(fake));
    });
    allclose(await norm.read(), expected.norm, tolerance(numel(shape) / shape[0]!), 'normaliser');
    allclose(await g.read(), expected.g, { atol: 1e-5, rtol: 1e-4 }, 'g');
    g.dispose();
    norm.dispose();
  });

  it('is zero where the fake and real scores agree, whatever the generator sample', async () => {
    const shape = [4, 9];
    const { x, real } = inputs(shape, 3);
    const g = tidy(engine, () => dmdGradient(fromArray(engine, shape, x), fromArray(engine, shape, real), fromArray(engine, shape, real)).g);
    expect(Math.max(...(await g.read()).map(Math.abs))).toBe(0);
    g.dispose();
  });

  it('divides each sample by its own normaliser, so scaling one sample by k scales its g by 1/k only', async () => {
    const shape = [2, 5];
    const { x, real, fake } = inputs(shape, 5);
    const scaled = Float64Array.from(x, (v, i) => (i < 5 ? real[i]! + 3 * (v - real[i]!) : v));
    const [base, moved] = await Promise.all(
      [x, scaled].map(async (input) => {
        const g = tidy(engine, () => dmdGradient(fromArray(engine, shape, input), fromArray(engine, shape, real), fromArray(engine, shape, fake)).g);
        const values = await g.read();
        g.dispose();
        return values;
      }),
    );
    allclose(moved!.subarray(0, 5), Array.from(base!.subarray(0, 5), (v) => v / 3), { atol: 1e-6, rtol: 1e-5 }, 'sample 0');
    allclose(moved!.subarray(5), base!.subarray(5), { atol: 0, rtol: 0 }, 'sample 1');
  });

  it('refuses mismatched shapes, naming the argument', () => {
    tidy(engine, () => {
      const a = fromArray(engine, [2, 3], new Float32Array(6));
      const b = fromArray(engine, [3, 2], new Float32Array(6));
      expect(() => dmdGradient(a, b, a)).toThrow(/x0Real/);
    });
  });
});

describe('dmdLoss', () => {
  it('has the value 0.5 mean(g^2) and the gradient g / numel with respect to x (and none through g)', async () => {
    const shape = [3, 2, 5];
    const { x, real: g } = inputs(shape, 21);
    const expected = dmdLossReference(Float32Array.from(g));
    const { value, grad } = tidy(engine, () => {
      const xt = fromArray(engine, shape, x);
      xt.requiresGrad = true;
      const gt = fromArray(engine, shape, g);
      const loss = dmdLoss(xt, gt);
      const grads = backward(loss);
      return { value: loss, grad: grads.get(xt)! as Tensor };
    });
    expect(await value.item()).toBeCloseTo(expected.value, 5);
    allclose(await grad.read(), expected.gradient, { atol: 1e-7, rtol: 1e-5 }, 'dL/dx');
    value.dispose();
    grad.dispose();
  });
});

describe('isgLoss', () => {
  it.each(['pseudo-huber', 'l2'] as const)('%s matches the reference in value and gradient', async (kind) => {
    const shape = [4, 3, 3];
    // Differences around c = 1e-3 and far beyond it, where pseudo-Huber turns from quadratic to linear.
    const { x: p } = inputs(shape, 31);
    const t = Float64Array.from(p, (v, i) => v + (i % 3 === 0 ? 5e-4 : i % 3 === 1 ? -0.7 : 2e-3));
    const expected = isgLossReference(Float32Array.from(p), Float32Array.from(t), kind);
    const { value, grad } = tidy(engine, () => {
      const pt = fromArray(engine, shape, p);
      pt.requiresGrad = true;
      const loss = isgLoss(pt, fromArray(engine, shape, t), kind);
      return { value: loss, grad: backward(loss).get(pt)! as Tensor };
    });
    expect(await value.item()).toBeCloseTo(expected.value, 6);
    allclose(await grad.read(), expected.gradient, { atol: 1e-6, rtol: 1e-3 }, 'gradient');
    value.dispose();
    grad.dispose();
  });
});
