// The text encoder against docs/NETS.md: parameter paths and shapes, output shapes, a pooled output that is the
// masked mean of the hidden states and that padding cannot change, and gradients that reach every parameter.
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCaptionBatch } from '../data/tokenizer';
import type { Engine } from '../nn/engine';
import { mseLoss } from '../nn/ops/loss';
import { add } from '../nn/ops/elementwise';
import { backward, fromArray, noGrad, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import { TextEncoder } from './textEncoder';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('TextEncoder', () => {
  it('has the parameter paths and shapes of docs/NETS.md', () => {
    const encoder = new TextEncoder(engine, {}, 1);
    const shapes = Object.fromEntries(encoder.namedParameters().map(([name, t]) => [name, t.shape]));
    expect(shapes['tokenEmbedding.weight']).toEqual([30, 64]);
    expect(shapes['positionEmbedding']).toEqual([24, 64]);
    for (const i of [0, 1]) {
      expect(shapes[`layers.${i}.norm1.weight`]).toEqual([64]);
      expect(shapes[`layers.${i}.attn.qkv.weight`]).toEqual([64, 192]);
      expect(shapes[`layers.${i}.attn.out.bias`]).toEqual([64]);
      expect(shapes[`layers.${i}.norm2.bias`]).toEqual([64]);
      expect(shapes[`layers.${i}.mlp.fc1.weight`]).toEqual([64, 256]);
      expect(shapes[`layers.${i}.mlp.fc2.weight`]).toEqual([256, 64]);
    }
    expect(shapes['finalNorm.weight']).toEqual([64]);
    expect(shapes['layers.2.norm1.weight']).toBeUndefined();
    expect(Object.keys(shapes)).toHaveLength(2 + 2 * 12 + 2);
    encoder.dispose();
  });

  it('pools the masked mean of its states, which padding tokens cannot change', async () => {
    const encoder = new TextEncoder(engine, {}, 2);
    const tokens = encodeCaptionBatch(['a red circle', 'a small blue square at the top left on a white background']);
    // The same captions with every padding position holding some other (valid) token.
    const scrambled = tokens.ids.map((id, i) => (tokens.attentionMask[i] ? id : 2 + (i % 20)));
    const run = (ids: Uint32Array) =>
      noGrad(engine, () =>
        tidy(engine, () => {
          const { lastHiddenState, pooled } = encoder.forward(fromArray(engine, [2, 24], ids, 'u32'), fromArray(engine, [2, 24], tokens.attentionMask));
          return [lastHiddenState, pooled];
        }),
      );
    const [states, pooled] = run(tokens.ids);
    const [, pooledScrambled] = run(scrambled);
    expect(states!.shape).toEqual([2, 24, 64]);
    expect(pooled!.shape).toEqual([2, 64]);
    const h = await states!.read();
    const p = await pooled!.read();
    expect(Array.from(await pooledScrambled!.read())).toEqual(Array.from(p));
    const expected = new Float64Array(2 * 64);
    for (let b = 0; b < 2; b++) {
      let count = 0;
      for (let l = 0; l < 24; l++) {
        if (!tokens.attentionMask[b * 24 + l]) continue;
        count++;
        for (let c = 0; c < 64; c++) expected[b * 64 + c]! += h[(b * 24 + l) * 64 + c]!;
      }
      for (let c = 0; c < 64; c++) expected[b * 64 + c]! /= count;
    }
    allclose(p, expected, { atol: 1e-6, rtol: 1e-5 }, 'pooled vs masked mean');
    for (const t of [states, pooled, pooledScrambled]) t!.dispose();
    encoder.dispose();
  });

  it('passes gradients to every parameter', async () => {
    const encoder = new TextEncoder(engine, {}, 3);
    // One row attends to all 24 positions, so every row of positionEmbedding is used.
    const ids = Uint32Array.from({ length: 48 }, (_, i) => 2 + (i % 28));
    const mask = Float32Array.from({ length: 48 }, (_, i) => (i < 30 ? 1 : 0)); // row 0: all 24 tokens; row 1: 6 tokens
    tidy(engine, () => {
      const { lastHiddenState, pooled } = encoder.forward(fromArray(engine, [2, 24], ids, 'u32'), fromArray(engine, [2, 24], mask));
      const target = fromArray(engine, [2, 64], Float32Array.from({ length: 128 }, (_, i) => Math.sin(i)));
      backward(add(mseLoss(pooled, target), mseLoss(lastHiddenState, fromArray(engine, [2, 24, 64], new Float32Array(2 * 24 * 64).fill(0.5)))));
    });
    for (const [name, p] of encoder.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      const g = await p.grad!.read();
      expect(g.some((v) => v !== 0), `${name} has an all-zero gradient`).toBe(true);
      expect(g.every(Number.isFinite), name).toBe(true);
    }
    encoder.dispose();
  });

  it('refuses ids that are not u32, a mask that does not match, and sequences over 24', () => {
    const encoder = new TextEncoder(engine, {}, 4);
    tidy(engine, () => {
      const mask = fromArray(engine, [1, 24], new Float32Array(24).fill(1));
      expect(() => encoder.forward(fromArray(engine, [1, 24], new Float32Array(24)), mask)).toThrow('TextEncoder: input_ids must be u32 [batch, length], got f32');
      expect(() => encoder.forward(fromArray(engine, [1, 24], new Uint32Array(24), 'u32'), fromArray(engine, [1, 23], new Float32Array(23)))).toThrow(
        'attention_mask must be f32 [1, 24] like input_ids',
      );
      expect(() => encoder.forward(fromArray(engine, [1, 25], new Uint32Array(25), 'u32'), fromArray(engine, [1, 25], new Float32Array(25)))).toThrow(
        'longer than the 24 positions',
      );
    });
    encoder.dispose();
  });
});
