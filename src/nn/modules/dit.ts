// DiT building blocks (Peebles & Xie, "Scalable Diffusion Models with Transformers"), with the text
// cross-attention of PixArt-alpha: adaLN-Zero conditioning on a vector c (timestep + pooled text), and
// optional cross-attention from the image tokens to the text encoder's states.
import { Module } from '../module';
import { silu } from '../ops/activation';
import { add, mul } from '../ops/elementwise';
import { modulate } from '../ops/modulate';
import { reshape, slice } from '../ops/shape';
import { timestepEmbedding } from '../ops/timestep';
import type { Tensor } from '../tensor';
import type { Engine } from '../engine';
import { MultiHeadAttention } from './attention';
import { LayerNorm, Linear, MLP } from './basic';

/** sigma[B] -> c[B, dim]: sinusoidal features, then an MLP (SiLU), as in DiT's TimestepEmbedder. */
export class TimestepEmbedder extends Module {
  readonly mlp: MLP;

  constructor(engine: Engine, readonly dim: number, readonly frequencyDim = 64, seed = 0) {
    super(engine);
    this.mlp = this.child('mlp', new MLP(engine, frequencyDim, dim, dim, 'silu', seed));
  }

  forward(sigma: Tensor): Tensor {
    return this.mlp.forward(timestepEmbedding(sigma, this.frequencyDim));
  }
}

// c[B, n*C] -> n tensors [B, C] (the adaLN modulation chunks)
function chunks(c: Tensor, n: number): Tensor[] {
  const size = c.shape[1]! / n;
  return Array.from({ length: n }, (_, i) => slice(c, 1, i * size, (i + 1) * size));
}

// gate[B, C] * x[B, T, C], the gate broadcast over tokens
function gated(x: Tensor, gate: Tensor): Tensor {
  return mul(x, reshape(gate, [gate.shape[0]!, 1, gate.shape[1]!]));
}

export interface DiTBlockOptions {
  mlpRatio?: number;
  /** Width of the text states for cross-attention; omitted: no cross-attention. */
  contextDim?: number;
  seed?: number;
}

export class DiTBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly normCross: LayerNorm | null;
  readonly crossAttn: MultiHeadAttention | null;
  readonly norm2: LayerNorm;
  readonly mlp: MLP;
  /** c -> shift, scale, gate for attention and for the MLP; zero-initialised so the block starts as the identity (adaLN-Zero). */
  readonly adaLN: Linear;

  constructor(engine: Engine, readonly dim: number, heads: number, options: DiTBlockOptions = {}) {
    super(engine);
    const seed = options.seed ?? 0;
    this.norm1 = this.child('norm1', new LayerNorm(engine, dim, { affine: false }));
    this.attn = this.child('attn', new MultiHeadAttention(engine, dim, heads, { seed }));
    if (options.contextDim !== undefined) {
      this.normCross = this.child('normCross', new LayerNorm(engine, dim));
      this.crossAttn = this.child('crossAttn', new MultiHeadAttention(engine, dim, heads, { contextDim: options.contextDim, seed: seed + 10 }));
    } else {
      this.normCross = this.crossAttn = null;
    }
    this.norm2 = this.child('norm2', new LayerNorm(engine, dim, { affine: false }));
    this.mlp = this.child('mlp', new MLP(engine, dim, Math.round(dim * (options.mlpRatio ?? 4)), dim, 'gelu', seed + 20));
    this.adaLN = this.child('adaLN', new Linear(engine, dim, 6 * dim, { init: 'zeros' }));
  }

  /** x[B, T, C], c[B, C], context[B, S, Cctx], contextMask[B, S] -> [B, T, C] */
  forward(x: Tensor, c: Tensor, context?: Tensor, contextMask?: Tensor | null): Tensor {
    const [shift1, scale1, gate1, shift2, scale2, gate2] = chunks(this.adaLN.forward(silu(c)), 6) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    x = add(x, gated(this.attn.forward(modulate(this.norm1.forward(x), shift1, scale1)), gate1));
    if (this.crossAttn && context) x = add(x, this.crossAttn.forward(this.normCross!.forward(x), context, contextMask));
    return add(x, gated(this.mlp.forward(modulate(this.norm2.forward(x), shift2, scale2)), gate2));
  }
}

/** The DiT output layer: adaLN-modulated norm, then a zero-initialised projection to the patch values. */
export class FinalLayer extends Module {
  readonly norm: LayerNorm;
  readonly adaLN: Linear;
  readonly linear: Linear;

  constructor(engine: Engine, dim: number, outFeatures: number) {
    super(engine);
    this.norm = this.child('norm', new LayerNorm(engine, dim, { affine: false }));
    this.adaLN = this.child('adaLN', new Linear(engine, dim, 2 * dim, { init: 'zeros' }));
    this.linear = this.child('linear', new Linear(engine, dim, outFeatures, { init: 'zeros' }));
  }

  forward(x: Tensor, c: Tensor): Tensor {
    const [shift, scale] = chunks(this.adaLN.forward(silu(c)), 2) as [Tensor, Tensor];
    return this.linear.forward(modulate(this.norm.forward(x), shift, scale));
  }
}
