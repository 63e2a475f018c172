// Scaled dot-product attention with an optional key padding mask and causal masking.
//   attention(q[B,H,Tq,D], k[B,H,Tk,D], v[B,H,Tk,Dv], keyMask[B,Tk]) -> out[B,H,Tq,Dv]
//   selfAttention(qkv[B,T,3C], heads) -> [B,T,C];  crossAttention(q[B,T,C], kv[B,S,2C], heads, keyMask[B,S]) -> [B,T,C]
// The kernels read q, k, v and write out (and their gradients) through a head layout per operand, so the
// multi-head forms use the projections' heads where they lie: no split/merge transposes or slices, and
// their backward passes, around them (they were 10 dispatches and ~15% of a DiT training step on llvmpipe).
//   out_i = sum_j softmax_j(scale * q_i . k_j) v_j over the keys query i may see; scale = 1/sqrt(D) by default.
// keyMask (f32, 1 = attend, 0 = masked: text padding) is not differentiable. causal: query i sees keys
// j <= i + (Tk - Tq). A query row that sees no key at all outputs zeros (not NaN), and passes no gradient.
//
// Design (for a small DiT on CPU adapters: T <= ~100, D 16..64, B*H <= ~64): three fused kernels,
// each invocation a block of 4 query rows (forward, dq) or 4 key rows (dk, dv) of one (batch, head),
// register-tiled 4 x 4 like a matmul; no workgroup memory, no barriers (a fiber switch per invocation on
// SwiftShader). Tiling cut SwiftShader's forward 4x against one invocation per row with scalar dot
// products: there the loads, not the flops, are the cost.
//   attention_common.wgsl      parameters, head layouts, causal visibility (prepended to the three below)
//   attention.wgsl             scores, softmax (two-pass, in place), out = P v; saves P
//   attention_grad_query.wgsl  dS = P * (dout v^T - delta), dq = scale * dS k
//   attention_grad_key.wgsl    dk = scale * dS^T q, dv = P^T dout
// The forward SAVES the probabilities P [B,H,Tq,Tk] instead of a per-row logsumexp to recompute them
// from (flash-attention style): per (query, key) pair the backward then costs 2(D + Dv) multiply-adds
// instead of 4D + 3Dv, so forward + backward does ~1.5x less work. The price is memory: P holds
// 4*B*H*Tq*Tk bytes from the forward to the backward (B=8, H=4, T=80: 0.8 MB per attention layer), and
// the backward adds a dS of the same size while it runs. Without a recorded gradient P is freed at once.
// P must fit one storage binding (checked; 128 MiB on llvmpipe: B*H=64 up to T~700). For long sequences
// (T in the thousands) the recompute design would be the one to switch to.
//
// Measured, B=8, H=4, T=80, D=32, best of 7, forward / forward + backward (`npx vitest run -c bench/vitest.config.ts
// bench/attention.measure.test.ts`, 2 CPU cores shared with a training run, 2026-12-06):
//                                      llvmpipe          SwiftShader
//   attention() on split heads          9.9 / 28.0 ms     37.7 / 100 ms   (the kernels alone)
//   split + attention() + merge        18.3 / 48.8 ms     61.0 / 179 ms   (the module before in-place heads)
//   selfAttention() on qkv in place    10.3 / 29.2 ms     36.1 / 108 ms
// In a Shapes DiT training step (batch 64, llvmpipe) reading heads in place took 708 dispatches to 584 and the
// step from 3.6 to 3.0 s. Before tiling (one invocation per row, scalar loops): SwiftShader ~300 / ~1270 ms,
// llvmpipe ~54 / ~158.
import commonSource from '../../kernels/attention_common.wgsl?raw';
import forwardSource from '../../kernels/attention.wgsl?raw';
import gradKeySource from '../../kernels/attention_grad_key.wgsl?raw';
import gradQuerySource from '../../kernels/attention_grad_query.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, launch1d, output } from './common';

const LAYOUT_FIELDS = ['offset', 'batch_stride', 'head_stride', 'row_stride'] as const;
const PARAMS = {
  bh: 'u32',
  heads: 'u32',
  tq: 'u32',
  tk: 'u32',
  d: 'u32',
  dv: 'u32',
  causal_offset: 'i32',
  scale: 'f32',
  ...Object.fromEntries(['q', 'k', 'v', 'out'].flatMap((operand) => LAYOUT_FIELDS.map((field) => [`${operand}_${field}`, 'u32' as const]))),
} as const;
const forwardKernel = { label: 'attention', code: commonSource + forwardSource, params: PARAMS };
const gradKeyKernel = { label: 'attention_grad_key', code: commonSource + gradKeySource, params: PARAMS };
const gradQueryKernel = { label: 'attention_grad_query', code: commonSource + gradQuerySource, params: PARAMS };

