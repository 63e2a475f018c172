import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host, type HostTensor, randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { backward, fromArray, noGrad, type Tensor, tidy } from '../tensor';
import { attention, attentionReference, type AttentionOptions } from './attention';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

interface Case {
  name: string;
  b: number;
  h: number;
  tq: number;
  tk: number;
  d: number;
  dv: number;
  causal?: boolean;
  scale?: number;
  /** Per batch, the keys to mask (0 in keyMask); 'all' masks every key of that batch. */
  masked?: (number[] | 'all')[];
}

// The kernels work on blocks of 4 query (or key) rows and 4 columns: D, Dv, Tq and Tk not multiples of 4,
// Tq != Tk, a block count over one workgroup of 64.
const CASES: Case[] = [
  { name: 'plain, Tq < Tk', b: 2, h: 3, tq: 5, tk: 7, d: 5, dv: 3 },
  { name: 'plain, Tq > Tk, custom scale', b: 1, h: 2, tq: 6, tk: 3, d: 7, dv: 6, scale: 0.8 },
  { name: 'causal, Tq = Tk', b: 2, h: 2, tq: 7, tk: 7, d: 6, dv: 5, causal: true },
  { name: 'causal, Tq < Tk (last query sees every key)', b: 1, h: 3, tq: 4, tk: 7, d: 3, dv: 3, causal: true },
  { name: 'causal, Tq > Tk (first queries see nothing: zeros)', b: 1, h: 2, tq: 7, tk: 5, d: 5, dv: 2, causal: true },
  { name: 'key mask, one batch fully masked (zeros, no NaN)', b: 3, h: 2, tq: 5, tk: 6, d: 5, dv: 7, masked: [[1, 4], 'all', [5]] },
  { name: 'key mask and causal (row 0 sees only a masked key)', b: 2, h: 2, tq: 5, tk: 5, d: 6, dv: 3, causal: true, masked: [[0, 2], []] },
  { name: 'one query, one key', b: 2, h: 1, tq: 1, tk: 1, d: 2, dv: 3 },
  { name: 'longer rows (9 key blocks), key mask', b: 1, h: 2, tq: 9, tk: 33, d: 5, dv: 6, masked: [[3, 31, 32]] },
  // 13 * 5 * ceil(2 / 4) = 65 query blocks and 13 * 5 * ceil(3 / 4) = 65 key blocks: two workgroups each.
  { name: 'several workgroups of blocks, causal and masked', b: 13, h: 5, tq: 2, tk: 3, d: 3, dv: 2, causal: true, masked: [[0], [2], [1], [], [0, 1], [2], [], [], [1], [0], [], [2], 'all'] },
];

function maskOf(c: Case): HostTensor {
  const mask = host([c.b, c.tk]).data.fill(1);
  c.masked?.forEach((keys, b) => {
    for (let j = 0; j < c.tk; j++) if (keys === 'all' || keys.includes(j)) mask[b * c.tk + j] = 0;
  });
  return host([c.b, c.tk], mask);
}

function inputsOf(c: Case, seed = 1): HostTensor[] {
  const inputs = [randn([c.b, c.h, c.tq, c.d], seed), randn([c.b, c.h, c.tk, c.d], seed + 1), randn([c.b, c.h, c.tk, c.dv], seed + 2)];
  return c.masked ? [...inputs, maskOf(c)] : inputs;
}

function optionsOf(c: Case, mask: Tensor | undefined): AttentionOptions {
  return { causal: c.causal ?? false, ...(c.scale !== undefined ? { scale: c.scale } : {}), keyMask: mask ?? null };
}

describe('attention', () => {
  it.each(CASES)('$name: forward, dq, dk, dv', async (c) => {
    const hasMask = !!c.masked;
    await checkOp(engine, {
      inputs: inputsOf(c),
      differentiable: hasMask ? [true, true, true, false] : [true, true, true],
      gpu: ([q, k, v, mask]) => attention(q!, k!, v!, optionsOf(c, mask)),
      reference: attentionReference({ causal: c.causal ?? false, ...(c.scale !== undefined ? { scale: c.scale } : {}), hasMask }),
      k: c.d + c.tk,
    });
  });

  it('outputs zeros and passes no gradient for a query that sees no key', async () => {
    const c: Case = { name: '', b: 2, h: 1, tq: 3, tk: 4, d: 3, dv: 2, masked: [[], 'all'] };
    const kept = tidy(engine, () => {
      const [q, k, v, mask] = inputsOf(c).map((t) => fromArray(engine, t.shape, t.data));
      q!.requiresGrad = k!.requiresGrad = v!.requiresGrad = true;
      const y = attention(q!, k!, v!, { keyMask: mask! });
      const grads = backward(y, fromArray(engine, y.shape, randn(y.shape, 9).data));
      return [y, grads.get(q!)!, grads.get(k!)!];
    });
    const [out, dq, dk] = (await Promise.all(kept.map((t) => t.read()))) as [Float32Array, Float32Array, Float32Array];
    for (const t of kept) t.dispose();
    const half = (a: Float32Array) => Array.from(a.subarray(a.length / 2)); // batch 1: every key masked
    expect(half(out)).toEqual(new Array(6).fill(0));
    expect(half(dq)).toEqual(new Array(9).fill(0));
    expect(half(dk)).toEqual(new Array(12).fill(0));
  });

  it('frees its saved probabilities after the backward, and at once without gradients', async () => {
    const before = engine.stats().liveBuffers;
    tidy(engine, () => {
      const [q, k, v] = inputsOf(CASES[0]!).map((t) => fromArray(engine, t.shape, t.data));
      let live = engine.stats().liveBuffers;
      noGrad(engine, () => attention(q!, k!, v!));
      expect(engine.stats().liveBuffers).toBe(live + 1); // out only
      v!.requiresGrad = true;
      live = engine.stats().liveBuffers;
      const y = attention(q!, k!, v!);
      expect(engine.stats().liveBuffers).toBe(live + 2); // out and P
      const seed = fromArray(engine, y.shape, randn(y.shape, 3).data);
      live = engine.stats().liveBuffers;
      backward(y, seed);
      expect(engine.stats().liveBuffers).toBe(live + 1 - 1); // dv in, P out (dS, dq, dk freed)
    });
    await engine.sync();
    expect(engine.stats().liveBuffers).toBe(before);
  });

  it('names the tensor and the expected shape on bad input', () => {
    tidy(engine, () => {
      const t = (shape: number[], label: string) => fromArray(engine, shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0), 'f32', label);
      const q = t([2, 3, 4, 5], 'q');
      const k = t([2, 3, 7, 5], 'k');
      const v = t([2, 3, 7, 6], 'v');
      expect(() => attention(t([2, 4, 5], 'q3'), k, v)).toThrow('attention q: expected [B, H, Tq, D], got q3[2, 4, 5]');
      expect(() => attention(q, t([2, 3, 7, 4], 'k4'), v)).toThrow('attention k: expected [2, 3, Tk, 5], got k4[2, 3, 7, 4]');
      expect(() => attention(q, k, t([2, 1, 7, 6], 'v1'))).toThrow('attention v: expected [2, 3, 7, Dv], got v1[2, 1, 7, 6]');
      expect(() => attention(q, k, v, { keyMask: t([2, 4], 'mask') })).toThrow('attention keyMask: expected [2, 7], got mask[2, 4]');
      const ids = fromArray(engine, [2, 7], new Array(14).fill(1), 'u32', 'ids');
      expect(() => attention(q, k, v, { keyMask: ids })).toThrow('attention keyMask: expected an f32 tensor, got u32 ids[2, 7]');
    });
  });
});
