import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { host, type HostTensor, randn } from '../host';
import { checkOp, type Reference, testEngine } from '../testing';
import { backward, fromArray, noGrad, type Tensor, tidy } from '../tensor';
import { attention, attentionReference, type AttentionOptions, crossAttention, selfAttention } from './attention';

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

// The multi-head forms read the heads in place; their reference is the split, attention() and the merge on the host.
function splitHeads(x: HostTensor, part: number, parts: number, heads: number): HostTensor {
  const [b, t, width] = x.shape as [number, number, number];
  const d = width / parts / heads;
  const out = host([b, heads, t, d]);
  for (let n = 0; n < b; n++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < t; i++) for (let c = 0; c < d; c++) out.data[((n * heads + h) * t + i) * d + c] = x.data[(n * t + i) * width + part * heads * d + h * d + c]!;
  return out;
}

function mergeHeads(x: HostTensor, target: HostTensor, part: number, parts: number): void {
  const [b, heads, t, d] = x.shape as [number, number, number, number];
  const width = parts * heads * d;
  for (let n = 0; n < b; n++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < t; i++) for (let c = 0; c < d; c++) target.data[(n * t + i) * width + part * heads * d + h * d + c]! += x.data[((n * heads + h) * t + i) * d + c]!;
}

function packedReference(kind: 'self' | 'cross', heads: number, hasMask: boolean, causal = false): Reference {
  const inner = attentionReference({ hasMask, causal });
  const split = (inputs: readonly HostTensor[]) =>
    kind === 'self'
      ? [0, 1, 2].map((i) => splitHeads(inputs[0]!, i, 3, heads)).concat(hasMask ? [inputs[1]!] : [])
      : [splitHeads(inputs[0]!, 0, 1, heads), splitHeads(inputs[1]!, 0, 2, heads), splitHeads(inputs[1]!, 1, 2, heads)].concat(hasMask ? [inputs[2]!] : []);
  return {
    forward(inputs) {
      const out = inner.forward(split(inputs));
      const [b, , t, d] = out.shape as [number, number, number, number];
      const merged = host([b, t, heads * d]);
      mergeHeads(out, merged, 0, 1);
      return merged;
    },
    backward(inputs, dout) {
      const parts = split(inputs);
      const [dq, dk, dv] = inner.backward(parts, splitHeads(dout, 0, 1, heads)) as HostTensor[];
      if (kind === 'self') {
        const dqkv = host(inputs[0]!.shape);
        [dq!, dk!, dv!].forEach((g, i) => mergeHeads(g, dqkv, i, 3));
        return [dqkv, ...(hasMask ? [null] : [])];
      }
      const dqOut = host(inputs[0]!.shape);
      mergeHeads(dq!, dqOut, 0, 1);
      const dkv = host(inputs[1]!.shape);
      mergeHeads(dk!, dkv, 0, 2);
      mergeHeads(dv!, dkv, 1, 2);
      return [dqOut, dkv, ...(hasMask ? [null] : [])];
    },
  };
}

describe('selfAttention and crossAttention (heads read in place)', () => {
  // Widths and lengths off the kernels' blocks of 4; more (batch, head) blocks than one workgroup in the last.
  it.each([
    { b: 2, t: 7, heads: 3, d: 5, masked: false },
    { b: 3, t: 6, heads: 2, d: 3, masked: true },
    { b: 17, t: 5, heads: 4, d: 2, masked: false },
  ])('self-attention on qkv [$b, $t, 3 x $heads x $d] matches split + attention + merge, forward and backward', async ({ b, t, heads, d, masked }) => {
    const c: Case = { name: '', b, h: heads, tq: t, tk: t, d, dv: d, ...(masked ? { masked: [[1], 'all', [0, 5]] } : {}) };
    await checkOp(engine, {
      inputs: [randn([b, t, 3 * heads * d], 11), ...(masked ? [maskOf(c)] : [])],
      differentiable: masked ? [true, false] : [true],
      gpu: ([qkv, mask]) => selfAttention(qkv!, heads, { keyMask: mask ?? null }),
      reference: packedReference('self', heads, masked),
      k: d + t,
    });
  });

  it.each([
    { b: 2, tq: 9, tk: 5, heads: 3, d: 5 },
    { b: 3, tq: 4, tk: 7, heads: 2, d: 6 },
  ])('cross-attention q [$b, $tq, C], kv [$b, $tk, 2C] with a key mask matches the reference', async ({ b, tq, tk, heads, d }) => {
    const c: Case = { name: '', b, h: heads, tq, tk, d, dv: d, masked: [[0, 3], [], 'all'].slice(0, b) as Case['masked'] };
    await checkOp(engine, {
      inputs: [randn([b, tq, heads * d], 21), randn([b, tk, 2 * heads * d], 22), maskOf(c)],
      differentiable: [true, true, false],
      gpu: ([q, kv, mask]) => crossAttention(q!, kv!, heads, { keyMask: mask! }),
      reference: packedReference('cross', heads, true),
      k: d + tk,
    });
  });

  it('gives the same numbers as the split / attention / merge it replaces', async () => {
    const [b, t, heads, d] = [2, 6, 3, 4];
    const qkvData = randn([b, t, 3 * heads * d], 31).data;
    const [packedOut, composedOut] = tidy(engine, () => {
      const qkv = fromArray(engine, [b, t, 3 * heads * d], qkvData);
      const parts = [0, 1, 2].map((i) => fromArray(engine, [b, heads, t, d], splitHeads(host([b, t, 3 * heads * d], qkvData), i, 3, heads).data));
      return [selfAttention(qkv, heads), attention(parts[0]!, parts[1]!, parts[2]!)];
    });
    const merged = host([b, t, heads * d]);
    mergeHeads(host([b, heads, t, d], await composedOut!.read()), merged, 0, 1);
    expect(Array.from(await packedOut!.read())).toEqual(Array.from(merged.data, (x) => Math.fround(x)));
    packedOut!.dispose();
    composedOut!.dispose();
  });

  it('refuses a qkv that does not split into the heads, and a kv of the wrong width, naming them', () => {
    tidy(engine, () => {
      const t = (shape: number[], label: string) => fromArray(engine, shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(0), 'f32', label);
      expect(() => selfAttention(t([2, 5, 20], 'qkv'), 3)).toThrow('attention qkv: qkv[2, 5, 20] does not split into q, k and v of 3 heads');
      expect(() => crossAttention(t([2, 5, 12], 'q'), t([2, 4, 12], 'kv'), 3)).toThrow('attention kv: expected [2, S, 24], got kv[2, 4, 12]');
    });
  });
});