export interface AttentionOptions {
  /** f32 [B, Tk]: 1 = attend, 0 = masked (any non-zero value attends). Not differentiable. */
  keyMask?: Tensor | null;
  /** Query i attends keys j <= i + (Tk - Tq). */
  causal?: boolean;
  /** Multiplies the scores; default 1/sqrt(D). */
  scale?: number;
}

function expectShape(t: Tensor, what: string, expected: readonly (number | string)[]): void {
  const ok = t.rank === expected.length && expected.every((d, i) => typeof d === 'string' || d === t.shape[i]);
  if (!ok) throw new Error(`attention ${what}: expected [${expected.join(', ')}], got ${t.describe()}`);
}

/** Where the heads of an operand lie in its tensor: element (b, h, t, c) at offset + b sB + h sH + t sT + c. */
interface HeadLayout {
  offset: number;
  batchStride: number;
  headStride: number;
  rowStride: number;
}

/** [B, H, T, D] stored as it is. */
const contiguous = (heads: number, rows: number, width: number): HeadLayout => ({ offset: 0, batchStride: heads * rows * width, headStride: rows * width, rowStride: width });

/** Part `part` of the heads packed in a projection [B, T, parts * H * D] (columns part * H * D + h * D + c). */
const packed = (part: number, parts: number, heads: number, rows: number, width: number): HeadLayout => ({
  offset: part * heads * width,
  batchStride: rows * parts * heads * width,
  headStride: width,
  rowStride: parts * heads * width,
});

/** One operand of the kernels: a tensor and where its heads lie in it. */
interface Operand {
  tensor: Tensor;
  layout: HeadLayout;
}

interface AttentionProblem {
  q: Operand;
  k: Operand;
  v: Operand;
  /** The output's shape and layout ([B, H, Tq, Dv] contiguous, or the merged heads [B, Tq, H * Dv]). */
  out: { shape: number[]; layout: HeadLayout };
  batch: number;
  heads: number;
  tq: number;
  tk: number;
  d: number;
  dv: number;
}

function layoutParams(name: string, l: HeadLayout): Record<string, number> {
  return { [`${name}_offset`]: l.offset, [`${name}_batch_stride`]: l.batchStride, [`${name}_head_stride`]: l.headStride, [`${name}_row_stride`]: l.rowStride };
}

/**
 * The three kernels on operands read in place. q, k and v may be parts of one tensor (then its gradient is one
 * tensor, written by both backward kernels); k and v are either parts of one tensor or two tensors.
 */
function attentionOn(problem: AttentionProblem, options: AttentionOptions): Tensor {
  const { q, k, v, batch, heads, tq, tk, d, dv } = problem;
  const { keyMask = null, causal = false } = options;
  if (keyMask) {
    assertF32(keyMask, 'attention keyMask');
    expectShape(keyMask, 'keyMask', [batch, tk]);
  }
  const sharedKv = k.tensor === v.tensor;
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const engine = q.tensor.engine;
  const probBytes = batch * heads * tq * tk * 4;
  const limit = engine.device.limits.maxStorageBufferBindingSize;
  if (probBytes > limit) {
    throw new RangeError(`attention: the probabilities [${batch}, ${heads}, ${tq}, ${tk}] need ${probBytes} bytes, over this device's ${limit} per binding`);
  }

  const params = {
    bh: batch * heads,
    heads,
    tq,
    tk,
    d,
    dv,
    causal_offset: tk - tq,
    scale,
    ...layoutParams('q', q.layout),
    ...layoutParams('k', k.layout),
    ...layoutParams('v', v.layout),
    ...layoutParams('out', problem.out.layout),
  };
  const causalFlag = { CAUSAL: causal ? 1 : 0 };
  // Each kernel's invocation handles a block of 4 query rows (forward, dq) or 4 key rows (dk, dv).
  const queryBlocks = batch * heads * Math.ceil(tq / 4);
  const keyBlocks = batch * heads * Math.ceil(tk / 4);
  const out = output(engine, problem.out.shape, 'attention');
  const probs = output(engine, [batch, heads, tq, tk], 'attention.probs');
  launch1d(engine, forwardKernel, queryBlocks, {
    // q stands in for a missing mask's binding (never read)
    bindings: [q.tensor.buffer, k.tensor.buffer, v.tensor.buffer, (keyMask ?? q.tensor).buffer, out.buffer, probs.buffer],
    params,
    constants: { HAS_MASK: keyMask ? 1 : 0, ...causalFlag },
  });

  const inputs = [...new Set([q.tensor, k.tensor, v.tensor])];
  record(out, inputs, (dout) => {
    // One gradient per input tensor; the kernels write each operand's part of it through its layout.
    const grads = new Map(inputs.map((t) => [t, output(engine, t.shape, `attention.d${t === q.tensor ? 'q' : 'kv'}`)]));
    const dscores = output(engine, probs.shape, 'attention.dscores');
    launch1d(engine, gradQueryKernel, queryBlocks, {
      bindings: [k.tensor.buffer, v.tensor.buffer, dout.buffer, probs.buffer, dscores.buffer, grads.get(q.tensor)!.buffer],
      params,
      constants: causalFlag,
    });
    // With k and v in one tensor both gradients go through the dk binding; the dv binding gets a stand-in.
    const standIn = sharedKv ? output(engine, [1], 'attention.unused') : null;
    launch1d(engine, gradKeyKernel, keyBlocks, {
      bindings: [q.tensor.buffer, dout.buffer, probs.buffer, dscores.buffer, grads.get(k.tensor)!.buffer, (standIn ?? grads.get(v.tensor)!).buffer],
      params,
      constants: { ...causalFlag, SHARED_KV: sharedKv ? 1 : 0 },
    });
    standIn?.dispose();
    probs.dispose(); // the tape runs each entry once
    dscores.dispose();
    return inputs.map((t) => {
      const g = grads.get(t)!;
      if (t.requiresGrad) return g;
      g.dispose();
      return null;
    });
  });
  if (!out.requiresGrad) probs.dispose(); // nothing recorded: no backward will read them
  return out;
}

