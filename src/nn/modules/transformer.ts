// A pre-LN transformer encoder layer (GPT-2 / CLIP / ViT style): x + attn(norm1(x)), then x + mlp(norm2(x)).
// The text encoder passes its padding mask (padded keys are never attended to; padded queries are computed
// and ignored downstream); the evaluator's image tokens have none.
import type { Engine } from '../engine';
import { Module } from '../module';
import { add } from '../ops/elementwise';
import type { Tensor } from '../tensor';
import { MultiHeadAttention } from './attention';
import { LayerNorm, MLP } from './basic';

export class TransformerLayer extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm;
  readonly mlp: MLP;

  constructor(engine: Engine, dim: number, heads: number, mlpRatio: number, seed: number) {
    super(engine);
    this.norm1 = this.child('norm1', new LayerNorm(engine, dim));
    this.attn = this.child('attn', new MultiHeadAttention(engine, dim, heads, { seed }));
    this.norm2 = this.child('norm2', new LayerNorm(engine, dim));
    this.mlp = this.child('mlp', new MLP(engine, dim, dim * mlpRatio, dim, 'gelu', seed + 3));
  }

  // x[B, T, C], keyMask[B, T] (1 = token, 0 = padding; omitted: attend to all) -> [B, T, C]
  forward(x: Tensor, keyMask: Tensor | null = null): Tensor {
    x = add(x, this.attn.forward(this.norm1.forward(x), undefined, keyMask));
    return add(x, this.mlp.forward(this.norm2.forward(x)));
  }
}
