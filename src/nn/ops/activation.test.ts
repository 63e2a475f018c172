import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host, randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { gelu, geluReference, relu, reluReference, silu, siluReference } from './activation';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const OPS = {
  gelu: [gelu, geluReference],
  silu: [silu, siluReference],
  relu: [relu, reluReference],
} as const;

describe.each(Object.keys(OPS) as (keyof typeof OPS)[])('%s', (name) => {
  const [op, reference] = OPS[name];

  it.each([[[3, 67]], [[2, 5, 13]], [[1]]])('matches the float64 reference on %j, forward and backward', async (shape) => {
    await checkOp(engine, { inputs: [randn(shape, 3, 3)], gpu: ([x]) => op(x!), reference: reference() });
  });

  it('stays finite and exact in the tails (|x| up to 100)', async () => {
    // The tanh argument reaches 1e5 here; an unclamped tanh through exp gives inf/inf = NaN on some backends.
    // ReLU's kink at 0 has no finite-difference derivative (the op uses 0 there), so 0 is left out for it.
    const values = [-100, -30, -12, -5, -1e-3, ...(name === 'relu' ? [] : [0]), 1e-3, 5, 12, 30, 100];
    await checkOp(engine, {
      inputs: [host([values.length], values)],
      gpu: ([x]) => op(x!),
      reference: reference(),
    });
  });
});

it('refuses a u32 tensor, naming it', () => {
  tidy(engine, () => {
    const ids = fromArray(engine, [3], [1, 2, 3], 'u32', 'ids');
    expect(() => gelu(ids)).toThrow('gelu: expected an f32 tensor, got u32 ids[3]');
    expect(() => silu(ids)).toThrow('silu: expected an f32 tensor, got u32 ids[3]');
  });
});