/** q[B,H,Tq,D], k[B,H,Tk,D], v[B,H,Tk,Dv] (each contiguous) -> out[B,H,Tq,Dv]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  for (const [t, what] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) assertF32(t, `attention ${what}`);
  expectShape(q, 'q', ['B', 'H', 'Tq', 'D']);
  const [batch, heads, tq, d] = q.shape as [number, number, number, number];
  expectShape(k, 'k', [batch, heads, 'Tk', d]);
  const tk = k.shape[2]!;
  expectShape(v, 'v', [batch, heads, tk, 'Dv']);
  const dv = v.shape[3]!;
  return attentionOn(
    {
      q: { tensor: q, layout: contiguous(heads, tq, d) },
      k: { tensor: k, layout: contiguous(heads, tk, d) },
      v: { tensor: v, layout: contiguous(heads, tk, dv) },
      out: { shape: [batch, heads, tq, dv], layout: contiguous(heads, tq, dv) },
      batch,
      heads,
      tq,
      tk,
      d,
      dv,
    },
    options,
  );
}

/**
 * Multi-head self-attention on a qkv projection read in place: qkv[B, T, 3C] (columns: q heads, then k heads,
 * then v heads, head h at h * C/H within each part) -> the heads merged, [B, T, C]. The same as splitting qkv
 * into [B, H, T, C/H] tensors, attention(), and merging the heads back, without the transposes and slices
 * (and their backward passes) around the kernels.
 */
export function selfAttention(qkv: Tensor, heads: number, options: AttentionOptions = {}): Tensor {
  assertF32(qkv, 'attention qkv');
  expectShape(qkv, 'qkv', ['B', 'T', '3C']);
  const [batch, tokens, width] = qkv.shape as [number, number, number];
  if (width % (3 * heads) !== 0) throw new Error(`attention qkv: ${qkv.describe()} does not split into q, k and v of ${heads} heads`);
  const d = width / (3 * heads);
  const part = (i: number): Operand => ({ tensor: qkv, layout: packed(i, 3, heads, tokens, d) });
  return attentionOn(
    { q: part(0), k: part(1), v: part(2), out: { shape: [batch, tokens, heads * d], layout: packed(0, 1, heads, tokens, d) }, batch, heads, tq: tokens, tk: tokens, d, dv: d },
    options,
  );
}

/**
 * Multi-head cross-attention read in place: queries q[B, T, C], keys and values kv[B, S, 2C] (k heads, then v
 * heads) -> the heads merged, [B, T, C]. keyMask [B, S] masks padding of the context.
 */
export function crossAttention(q: Tensor, kv: Tensor, heads: number, options: AttentionOptions = {}): Tensor {
  assertF32(q, 'attention q');
  assertF32(kv, 'attention kv');
  expectShape(q, 'q', ['B', 'T', 'C']);
  const [batch, tq, width] = q.shape as [number, number, number];
  expectShape(kv, 'kv', [batch, 'S', 2 * width]);
  if (width % heads !== 0) throw new Error(`attention q: ${q.describe()} does not split into ${heads} heads`);
  const tk = kv.shape[1]!;
  const d = width / heads;
  return attentionOn(
    {
      q: { tensor: q, layout: packed(0, 1, heads, tq, d) },
      k: { tensor: kv, layout: packed(0, 2, heads, tk, d) },
      v: { tensor: kv, layout: packed(1, 2, heads, tk, d) },
      out: { shape: [batch, tq, width], layout: packed(0, 1, heads, tq, d) },
      batch,
      heads,
      tq,
      tk,
      d,
      dv: d,
    },
    options,
  );
}

