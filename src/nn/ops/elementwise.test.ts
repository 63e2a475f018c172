import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { add, affine, affineReference, binaryOpReference, broadcastTo, broadcastToReference, mergeBroadcastDims, mul, sub } from './elementwise';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const OPS = { add, sub, mul } as const;
// Shapes chosen to be awkward: odd sizes, broadcasting on leading, middle and trailing axes, rank mismatch.
const SHAPE_PAIRS: [number[], number[]][] = [
  [[3, 5], [3, 5]],
  [[2, 3, 7], [7]],
  [[4, 1, 5], [1, 3, 1]],
  [[5], [2, 3, 5]],
  [[2, 1, 3, 1], [1, 4, 1, 5]],
  [[67], [1]],
  [[3, 5, 4], [3, 1, 4]], // a DiT gate [B, 1, C] on tokens [B, T, C]: rank 3 after merging
  [[2, 3, 4, 5, 3], [4, 5, 3]], // rank 5 merged to 2 (a whole, b repeated over the leading dims)
];

describe.each(Object.keys(OPS) as (keyof typeof OPS)[])('%s', (name) => {
  it.each(SHAPE_PAIRS)('broadcasts %j with %j, forward and backward', async (sa, sb) => {
    await checkOp(engine, {
      inputs: [randn(sa, 1), randn(sb, 2)],
      gpu: ([a, b]) => OPS[name](a!, b!),
      reference: binaryOpReference(name),
    });
  });
});

it('merges the dims both operands walk alike, and drops size-1 dims', () => {
  // [2, 3, 4] + [3, 4]: b repeats over the batch, the last two dims walk alike -> [2, 12]
  expect(mergeBroadcastDims([2, 3, 4], [12, 4, 1], [0, 4, 1])).toEqual({ dims: [2, 12], a: [12, 1], b: [0, 1] });
  // [B, T, C] * [B, 1, C]: nothing merges
  expect(mergeBroadcastDims([2, 3, 4], [12, 4, 1], [4, 0, 1])).toEqual({ dims: [2, 3, 4], a: [12, 4, 1], b: [4, 0, 1] });
  // equal shapes with size-1 dims: one dim; a scalar result: one dim of 1
  expect(mergeBroadcastDims([2, 1, 3], [3, 3, 1], [3, 3, 1])).toEqual({ dims: [6], a: [1], b: [1] });
  expect(mergeBroadcastDims([1, 1], [0, 0], [0, 0])).toEqual({ dims: [1], a: [0], b: [0] });
});

describe('affine', () => {
  it('computes x * a + b and its gradient', async () => {
    await checkOp(engine, {
      inputs: [randn([3, 67], 3)],
      gpu: ([x]) => affine(x!, -1.5, 0.25),
      reference: { forward: ([x]) => affineReference(x!, -1.5, 0.25), backward: (_, dy) => [affineReference(dy, -1.5)] },
    });
  });
});

describe('broadcastTo', () => {
  it('repeats along broadcast axes and sums the gradient back', async () => {
    await checkOp(engine, {
      inputs: [randn([3, 1, 5], 4)],
      gpu: ([x]) => broadcastTo(x!, [2, 3, 4, 5]),
      reference: {
        forward: ([x]) => broadcastToReference(x!, [2, 3, 4, 5]),
        backward: ([x], dy) => binaryOpReference('add').backward([x!, dy], dy).slice(0, 1),
      },
    });
  });
});

it('refuses shapes that do not broadcast, naming both', () => {
  tidy(engine, () => {
    const a = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6]);
    const b = fromArray(engine, [4], [1, 2, 3, 4]);
    expect(() => add(a, b)).toThrow('shapes [2, 3] and [4] do not broadcast');
  });
});
