import { beforeAll, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { reciprocal, reciprocalReference } from './reciprocal';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

// Noise levels as the DiT sees them, below, at and above the floor (finite differences need the values to stay
// clear of the kink at the floor by more than their step), and a length that is not a multiple of the workgroup.
const LEVELS = [1, 0.98, 0.5, 0.2, 0.07, 0.051, 0.049, 0.02, 0, -0.3, 3, 0.75, 0.9, 0.25, 0.6, 0.33, 0.1, 0.12, 0.8, 0.4, 0.45, 0.66, 0.71, 0.05001, 0.55, 0.15, 0.35];

it('matches the float64 reference below, at and above the floor, forward and backward', async () => {
  const values = LEVELS.filter((v) => Math.abs(v - 0.05) > 1e-3);
  const x = host([values.length], values);
  await checkOp(engine, { inputs: [x], gpu: ([t]) => reciprocal(t!, 0.05), reference: reciprocalReference(0.05) });
});

it('is 1 / floor, with no gradient, at and below the floor', async () => {
  const values = await tidy(engine, () => reciprocal(fromArray(engine, [4], [0.05, 0.01, 0, -2], 'f32', 's'), 0.05)).read();
  expect(Array.from(values)).toEqual([20, 20, 20, 20].map((v) => Math.fround(v)));
});

it('refuses a floor that is not positive, and a u32 tensor', () => {
  tidy(engine, () => {
    const s = fromArray(engine, [2], [0.5, 1], 'f32', 's');
    expect(() => reciprocal(s, 0)).toThrow('reciprocal: the floor must be a positive number, got 0');
    const ids = fromArray(engine, [2], [1, 2], 'u32', 'ids');
    expect(() => reciprocal(ids, 0.05)).toThrow('reciprocal: expected an f32 tensor, got u32 ids[2]');
  });
});