// ---- float64 reference ----

function addAt(data: Float64Array, i: number, value: number): void {
  data[i] = data[i]! + value;
}

interface Dims {
  bh: number;
  heads: number;
  tq: number;
  tk: number;
  d: number;
  dv: number;
}

/** P [B*H, Tq, Tk] with the same visibility rules as the kernels (all-hidden rows are zeros). */
function probabilities(q: HostTensor, k: HostTensor, mask: HostTensor | null, dims: Dims, scale: number, causal: boolean): Float64Array {
  const { bh, heads, tq, tk, d } = dims;
  const probs = new Float64Array(bh * tq * tk);
  for (let g = 0; g < bh; g++) {
    for (let i = 0; i < tq; i++) {
      const row = (g * tq + i) * tk;
      const visible = (j: number) => (!mask || mask.data[Math.floor(g / heads) * tk + j] !== 0) && (!causal || j <= i + tk - tq);
      let m = -Infinity;
      for (let j = 0; j < tk; j++) {
        if (!visible(j)) continue;
        let s = 0;
        for (let c = 0; c < d; c++) s += q.data[(g * tq + i) * d + c]! * k.data[(g * tk + j) * d + c]!;
        probs[row + j] = s * scale;
        m = Math.max(m, s * scale);
      }
      let total = 0;
      for (let j = 0; j < tk; j++) total += probs[row + j] = visible(j) ? Math.exp(probs[row + j]! - m) : 0;
      for (let j = 0; j < tk; j++) probs[row + j] = total > 0 ? probs[row + j]! / total : 0;
    }
  }
  return probs;
}

/** Inputs [q, k, v, keyMask (if hasMask)]; the mask gets no gradient. */
export function attentionReference(options: { causal?: boolean; scale?: number; hasMask: boolean }): Reference {
  const causal = options.causal ?? false;
  const unpack = (inputs: readonly HostTensor[]) => {
    const [q, k, v] = inputs as [HostTensor, HostTensor, HostTensor];
    const [b, heads, tq, d] = q.shape as [number, number, number, number];
    const dims: Dims = { bh: b * heads, heads, tq, tk: k.shape[2]!, d, dv: v.shape[3]! };
    const scale = options.scale ?? 1 / Math.sqrt(d);
    return { q, k, v, dims, scale, probs: probabilities(q, k, options.hasMask ? inputs[3]! : null, dims, scale, causal) };
  };
  return {
    forward(inputs) {
      const { q, v, dims, probs } = unpack(inputs);
      const { bh, tq, tk, dv } = dims;
      const out = host([...q.shape.slice(0, 3), dv]);
      for (let g = 0; g < bh; g++) {
        for (let i = 0; i < tq; i++) {
          for (let j = 0; j < tk; j++) {
            const pij = probs[(g * tq + i) * tk + j]!;
            for (let c = 0; c < dv; c++) addAt(out.data, (g * tq + i) * dv + c, pij * v.data[(g * tk + j) * dv + c]!);
          }
        }
      }
      return out;
    },
    backward(inputs, dout) {
      const { q, k, v, dims, scale, probs } = unpack(inputs);
      const { bh, tq, tk, d, dv } = dims;
      const dq = host(q.shape);
      const dk = host(k.shape);
      const dvalues = host(v.shape);
      const dp = new Float64Array(tk);
      for (let g = 0; g < bh; g++) {
        for (let i = 0; i < tq; i++) {
          const row = g * tq + i;
          let delta = 0;
          for (let j = 0; j < tk; j++) {
            let s = 0;
            for (let c = 0; c < dv; c++) s += dout.data[row * dv + c]! * v.data[(g * tk + j) * dv + c]!;
            dp[j] = s;
            delta += probs[row * tk + j]! * s;
          }
          for (let j = 0; j < tk; j++) {
            const pij = probs[row * tk + j]!;
            const ds = pij * (dp[j]! - delta) * scale; // dL/ds_ij, times the scale of s = scale * q.k
            for (let c = 0; c < d; c++) {
              addAt(dq.data, row * d + c, ds * k.data[(g * tk + j) * d + c]!);
              addAt(dk.data, (g * tk + j) * d + c, ds * q.data[row * d + c]!);
            }
            for (let c = 0; c < dv; c++) addAt(dvalues.data, (g * tk + j) * dv + c, pij * dout.data[row * dv + c]!);
          }
        }
      }
      return [dq, dk, dvalues, ...(options.hasMask ? [null] : [])];
    },
  };
}
