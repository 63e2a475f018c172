import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { concat, concatReference, reshape, slice, sliceReference, transpose, transposeReference } from './shape';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('concat', () => {
  it.each([
    [[[3, 5], [3, 2], [3, 7]], 1],
    [[[2, 3, 5], [4, 3, 5]], 0],
    [[[2, 3, 5], [2, 1, 5], [2, 4, 5]], -2],
    [[[67], [3]], 0],
    [[[2, 0, 3], [2, 5, 3]], 1], // an empty input contributes nothing and gets an empty gradient
  ] as [number[][], number][])('joins %j along axis %i, forward and backward', async (shapes, axis) => {
    await checkOp(engine, {
      inputs: shapes.map((s, i) => randn(s, 10 + i)),
      gpu: (xs) => concat(xs, axis),
      reference: concatReference(axis),
    });
  });

  it('copies u32 words bit-exactly', async () => {
    const out = await tidy(engine, () => {
      const a = fromArray(engine, [2, 1], [0xffffffff, 7], 'u32');
      const b = fromArray(engine, [2, 2], [0x7fc00001, 1, 2, 3], 'u32');
      return concat([a, b], 1);
    }).readU32();
    expect([...out]).toEqual([0xffffffff, 0x7fc00001, 1, 7, 2, 3]);
  });
});

describe('slice', () => {
  it.each([
    [[5, 7], 1, 2, 6],
    [[67, 3], 0, 5, 67],
    [[2, 3, 13], -1, 0, 1],
    [[4, 5], 0, 2, 2], // empty: its gradient is all zeros
  ] as [number[], number, number, number][])('takes %j axis %i [%i, %i), forward and zero-padded backward', async (shape, axis, start, end) => {
    await checkOp(engine, { inputs: [randn(shape, 20)], gpu: ([x]) => slice(x!, axis, start, end), reference: sliceReference(axis, start, end) });
  });
});

describe('transpose', () => {
  it.each([
    [[67, 5], [1, 0]],
    [[2, 3, 5, 7], [3, 1, 0, 2]],
    [[2, 1, 3, 2, 2, 3], [5, 3, 1, 0, 4, 2]],
    [[3, 4, 5], [0, 1, 2]],
    [[11], [0]],
  ])('permutes %j by %j, backward by the inverse', async (shape, perm) => {
    await checkOp(engine, { inputs: [randn(shape, 30)], gpu: ([x]) => transpose(x!, perm), reference: transposeReference(perm) });
  });
});

describe('reshape', () => {
  it('resolves one -1 and passes gradients back reshaped', async () => {
    await checkOp(engine, {
      inputs: [randn([2, 3, 5], 40)],
      gpu: ([x]) => transpose(reshape(x!, [-1, 5]), [1, 0]),
      reference: {
        forward: ([x]) => transposeReference([1, 0]).forward([{ shape: [6, 5], data: x!.data }]),
        backward: ([x], dy) => [{ shape: [...x!.shape], data: transposeReference([1, 0]).backward([], dy)[0]!.data }],
      },
    });
  });
});

describe('errors name the tensor and what was expected', () => {
  it('concat', () => {
    tidy(engine, () => {
      const a = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6], 'f32', 'a');
      const b = fromArray(engine, [3, 3], new Array(9).fill(0), 'f32', 'b');
      const ids = fromArray(engine, [2, 1], [1, 2], 'u32', 'ids');
      expect(() => concat([], 0)).toThrow('concat: needs at least one tensor');
      expect(() => concat([a, b], 1)).toThrow('concat: tensor 1 b[3, 3] does not match tensor 0 a[2, 3] outside axis 1');
      expect(() => concat([a, ids], 1)).toThrow('concat: tensor 1 ids[2, 1] is u32, tensor 0 is f32');
      expect(() => concat([a, a], 2)).toThrow('concat: axis 2 is out of range for rank 2');
    });
  });

  it('slice', () => {
    tidy(engine, () => {
      const x = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6], 'f32', 'x');
      expect(() => slice(x, 1, 2, 4)).toThrow('slice: [2, 4) on axis 1 of x[2, 3]: expected 0 <= start <= end <= 3');
      expect(() => slice(x, 0, 1, 0)).toThrow('slice: [1, 0) on axis 0 of x[2, 3]: expected 0 <= start <= end <= 2');
      expect(() => slice(x, -3, 0, 1)).toThrow('slice: axis -3 is out of range for rank 2');
    });
  });

  it('transpose', () => {
    tidy(engine, () => {
      const x = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6], 'f32', 'x');
      expect(() => transpose(x, [0, 0])).toThrow('transpose: [0, 0] is not a permutation of the 2 axes of x[2, 3]');
      expect(() => transpose(x, [1, 0, 2])).toThrow('transpose: [1, 0, 2] is not a permutation of the 2 axes of x[2, 3]');
    });
  });

  it('reshape', () => {
    tidy(engine, () => {
      const x = fromArray(engine, [2, 3], [1, 2, 3, 4, 5, 6], 'f32', 'x');
      expect(() => reshape(x, [4, 2])).toThrow('reshape: x[2, 3] has 6 values, [4, 2] needs 8');
    });
  });
});
