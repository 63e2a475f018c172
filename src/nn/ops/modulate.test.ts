import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { modulate, modulateReference } from './modulate';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('modulate', () => {
  it.each([
    [2, 5, 7],
    [3, 67, 5], // more tokens than one 64-token accumulation block
    [1, 1, 65],
  ])('x [%i, %i, %i]: x * (1 + scale) + shift, and the gradients of all three', async (batch, tokens, channels) => {
    await checkOp(engine, {
      inputs: [randn([batch, tokens, channels], 1), randn([batch, channels], 2), randn([batch, channels], 3, 0.5)],
      gpu: ([x, shift, scale]) => modulate(x!, shift!, scale!),
      reference: modulateReference(),
      k: tokens, // dshift and dscale sum over the tokens
    });
  });

  it.each([
    [[true, false, false]],
    [[false, true, false]],
    [[false, false, true]],
  ])('computes only the gradients needed (%j)', async (differentiable) => {
    await checkOp(engine, {
      inputs: [randn([2, 9, 3], 4), randn([2, 3], 5), randn([2, 3], 6)],
      differentiable,
      gpu: ([x, shift, scale]) => modulate(x!, shift!, scale!),
      reference: modulateReference(),
      k: 9,
    });
  });

  it('refuses mismatched shapes, naming the tensor and the expected shape', () => {
    tidy(engine, () => {
      const x = fromArray(engine, [2, 3, 4], new Array(24).fill(0), 'f32', 'x');
      const flat = fromArray(engine, [6, 4], new Array(24).fill(0), 'f32', 'flat');
      const row = fromArray(engine, [2, 4], new Array(8).fill(0), 'f32', 'row');
      const wrong = fromArray(engine, [2, 3], new Array(6).fill(0), 'f32', 'wrong');
      const tokens = fromArray(engine, [2, 1, 4], new Array(8).fill(0), 'f32', 'tokens');
      expect(() => modulate(flat, row, row)).toThrow('modulate: x: expected [batch, tokens, channels], got flat[6, 4]');
      expect(() => modulate(x, wrong, row)).toThrow('modulate: shift: expected [2, 4], got wrong[2, 3]');
      expect(() => modulate(x, row, tokens)).toThrow('modulate: scale: expected [2, 4], got tokens[2, 1, 4]');
    });
  });
});
