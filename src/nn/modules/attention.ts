// Multi-head attention: self-attention (queries, keys and values from one sequence) or cross-attention
// (keys and values from a context such as the text encoder's states, with a padding mask).
import { Module } from '../module';
import { attention } from '../ops/attention';
import { reshape, slice, transpose } from '../ops/shape';
import type { Tensor } from '../tensor';
import type { Engine } from '../engine';
import { Linear } from './basic';

export class MultiHeadAttention extends Module {
  readonly headDim: number;
  /** Self-attention: one [C, 3C] projection; cross-attention: q [C, C] and kv [Cctx, 2C]. */
  readonly qkv: Linear | null;
  readonly q: Linear | null;
  readonly kv: Linear | null;
  readonly out: Linear;

  constructor(
    engine: Engine,
    readonly dim: number,
    readonly heads: number,
    options: { contextDim?: number; seed?: number } = {},
  ) {
    super(engine);
    if (dim % heads !== 0) throw new Error(`attention: dim ${dim} is not divisible by ${heads} heads`);
    this.headDim = dim / heads;
    const seed = options.seed ?? 0;
    if (options.contextDim === undefined) {
      this.qkv = this.child('qkv', new Linear(engine, dim, 3 * dim, { seed }));
      this.q = this.kv = null;
    } else {
      this.qkv = null;
      this.q = this.child('q', new Linear(engine, dim, dim, { seed }));
      this.kv = this.child('kv', new Linear(engine, options.contextDim, 2 * dim, { seed: seed + 1 }));
    }
    this.out = this.child('out', new Linear(engine, dim, dim, { seed: seed + 2 }));
  }

  // [B, T, parts * C] -> parts tensors of [B, H, T, D]
  private heads_(x: Tensor, parts: number): Tensor[] {
    const [batch, tokens] = x.shape as [number, number, number];
    const split = transpose(reshape(x, [batch, tokens, parts, this.heads, this.headDim]), [2, 0, 3, 1, 4]);
    return Array.from({ length: parts }, (_, i) => reshape(slice(split, 0, i, i + 1), [batch, this.heads, tokens, this.headDim]));
  }

  /**
   * x[B, T, C] -> [B, T, C]. With a context (cross-attention): context[B, S, Cctx] and an optional
   * contextMask[B, S] (1 = a real token, 0 = padding).
   */
  forward(x: Tensor, context?: Tensor, contextMask?: Tensor | null): Tensor {
    const [batch, tokens] = x.shape as [number, number, number];
    let q: Tensor, k: Tensor, v: Tensor;
    if (this.qkv) {
      [q, k, v] = this.heads_(this.qkv.forward(x), 3) as [Tensor, Tensor, Tensor];
    } else {
      if (!context) throw new Error('cross-attention needs a context tensor');
      [q] = this.heads_(this.q!.forward(x), 1) as [Tensor];
      [k, v] = this.heads_(this.kv!.forward(context), 2) as [Tensor, Tensor];
    }
    const attended = attention(q, k, v, { keyMask: contextMask ?? null });
    const merged = reshape(transpose(attended, [0, 2, 1, 3]), [batch, tokens, this.dim]);
    return this.out.forward(merged);
  }
}
