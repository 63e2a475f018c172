// Shapes-32 as a distillation task: the teacher's DiT (the real score), conditioned on the states of its text encoder,
// which stays frozen (the student bundle ships the teacher's encoder unchanged). Captions and real images of an
// iteration come from the data layer's grammar and renderer (makeBatch), a function of the seed.
import { makeBatch } from '../data/dataset';
import { asDisplayed } from '../data/render';
import { encodeCaptionBatch } from '../data/tokenizer';
import { cfgCombine } from '../flow/tensors';
import { ShapesDiT } from '../nets/dit';
import type { AttributeEvaluator } from '../nets/evaluator';
import type { TextEncoder } from '../nets/textEncoder';
import { concat, slice } from '../nn/ops/shape';
import { cloneParameters } from '../nn/params';
import { randn } from '../nn/ops/random';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import { anchorSigmas } from '../flow/schedule';
import type { SenseFlowDistiller } from './senseflow';
import { type DistillTask, teacherEuler } from './task';

export type TextCondition = {
  /** [B, L, D], [B, L], [B, D]: the captions' encoding. */
  states: Tensor;
  mask: Tensor;
  pooled: Tensor;
  /** The same for the captions followed by as many empty captions (the teacher's guided batch). */
  guided: { states: Tensor; mask: Tensor; pooled: Tensor };
};

/** The frozen text encoder's reading of captions (no gradient). */
export function encodeText(textEncoder: TextEncoder, captions: readonly string[]): { states: Tensor; mask: Tensor; pooled: Tensor } {
  const engine = textEncoder.engine;
  const { maxLength } = textEncoder.config;
  const tokens = encodeCaptionBatch(captions, maxLength);
  return noGrad(engine, () => {
    const ids = fromArray(engine, [captions.length, maxLength], tokens.ids, 'u32', 'input_ids');
    const mask = fromArray(engine, [captions.length, maxLength], tokens.attentionMask, 'f32', 'attention_mask');
    const { lastHiddenState, pooled } = textEncoder.forward(ids, mask);
    return { states: lastHiddenState, mask, pooled };
  });
}

/** The condition for captions: their encoding, and (for guidance) that of captions + empty captions in one pass. */
export function textCondition(textEncoder: TextEncoder, captions: readonly string[]): TextCondition {
  const guided = encodeText(textEncoder, [...captions, ...captions.map(() => '')]);
  const n = captions.length;
  return { states: slice(guided.states, 0, 0, n), mask: slice(guided.mask, 0, 0, n), pooled: slice(guided.pooled, 0, 0, n), guided };
}

/** The evaluator, when given, enables the GAN term (it is frozen by the distiller). */
export function shapesTask(teacher: ShapesDiT, textEncoder: TextEncoder, evaluator?: AttributeEvaluator): DistillTask<ShapesDiT, TextCondition> {
  const { channels, imageSize } = teacher.config;
  return {
    name: 'shapes',
    sampleShape: [channels, imageSize, imageSize],
    teacher,
    createNetwork() {
      const net = new ShapesDiT(teacher.engine, teacher.config);
      cloneParameters(teacher, net);
      return net;
    },
    velocity: (net, x, sigma, c) => net.forward(x, sigma, c.states, c.mask, c.pooled),
    guidedVelocity(x, sigma, c, guidance) {
      if (guidance === 1) return teacher.forward(x, sigma, c.states, c.mask, c.pooled);
      const n = x.shape[0]!;
      const v = teacher.forward(concat([x, x], 0), concat([sigma, sigma], 0), c.guided.states, c.guided.mask, c.guided.pooled);
      return cfgCombine(slice(v, 0, n, 2 * n), slice(v, 0, 0, n), guidance);
    },
    // The GAN term's features: the frozen evaluator's token means after the patch embedding and after each layer.
    adversarial: evaluator
      ? {
          network: evaluator,
          features: (x) => evaluator.layerFeatures(x),
          featureDim: evaluator.config.dim,
          layers: evaluator.config.layers + 1,
          text: (c) => c.pooled,
          textDim: textEncoder.config.dim,
        }
      : undefined,
    batch(seed, size) {
      const data = makeBatch(seed, size);
      return { condition: textCondition(textEncoder, data.captions), x0: fromArray(teacher.engine, [size, channels, imageSize, imageSize], data.images, 'f32', 'x0') };
    },
  };
}

/** Draws the images of one chunk of captions from one noise seed ([captions, 3, 32, 32], a kept tensor). */
export type ChunkDraw = (captions: string[], seed: number) => Tensor;

/**
 * Images for `captions` in chunks of `chunk`, the chunk that starts at caption k drawn from noise seed `seed + k`
 * (so the first captions' images do not depend on how many follow), read back into one host array: memory stays that
 * of one chunk on the GPU. What the CLI's and the Distill tab's Shapes evaluations sample the teacher and student with,
 * so the images are the pictures a user would get (asDisplayed: clamped, 8-bit), as `npm run eval` scores them.
 */
export async function imagesInChunks(captions: readonly string[], sampleShape: readonly number[], chunk: number, seed: number, draw: ChunkDraw): Promise<Float32Array> {
  const perImage = sampleShape.reduce((a, b) => a * b, 1);
  const images = new Float32Array(captions.length * perImage);
  for (let start = 0; start < captions.length; start += chunk) {
    const out = draw(captions.slice(start, start + chunk), seed + start);
    try {
      images.set(asDisplayed(await out.read()), start * perImage);
    } finally {
      out.dispose();
    }
  }
  return images;
}

/** The teacher's images for a chunk: `steps` Euler steps with guidance `guidance` from the chunk's seed. */
export function teacherChunks(task: DistillTask<ShapesDiT, TextCondition>, textEncoder: TextEncoder, steps: number, guidance: number): ChunkDraw {
  const engine = task.teacher.engine;
  return (captions, seed) => teacherEuler(task, () => textCondition(textEncoder, captions), () => randn(engine, [captions.length, ...task.sampleShape], seed), steps, guidance);
}

/** The student's images for a chunk at `steps` anchors (its x0-renoise sampler) from the chunk's seed. */
export function studentChunks(distiller: SenseFlowDistiller<ShapesDiT, TextCondition>, textEncoder: TextEncoder, steps: number): ChunkDraw {
  const { engine, config } = distiller;
  return (captions, seed) => tidy(engine, () => distiller.sample(textCondition(textEncoder, captions), anchorSigmas(steps, config.shift), seed, captions.length));
}
