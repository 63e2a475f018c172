import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host, mulberry32, randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { embedding, embeddingReference, validateIds } from './embedding';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

function randomIds(shape: number[], vocab: number, seed: number) {
  const rand = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return host(
    shape,
    Array.from({ length: size }, () => Math.floor(rand() * vocab)),
  );
}

describe('embedding', () => {
  it.each([
    // [ids shape, vocab, dim]: few rows and many positions (heavy repetition), and more rows than positions.
    [[3, 29], 5, 7],
    [[67], 130, 3],
    [[2, 3, 4], 11, 65],
  ])('gathers rows for ids %j (vocab %i, dim %i) and sums repeated rows in the gradient', async (shape, vocab, dim) => {
    await checkOp(engine, {
      inputs: [randomIds(shape, vocab, 1), randn([vocab, dim], 2)],
      dtypes: ['u32', 'f32'],
      differentiable: [false, true],
      gpu: ([ids, table]) => embedding(ids!, table!),
      reference: embeddingReference(),
      k: shape.reduce((a, b) => a * b, 1), // a row's gradient sums up to every position
    });
  });

  it('gives zero rows and no gradient for ids >= vocab, reading nothing out of bounds', async () => {
    await checkOp(engine, {
      inputs: [host([6], [2, 4, 4000000000, 0xffffffff, 2, 5]), randn([5, 3], 3)],
      dtypes: ['u32', 'f32'],
      differentiable: [false, true],
      gpu: ([ids, table]) => embedding(ids!, table!),
      reference: embeddingReference(),
    });
  });

  it('handles an empty batch: empty output, zero gradient', async () => {
    await checkOp(engine, {
      inputs: [host([0], []), randn([4, 3], 4)],
      dtypes: ['u32', 'f32'],
      differentiable: [false, true],
      gpu: ([ids, table]) => embedding(ids!, table!),
      reference: embeddingReference(),
    });
  });

  it('refuses f32 ids and a table that is not [vocab, dim], naming them', () => {
    tidy(engine, () => {
      const ids = fromArray(engine, [2], [0, 1], 'u32', 'ids');
      const floats = fromArray(engine, [2], [0, 1], 'f32', 'tokens');
      const table = fromArray(engine, [2, 2], [1, 2, 3, 4], 'f32', 'table');
      const flat = fromArray(engine, [4], [1, 2, 3, 4], 'f32', 'flat');
      expect(() => embedding(floats, table)).toThrow('embedding: ids must be u32, got f32 tokens[2]');
      expect(() => embedding(ids, flat)).toThrow('embedding: table: expected [vocab, dim], got flat[4]');
      expect(() => embedding(ids, ids)).toThrow('embedding: table: expected an f32 tensor, got u32 ids[2]');
    });
  });

  it('validateIds reads the ids back and names the first out-of-range one', async () => {
    const ids = fromArray(engine, [4], [0, 3, 9, 12], 'u32', 'ids');
    try {
      await validateIds(ids, 13);
      await expect(validateIds(ids, 9)).rejects.toThrow('embedding: ids[4] holds id 9 at position 2, expected ids < vocab 9');
    } finally {
      ids.dispose();
    }
  });
});
