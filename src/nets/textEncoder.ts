// The Shapes text encoder (docs/NETS.md): token + position embeddings, pre-LN bidirectional transformer
// layers with a key-padding mask, a final norm, and a masked-mean pooled vector.
//   input_ids u32 [B, L], attention_mask f32 [B, L] -> last_hidden_state [B, L, 64], pooler_output [B, 64]
import type { Engine } from '../nn/engine';
import { init, Module } from '../nn/module';
import { TransformerLayer } from '../nn/modules/transformer';
import { LayerNorm } from '../nn/modules/basic';
import { attention } from '../nn/ops/attention';
import { add } from '../nn/ops/elementwise';
import { embedding } from '../nn/ops/embedding';
import { reshape, slice } from '../nn/ops/shape';
import { fromArray, type Tensor } from '../nn/tensor';

export interface TextEncoderConfig {
  vocabularySize: number;
  maxLength: number;
  dim: number;
  heads: number;
  layers: number;
  mlpRatio: number;
}

/** docs/NETS.md: vocabulary 30 (data/tokenizer.ts), L = 24, width 64, 2 layers of 4 heads, MLP ratio 4. */
export const TEXT_ENCODER_CONFIG: Readonly<TextEncoderConfig> = { vocabularySize: 30, maxLength: 24, dim: 64, heads: 4, layers: 2, mlpRatio: 4 };

/** A lookup table `weight` [count, dim] (torch's nn.Embedding), initialised N(0, 0.02) as in GPT-2 / CLIP. */
export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(engine: Engine, count: number, dim: number, seed: number) {
    super(engine);
    this.weight = this.param('weight', [count, dim], init.normal([count, dim], 0.02, seed));
  }
  // ids u32 [...S] -> [...S, dim]
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight);
  }
}

// A type alias, not an interface, so tidy() can return it (interfaces do not satisfy its index signature).
export type TextEncoding = {
  /** [B, L, dim]: the DiT's cross-attention context (`last_hidden_state`). */
  lastHiddenState: Tensor;
  /** [B, dim]: the masked mean of lastHiddenState (`pooler_output`), the DiT's adaLN text vector. */
  pooled: Tensor;
};

export class TextEncoder extends Module {
  readonly config: Readonly<TextEncoderConfig>;
  readonly tokenEmbedding: Embedding;
  readonly positionEmbedding: Tensor;
  readonly layers: TransformerLayer[];
  readonly finalNorm: LayerNorm;

  constructor(engine: Engine, config: Partial<TextEncoderConfig> = {}, seed = 0) {
    super(engine);
    const c = (this.config = { ...TEXT_ENCODER_CONFIG, ...config });
    if (c.dim % c.heads !== 0) throw new Error(`TextEncoder: dim ${c.dim} is not divisible by ${c.heads} heads`);
    this.tokenEmbedding = this.child('tokenEmbedding', new Embedding(engine, c.vocabularySize, c.dim, seed * 1000 + 1));
    this.positionEmbedding = this.param('positionEmbedding', [c.maxLength, c.dim], init.normal([c.maxLength, c.dim], 0.02, seed * 1000 + 2));
    const layers = this.child('layers', new ModuleList(engine));
    this.layers = Array.from({ length: c.layers }, (_, i) => layers.add(i, new TransformerLayer(engine, c.dim, c.heads, c.mlpRatio, seed * 1000 + 100 * (i + 1))));
    this.finalNorm = this.child('finalNorm', new LayerNorm(engine, c.dim));
  }

  /** ids u32 [B, L] (L <= maxLength), mask f32 [B, L] (1 = token, 0 = padding). */
  forward(ids: Tensor, mask: Tensor): TextEncoding {
    const { maxLength, dim } = this.config;
    if (ids.dtype !== 'u32' || ids.rank !== 2) throw new Error(`TextEncoder: input_ids must be u32 [batch, length], got ${ids.dtype} ${ids.describe()}`);
    const [batch, length] = ids.shape as [number, number];
    if (length > maxLength) throw new Error(`TextEncoder: input_ids ${ids.describe()} is longer than the ${maxLength} positions this encoder has`);
    if (mask.dtype !== 'f32' || mask.shape[0] !== batch || mask.shape[1] !== length || mask.rank !== 2) {
      throw new Error(`TextEncoder: attention_mask must be f32 [${batch}, ${length}] like input_ids, got ${mask.dtype} ${mask.describe()}`);
    }
    let x = add(this.tokenEmbedding.forward(ids), length === maxLength ? this.positionEmbedding : slice(this.positionEmbedding, 0, 0, length));
    for (const layer of this.layers) x = layer.forward(x, mask);
    const lastHiddenState = this.finalNorm.forward(x);
    return { lastHiddenState, pooled: maskedMean(lastHiddenState, mask, dim) };
  }
}

/** Children under `0`, `1`, ... (torch's nn.ModuleList), so checkpoints address them as `layers.{i}`. */
export class ModuleList extends Module {
  add<M extends Module>(index: number, module: M): M {
    return this.child(String(index), module);
  }
}

/**
 * sum_l mask[b, l] h[b, l] / sum_l mask[b, l], as attention: with all-zero queries and keys every score is 0,
 * so the key-masked softmax puts 1 / (tokens) on each real token and 0 on padding, and the output is exactly
 * the masked mean of the values (differentiable in h; a caption of padding only pools to zeros). The engine
 * has no division op, and this keeps the mask on the GPU.
 */
export function maskedMean(h: Tensor, mask: Tensor, dim: number): Tensor {
  const [batch, length] = h.shape as [number, number, number];
  const engine = h.engine;
  const q = fromArray(engine, [batch, 1, 1, 1], new Float32Array(batch), 'f32', 'pool.query');
  const k = fromArray(engine, [batch, 1, length, 1], new Float32Array(batch * length), 'f32', 'pool.keys');
  const pooled = attention(q, k, reshape(h, [batch, 1, length, dim]), { keyMask: mask });
  return reshape(pooled, [batch, dim]);
}
