// The Shapes text-to-image teacher as one trainable module (text encoder + DiT, trained jointly), and sampling
// from it with classifier-free guidance: what pretraining checks its work with and the sample command draws.
import { encodeCaptionBatch } from '../data/tokenizer';
import { sampleEuler } from '../flow/tensors';
import { cfgCombine } from '../flow/tensors';
import { eulerSigmas } from '../flow/schedule';
import { ShapesDiT, type ShapesDiTConfig } from '../nets/dit';
import { RepaProjector } from '../nets/repa';
import { TextEncoder, type TextEncoderConfig } from '../nets/textEncoder';
import type { Engine } from '../nn/engine';
import { Module } from '../nn/module';
import { randn } from '../nn/ops/random';
import { concat, slice } from '../nn/ops/shape';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';

export interface ShapesModelConfig {
  textEncoder: Partial<TextEncoderConfig>;
  denoiser: Partial<ShapesDiTConfig>;
}

/** `textEncoder.*` and `denoiser.*`: one optimizer and one EMA for both networks. */
export class ShapesTextToImage extends Module {
  readonly textEncoder: TextEncoder;
  readonly denoiser: ShapesDiT;
  /** REPA's projector while pretraining with --repa (nets/repa.ts): trained and checkpointed, not part of the teacher's files. */
  repaProjector: RepaProjector | null = null;

  constructor(engine: Engine, config: ShapesModelConfig = { textEncoder: {}, denoiser: {} }, seed = 0) {
    super(engine);
    this.textEncoder = this.child('textEncoder', new TextEncoder(engine, config.textEncoder, 2 * seed));
    this.denoiser = this.child('denoiser', new ShapesDiT(engine, config.denoiser, 2 * seed + 1));
  }

  /** Adds REPA's projector (parameters `repaProjector.*`) onto features of width `targetDim`; once. */
  addRepaProjector(targetDim: number, seed: number): RepaProjector {
    if (this.repaProjector) throw new Error('ShapesTextToImage: the REPA projector is already there');
    this.repaProjector = this.child('repaProjector', new RepaProjector(this.engine, this.denoiser.config.dim, targetDim, seed));
    return this.repaProjector;
  }

  /** The text encoder and the denoiser alone (what a teacher's weights are), sharing this module's parameters. */
  teacherNetworks(): Module {
    return new TeacherNetworks(this);
  }

  /** Text states and tokens of captions, for the denoiser. */
  encode(captions: readonly string[]): { states: Tensor; mask: Tensor; pooled: Tensor } {
    const { maxLength } = this.textEncoder.config;
    const tokens = encodeCaptionBatch(captions, maxLength);
    const ids = fromArray(this.engine, [captions.length, maxLength], tokens.ids, 'u32', 'input_ids');
    const mask = fromArray(this.engine, [captions.length, maxLength], tokens.attentionMask, 'f32', 'attention_mask');
    const { lastHiddenState, pooled } = this.textEncoder.forward(ids, mask);
    return { states: lastHiddenState, mask, pooled };
  }
}

class TeacherNetworks extends Module {
  constructor(model: ShapesTextToImage) {
    super(model.engine);
    this.child('textEncoder', model.textEncoder);
    this.child('denoiser', model.denoiser);
  }
}

export interface SampleOptions {
  /** Guidance weight w of v_null + w (v_text - v_null); 1 disables guidance (one forward per step). */
  guidance: number;
  steps: number;
  seed: number;
  /** The Euler grid's timestep shift k (eulerSigmas; default 1: uniform in s). */
  shift?: number;
}

/**
 * Images [N, 3, 32, 32] in about [-1, 1] for the captions: Euler from s = 1 to 0 over eulerSigmas(steps, shift), the
 * conditional and unconditional (empty caption) velocities from one forward of the doubled batch.
 */
export async function sampleShapes(model: ShapesTextToImage, captions: readonly string[], options: SampleOptions): Promise<Float32Array> {
  const engine = model.engine;
  const n = captions.length;
  const { channels, imageSize } = model.denoiser.config;
  const guided = options.guidance !== 1;
  const images = noGrad(engine, () =>
    tidy(engine, () => {
      const text = model.encode(guided ? [...captions, ...captions.map(() => '')] : captions);
      const noise = randn(engine, [n, channels, imageSize, imageSize], options.seed);
      return sampleEuler(
        (x, s) => {
          const batch = guided ? concat([x, x], 0) : x;
          const sigma = fromArray(engine, [batch.shape[0]!], new Float32Array(batch.shape[0]!).fill(s), 'f32', 'sigma');
          const v = model.denoiser.forward(batch, sigma, text.states, text.mask, text.pooled);
          return guided ? cfgCombine(slice(v, 0, n, 2 * n), slice(v, 0, 0, n), options.guidance) : v;
        },
        noise,
        eulerSigmas(options.steps, options.shift ?? 1),
      );
    }),
  );
  const data = await images.read();
  images.dispose();
  return data;
}
