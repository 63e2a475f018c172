import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host, randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { softmax, softmaxReference } from './softmax';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('softmax', () => {
  // Odd sizes; 67 rows spans two workgroups; one axis of length 1 (y = 1, dx = 0).
  it.each([[[3, 5]], [[2, 3, 7]], [[67, 3]], [[131]], [[4, 1]]])('over the last axis of %j, forward and backward', async (shape) => {
    await checkOp(engine, {
      inputs: [randn(shape, 1, 3)],
      gpu: ([x]) => softmax(x!),
      reference: softmaxReference(),
      k: shape.at(-1)!,
    });
  });

  it('is stable for large logits (max subtracted): no overflow, rows sum to 1', async () => {
    const x = host([2, 5], [1000, 999, 998, -1000, 0, -80, -85, -90, -1e4, -88]);
    await checkOp(engine, { inputs: [x], gpu: ([x]) => softmax(x!), reference: softmaxReference(), k: 5 });
    const out = tidy(engine, () => softmax(fromArray(engine, [2, 5], x.data)));
    const y = await out.read();
    out.dispose();
    expect(y.every(Number.isFinite)).toBe(true);
    expect(y[0]! + y[1]! + y[2]! + y[3]! + y[4]!).toBeCloseTo(1, 6);
  });

  it('names the tensor on bad input', () => {
    tidy(engine, () => {
      expect(() => softmax(fromArray(engine, [2], [0, 1], 'u32', 'ids'))).toThrow('softmax x: expected an f32 tensor, got u32 ids[2]');
      expect(() => softmax(fromArray(engine, [3, 0], [], 'f32', 'e'))).toThrow('softmax x: the last axis is empty in e[3, 0]');
    });
  });
});
