import { describe, expect, it } from 'vitest';
import { eulerSigmas } from './schedule';
import { cfgCombine, eulerStep, noiseTo, renoiseStep, sampleEuler, sampleX0Renoise, velocityTarget, x0FromVelocity } from './samplers';

const f = (...values: number[]) => Float32Array.from(values);

describe('the flow-matching formulas', () => {
  it('noise, target, x0_hat, Euler and renoise give the numbers of their equations', () => {
    const x0 = f(1, -1);
    const eps = f(0.5, 2);
    const xs = noiseTo(x0, eps, 0.25); // 0.75 x0 + 0.25 eps
    expect(Array.from(xs)).toEqual([0.875, -0.25]);
    const v = velocityTarget(x0, eps);
    expect(Array.from(v)).toEqual([-0.5, 3]);
    // x0_hat = x_s - s v recovers x0 from the true velocity
    expect(Array.from(x0FromVelocity(xs, v, 0.25))).toEqual([1, -1]);
    // Euler from 0.25 to 0.75 along the true velocity lands on the path: x_0.75 = 0.25 x0 + 0.75 eps
    expect(Array.from(eulerStep(xs, v, 0.25, 0.75))).toEqual([0.625, 1.25]);
    // renoise: (1 - 0.5) x0_hat + 0.5 eps'
    expect(Array.from(renoiseStep(xs, v, 0.25, 0.5, f(2, 4)))).toEqual([1.5, 1.5]);
  });
  it('combines guidance as v_null + w (v_text - v_null)', () => {
    expect(Array.from(cfgCombine(f(1, 2), f(2, 0), 4))).toEqual([5, -6]);
    expect(Array.from(cfgCombine(f(1, 2), f(2, 0), 1))).toEqual([2, 0]);
    expect(Array.from(cfgCombine(f(1, 2), f(2, 0), 0))).toEqual([1, 2]);
  });
  it('refuses arrays of different lengths', () => {
    expect(() => eulerStep(f(1, 2), f(1), 1, 0)).toThrow('eulerStep: arrays of 2 and 1 values');
  });
});

describe('samplers', () => {
  // For one data point x0 the exact velocity at x is (x - x0) / s: the path is straight and Euler is exact.
  const x0 = f(0.3, -0.7, 0.1);
  const exact = (x: Float32Array, s: number) => x.map((xi, i) => (xi - x0[i]!) / s);

  it('sampleEuler follows a straight path to its data point and calls the model once per step', async () => {
    const calls: [number, number][] = [];
    const out = await sampleEuler(
      (x, s, step) => {
        calls.push([s, step]);
        return exact(x, s);
      },
      f(1, 2, -1),
      eulerSigmas(4),
    );
    for (let i = 0; i < 3; i++) expect(out[i]).toBeCloseTo(x0[i]!, 6);
    expect(calls).toEqual([[1, 0], [0.75, 1], [0.5, 2], [0.25, 3]]);
  });
  it('sampleX0Renoise returns the last x0_hat and draws fresh noise between anchors', async () => {
    const noises: number[] = [];
    const out = await sampleX0Renoise(exact, f(1, 2, -1), [1, 0.75], (i) => {
      noises.push(i);
      return f(5, 5, 5);
    });
    for (let i = 0; i < 3; i++) expect(out[i]).toBeCloseTo(x0[i]!, 6);
    expect(noises).toEqual([0]);
  });
  it('refuses noise levels that do not decrease or leave [0, 1]', async () => {
    await expect(sampleEuler(exact, f(0), [1, 1, 0])).rejects.toThrow('sampleEuler: noise levels must decrease, got 1 then 1');
    await expect(sampleEuler(exact, f(0), [1.2, 0])).rejects.toThrow('noise level 1.2 at index 0 is outside [0, 1]');
    await expect(sampleEuler(exact, f(0), [1])).rejects.toThrow('needs at least two noise levels');
  });
});
