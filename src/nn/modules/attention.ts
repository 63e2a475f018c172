// Multi-head attention: self-attention (queries, keys and values from one sequence) or cross-attention
// (keys and values from a context such as the text encoder's states, with a padding mask).
import { Module } from '../module';
import { crossAttention, selfAttention } from '../ops/attention';
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

  /**
   * x[B, T, C] -> [B, T, C]. With a context (cross-attention): context[B, S, Cctx]. The mask [B, S] (or [B, T]
   * in self-attention) marks the keys: 1 = a real token, 0 = padding. The attention kernels read the heads
   * straight from the projections (ops/attention.ts).
   */
  forward(x: Tensor, context?: Tensor, contextMask?: Tensor | null): Tensor {
    let merged: Tensor;
    if (this.qkv) {
      merged = selfAttention(this.qkv.forward(x), this.heads, { keyMask: contextMask ?? null });
    } else {
      if (!context) throw new Error('cross-attention needs a context tensor');
      merged = crossAttention(this.q!.forward(x), this.kv!.forward(context), this.heads, { keyMask: contextMask ?? null });
    }
    return this.out.forward(merged);
  }
}
