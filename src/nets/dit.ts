// The Shapes teacher denoiser (docs/NETS.md): a DiT (Peebles & Xie) over 4x4 patches with adaLN-Zero
// conditioning on c = time(sigma) + textProjection(pooled_text) and PixArt-style cross-attention to the
// text encoder's states. It predicts the flow-matching velocity v = eps - x0.
//   sample [B, 3, 32, 32], sigma [B], encoder_hidden_states [B, L, 64], encoder_attention_mask [B, L],
//   pooled_text [B, 64] -> velocity [B, 3, 32, 32]
import type { Engine } from '../nn/engine';
import { Module } from '../nn/module';
import { Linear } from '../nn/modules/basic';
import { DiTBlock, FinalLayer, TimestepEmbedder } from '../nn/modules/dit';
import { add, mul, sub } from '../nn/ops/elementwise';
import { reciprocal } from '../nn/ops/reciprocal';
import { inversePermutation, reshape, transpose } from '../nn/ops/shape';
import type { Tensor } from '../nn/tensor';
import { ModuleList } from './textEncoder';

export interface ShapesDiTConfig {
  imageSize: number;
  channels: number;
  patchSize: number;
  dim: number;
  heads: number;
  depth: number;
  /** Width of the text encoder's states and pooled vector. */
  contextDim: number;
  mlpRatio: number;
  /** Sinusoidal features of sigma fed to the timestep MLP. */
  frequencyDim: number;
  /**
   * What the last layer predicts (absent: 'velocity'). 'x0': the clean image, turned into the velocity the
   * interface promises by v = (x_s - x0_hat) / max(s, x0SigmaFloor) ("Back to Basics: Let Denoising Generative
   * Models Denoise", Li & He 2025: clean data lies near a low-dimensional manifold, noise does not, so a small
   * network learns x0 more easily than eps - x0). Same loss, same outputs, another parameterisation.
   */
  prediction?: 'velocity' | 'x0';
  /** The noise level below which an 'x0' network divides by this instead (default 0.05, as Li & He). */
  x0SigmaFloor?: number;
}

export const DEFAULT_X0_SIGMA_FLOOR = 0.05;

/** docs/NETS.md: patch 4, D = 96, 4 heads, depth 4 (about 0.8 M parameters). */
export const SHAPES_DIT_CONFIG: Readonly<ShapesDiTConfig> = {
  imageSize: 32,
  channels: 3,
  patchSize: 4,
  dim: 96,
  heads: 4,
  depth: 4,
  contextDim: 64,
  mlpRatio: 4,
  frequencyDim: 64,
};

// [B, C, H, W] -> [B, C, H/p, p, W/p, p] -> this permutation -> [B, H/p, W/p, p, p, C]: token = row-major
// patch, feature = (py, px, channel), the layout docs/NETS.md fixes for the ONNX export.
const PATCH_PERMUTATION = [0, 2, 4, 3, 5, 1] as const;

/** [B, C, H, W] -> [B, (H/p)(W/p), p p C]. */
export function patchify(x: Tensor, patchSize: number): Tensor {
  const [batch, channels, height, width] = x.shape as [number, number, number, number];
  const [rows, cols] = [height / patchSize, width / patchSize];
  const patches = transpose(reshape(x, [batch, channels, rows, patchSize, cols, patchSize]), PATCH_PERMUTATION);
  return reshape(patches, [batch, rows * cols, patchSize * patchSize * channels]);
}

/** The inverse of patchify: [B, (H/p)(W/p), p p C] -> [B, C, H, W]. */
export function unpatchify(tokens: Tensor, patchSize: number, channels: number, height: number, width: number): Tensor {
  const batch = tokens.shape[0]!;
  const [rows, cols] = [height / patchSize, width / patchSize];
  const grid = reshape(tokens, [batch, rows, cols, patchSize, patchSize, channels]);
  return reshape(transpose(grid, inversePermutation(PATCH_PERMUTATION)), [batch, channels, height, width]);
}

/**
 * The fixed 2D sin-cos position embedding of MAE / DiT (half the width encodes the row, half the column),
 * used here as the initial value of the trainable `positionEmbedding`: the model starts knowing where each
 * patch is instead of learning it from noise.
 */
export function sincos2d(rows: number, cols: number, dim: number): Float32Array {
  if (dim % 4 !== 0) throw new Error(`sincos2d: dim ${dim} must be a multiple of 4`);
  const quarter = dim / 4;
  const out = new Float32Array(rows * cols * dim);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      for (let i = 0; i < quarter; i++) {
        const omega = 1 / 10000 ** (i / quarter);
        const at = (r * cols + c) * dim;
        out[at + i] = Math.sin(r * omega);
        out[at + quarter + i] = Math.cos(r * omega);
        out[at + 2 * quarter + i] = Math.sin(c * omega);
        out[at + 3 * quarter + i] = Math.cos(c * omega);
      }
  return out;
}

