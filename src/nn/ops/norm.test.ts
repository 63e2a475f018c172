import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { backward, fromArray, noGrad, tidy } from '../tensor';
import { layerNorm, layerNormReference } from './norm';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

// Odd row counts and channel counts; 67 rows spans two workgroups of the row kernels and two 64-row
// accumulation blocks of the dgamma/dbeta kernel.
const CASES: [string, number[], boolean, boolean][] = [
  ['gamma and beta', [3, 5, 7], true, true],
  ['gamma only', [2, 67], true, false],
  ['beta only', [4, 1, 9], false, true],
  ['no affine (adaLN)', [67, 5], false, false],
  ['one row', [33], true, true],
];

describe('layerNorm', () => {
  it.each(CASES)('%s, x %j: forward, dx, dgamma, dbeta', async (_, shape, hasGamma, hasBeta) => {
    const channels = shape.at(-1)!;
    const inputs = [randn(shape, 1, 2)];
    if (hasGamma) inputs.push(randn([channels], 2));
    if (hasBeta) inputs.push(randn([channels], 3));
    await checkOp(engine, {
      inputs,
      gpu: ([x, ...affine]) => layerNorm(x!, hasGamma ? affine[0] : null, hasBeta ? affine.at(-1) : null),
      reference: layerNormReference(1e-6, hasGamma, hasBeta),
      k: channels,
    });
  });

  it('uses eps, and a constant row normalises to beta with a finite gradient', async () => {
    const x = randn([3, 6], 4);
    x.data.fill(0.75, 6, 12); // row 1 is constant: var = 0, rstd = 1/sqrt(eps)
    await checkOp(engine, {
      inputs: [x, randn([6], 5), randn([6], 6)],
      gpu: ([x, g, b]) => layerNorm(x!, g, b, 0.1),
      reference: layerNormReference(0.1, true, true),
      k: 6,
    });
  });

  it('gives no gradient to an affine parameter that does not need one', async () => {
    await checkOp(engine, {
      inputs: [randn([5, 7], 7), randn([7], 8), randn([7], 9)],
      differentiable: [true, false, true],
      gpu: ([x, g, b]) => layerNorm(x!, g, b),
      reference: layerNormReference(1e-6, true, true),
      k: 7,
    });
  });

  it('frees its saved statistics after the backward, and at once without gradients', async () => {
    const before = engine.stats().liveBuffers;
    tidy(engine, () => {
      const x = fromArray(engine, [5, 3], randn([5, 3], 10).data, 'f32', 'x');
      let live = engine.stats().liveBuffers;
      noGrad(engine, () => layerNorm(x));
      expect(engine.stats().liveBuffers).toBe(live + 1); // y only
      x.requiresGrad = true;
      live = engine.stats().liveBuffers;
      const y = layerNorm(x);
      expect(engine.stats().liveBuffers).toBe(live + 2); // y and its statistics
      const seed = fromArray(engine, y.shape, randn(y.shape, 11).data, 'f32', 'dy');
      live = engine.stats().liveBuffers;
      backward(y, seed);
      expect(engine.stats().liveBuffers).toBe(live + 1 - 1); // dx in, statistics out
    });
    await engine.sync();
    expect(engine.stats().liveBuffers).toBe(before);
  });

  it('names the tensor and the expected shape on bad input', () => {
    tidy(engine, () => {
      const x = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6], 'f32', 'x');
      const gamma = fromArray(engine, [4], [1, 1, 1, 1], 'f32', 'gamma');
      const beta = fromArray(engine, [3, 1], [0, 0, 0], 'f32', 'beta');
      expect(() => layerNorm(x, gamma)).toThrow('layerNorm gamma: expected [3], got gamma[4]');
      expect(() => layerNorm(x, null, beta)).toThrow('layerNorm beta: expected [3], got beta[3, 1]');
      const indices = fromArray(engine, [3], [0, 1, 2], 'u32', 'indices');
      expect(() => layerNorm(indices)).toThrow('layerNorm x: expected an f32 tensor, got u32 indices[3]');
      expect(() => layerNorm(fromArray(engine, [2, 0], [], 'f32', 'e'))).toThrow('layerNorm x: the last axis is empty in e[2, 0]');
    });
  });
});
