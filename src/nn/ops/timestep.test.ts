import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { uniform } from '../host';
import { checkOp, testEngine, tolerance, type Tolerance } from '../testing';
import { fromArray, tidy } from '../tensor';
import { timestepEmbedding, timestepEmbeddingReference, type TimestepOptions } from './timestep';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/**
 * The phase phi = scale t f is one f32 product of t and a rounded frequency: |phi| 2^-23 rad of error
 * (PyTorch's float32 embedding has it too), on top of the usual tolerance. In the gradient each term
 * scale f_i (.) carries it, weighted by |dy| <= 1: sum_i scale f_i * scale |t| f_i 2^-23.
 */
function phaseTolerance(dim: number, maxT: number, options: Required<TimestepOptions>): { forward: Tolerance; backward: Tolerance } {
  const half = Math.floor(dim / 2);
  const f = Array.from({ length: half }, (_, i) => Math.exp((-Math.log(options.maxPeriod) * i) / half));
  const base = tolerance(half, options.scale);
  const phase = options.scale * maxT * 2 ** -23;
  return {
    forward: { atol: tolerance().atol + phase, rtol: base.rtol },
    backward: { atol: base.atol + f.reduce((s, fi) => s + options.scale * fi * phase * fi, 0), rtol: base.rtol },
  };
}

describe('timestepEmbedding', () => {
  it.each([
    [5, 32],
    [67, 33], // odd dim: the last column is zero and gets no gradient
    [3, 2], // one frequency
  ])('matches the reference for small phases (scale 1): batch %i, dim %i', async (batch, dim) => {
    const options = { scale: 1, maxPeriod: 10000 };
    await checkOp(engine, {
      inputs: [uniform([batch], batch + dim, 0, 3)],
      gpu: ([t]) => timestepEmbedding(t!, dim, options),
      reference: timestepEmbeddingReference(dim, options),
      k: Math.floor(dim / 2),
    });
  });

  it.each([
    ['sigmas in [0, 1] at the default scale 1000', 1, 65, {}],
    ['timesteps in [0, 1000] at scale 1, max period 500', 1000, 16, { scale: 1, maxPeriod: 500 }],
  ] as [string, number, number, TimestepOptions][])('%s: within the f32 rounding of the phase', async (_, maxT, dim, options) => {
    const full = { scale: 1000, maxPeriod: 10000, ...options };
    const tol = phaseTolerance(dim, maxT, full);
    await checkOp(engine, {
      inputs: [uniform([13], 8, 0, maxT)],
      gpu: ([t]) => timestepEmbedding(t!, dim, options),
      reference: timestepEmbeddingReference(dim, options),
      forwardTolerance: tol.forward,
      backwardTolerance: tol.backward,
    });
  });

  it('lays out [cos(phi_0..), sin(phi_0..), 0] with phi_i = 1000 t f_i', async () => {
    const out = await tidy(engine, () => timestepEmbedding(fromArray(engine, [2], [0, 0.5]), 5)).read();
    const f1 = Math.exp(-Math.log(10000) / 2);
    const expected = [1, 1, 0, 0, 0, Math.cos(500), Math.cos(500 * f1), Math.sin(500), Math.sin(500 * f1), 0];
    [...out].forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
  });

  it('refuses bad input, naming it', () => {
    tidy(engine, () => {
      const t2 = fromArray(engine, [2, 1], [0, 1], 'f32', 'sigma');
      const ids = fromArray(engine, [2], [0, 1], 'u32', 'steps');
      const t = fromArray(engine, [2], [0, 1], 'f32', 'sigma');
      expect(() => timestepEmbedding(t2, 8)).toThrow('timestepEmbedding: t: expected [batch], got sigma[2, 1]');
      expect(() => timestepEmbedding(ids, 8)).toThrow('timestepEmbedding: t: expected an f32 tensor, got u32 steps[2]');
      expect(() => timestepEmbedding(t, 1)).toThrow('timestepEmbedding: dim must be an integer >= 2, got 1');
      expect(() => timestepEmbedding(t, 7.5)).toThrow('timestepEmbedding: dim must be an integer >= 2, got 7.5');
      expect(() => timestepEmbedding(t, 8, { maxPeriod: 0 })).toThrow('timestepEmbedding: maxPeriod must be a positive number, got 0');
    });
  });
});