export class ShapesDiT extends Module {
  readonly config: Readonly<ShapesDiTConfig>;
  readonly tokens: number;
  readonly patchFeatures: number;
  readonly patchEmbed: Linear;
  readonly positionEmbedding: Tensor;
  readonly time: TimestepEmbedder;
  readonly textProjection: Linear;
  readonly blocks: DiTBlock[];
  readonly final: FinalLayer;

  constructor(engine: Engine, config: Partial<ShapesDiTConfig> = {}, seed = 0) {
    super(engine);
    const c = (this.config = { ...SHAPES_DIT_CONFIG, ...config });
    if (c.imageSize % c.patchSize !== 0) throw new Error(`ShapesDiT: imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
    if (c.dim % c.heads !== 0) throw new Error(`ShapesDiT: dim ${c.dim} is not divisible by ${c.heads} heads`);
    if (c.prediction !== undefined && c.prediction !== 'velocity' && c.prediction !== 'x0') throw new Error(`ShapesDiT: prediction must be 'velocity' or 'x0', got ${JSON.stringify(c.prediction)}`);
    const side = c.imageSize / c.patchSize;
    this.tokens = side * side;
    this.patchFeatures = c.patchSize * c.patchSize * c.channels;
    const base = seed * 1000;
    this.patchEmbed = this.child('patchEmbed', new Linear(engine, this.patchFeatures, c.dim, { seed: base + 1 }));
    this.positionEmbedding = this.param('positionEmbedding', [this.tokens, c.dim], sincos2d(side, side, c.dim));
    this.time = this.child('time', new TimestepEmbedder(engine, c.dim, c.frequencyDim, base + 2));
    this.textProjection = this.child('textProjection', new Linear(engine, c.contextDim, c.dim, { seed: base + 4 }));
    const blocks = this.child('blocks', new ModuleList(engine));
    this.blocks = Array.from({ length: c.depth }, (_, i) =>
      blocks.add(i, new DiTBlock(engine, c.dim, c.heads, { contextDim: c.contextDim, mlpRatio: c.mlpRatio, seed: base + 100 * (i + 1) })),
    );
    this.final = this.child('final', new FinalLayer(engine, c.dim, this.patchFeatures));
  }

  /**
   * sample [B, C, H, W], sigma [B] in [0, 1], states [B, L, contextDim], mask [B, L] (1 = token),
   * pooled [B, contextDim] -> velocity [B, C, H, W].
   */
  forward(sample: Tensor, sigma: Tensor, states: Tensor, mask: Tensor, pooled: Tensor): Tensor {
    return this.forwardWithHidden(sample, sigma, states, mask, pooled).velocity;
  }

  /**
   * forward, and the tokens [B, T, dim] after the first `afterBlock` blocks (0: the patch embedding plus positions;
   * absent: after the last block), what REPA aligns (nets/repa.ts).
   */
  forwardWithHidden(sample: Tensor, sigma: Tensor, states: Tensor, mask: Tensor, pooled: Tensor, afterBlock = this.blocks.length): { velocity: Tensor; hidden: Tensor } {
    const { channels, imageSize, patchSize, contextDim } = this.config;
    if (!Number.isInteger(afterBlock) || afterBlock < 0 || afterBlock > this.blocks.length) throw new Error(`ShapesDiT: afterBlock must be an integer in 0..${this.blocks.length}, got ${afterBlock}`);
    const batch = sample.shape[0]!;
    const expect = (t: Tensor, name: string, shape: readonly number[]) => {
      const ok = t.dtype === 'f32' && t.rank === shape.length && shape.every((d, i) => d < 0 || t.shape[i] === d);
      if (!ok) throw new Error(`ShapesDiT: ${name} must be f32 [${shape.map((d) => (d < 0 ? 'L' : d)).join(', ')}], got ${t.dtype} ${t.describe()}`);
    };
    expect(sample, 'sample', [batch, channels, imageSize, imageSize]);
    expect(sigma, 'sigma', [batch]);
    expect(states, 'encoder_hidden_states', [batch, -1, contextDim]);
    expect(mask, 'encoder_attention_mask', [batch, states.shape[1]!]);
    expect(pooled, 'pooled_text', [batch, contextDim]);

    let x = add(this.patchEmbed.forward(patchify(sample, patchSize)), this.positionEmbedding);
    const c = add(this.time.forward(sigma), this.textProjection.forward(pooled));
    let hidden = x;
    this.blocks.forEach((block, i) => {
      x = block.forward(x, c, states, mask);
      if (i + 1 === afterBlock) hidden = x;
    });
    const out = unpatchify(this.final.forward(x, c), patchSize, channels, imageSize, imageSize);
    if (this.config.prediction !== 'x0') return { velocity: out, hidden };
    // v = (x_s - x0_hat) / max(s, floor): exact for s above the floor, x0_hat = x_s - s v.
    const inverse = reciprocal(sigma, this.config.x0SigmaFloor ?? DEFAULT_X0_SIGMA_FLOOR);
    return { velocity: mul(sub(sample, out), reshape(inverse, [batch, 1, 1, 1])), hidden };
  }
}
