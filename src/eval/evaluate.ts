// Running the attribute evaluator over many images: its readings, its features, and the two metrics built on them
// (prompt accuracy, promptAccuracy.ts; Frechet distance to real renders, frechet.ts). Images go through the GPU in
// batches under noGrad, each batch in its own tidy scope, so memory stays at one batch's activations.
import { makeBatch } from '../data/dataset';
import { IMAGE_NUMEL, IMAGE_SIZE, IMAGE_CHANNELS } from '../data/render';
import type { Scene, Statement } from '../data/shapes';
import { type AttributeEvaluator, decodePredictions, HEAD_NAMES, type HeadLogits, type ImagePrediction, SLOT_COUNT } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import { slice } from '../nn/ops/shape';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import { frechetDistanceFromStatistics, type GaussianStatistics, gaussianStatistics } from './frechet';
import { type AttributeScore, type CheckedAttribute, type CountErrors, promptAccuracy, type PromptCheck } from './promptAccuracy';
import { REAL_REFERENCE_SEED } from './seeds';

/** Images per forward pass: the attention probabilities of 250 images are 16 MB, well inside any binding limit. */
export const DEFAULT_EVALUATION_BATCH = 250;

export interface EvaluatorReadings {
  predictions: ImagePrediction[];
  /** [N, dim] row-major. */
  features: Float32Array;
  dim: number;
}

/** images: [N, 3, 32, 32] in [-1, 1], on the host (N * 3072 values) or on the GPU. */
export type Images = Float32Array | Tensor;

function imageCount(images: Images): number {
  const size = images instanceof Float32Array ? images.length : images.size;
  if (size % IMAGE_NUMEL !== 0) throw new Error(`evaluator: ${size} values is not a whole number of ${IMAGE_CHANNELS}x${IMAGE_SIZE}x${IMAGE_SIZE} images`);
  return size / IMAGE_NUMEL;
}

/** The evaluator's readings of every image, `batch` images at a time. */
export async function readImages(engine: Engine, evaluator: AttributeEvaluator, images: Images, batch = DEFAULT_EVALUATION_BATCH): Promise<EvaluatorReadings> {
  const count = imageCount(images);
  const dim = evaluator.config.dim;
  const features = new Float32Array(count * dim);
  const predictions: ImagePrediction[] = [];
  const shape = [IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE];
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const outputs = tidy(engine, () =>
      noGrad(engine, () => {
        const input =
          images instanceof Float32Array
            ? fromArray(engine, [end - start, ...shape], images.subarray(start * IMAGE_NUMEL, end * IMAGE_NUMEL), 'f32', 'evaluator.images')
            : slice(images.view([count, ...shape]), 0, start, end);
        return evaluator.forward(input);
      }),
    );
    try {
      const names = ['features', ...HEAD_NAMES] as const;
      const values = await Promise.all(names.map((name) => outputs[name].read()));
      features.set(values[0]!, start * dim);
      const [background, present, color, shape, size] = values.slice(1) as Float32Array[];
      const logits: HeadLogits = { background: background!, present: present!, color: color!, shape: shape!, size: size! };
      predictions.push(...decodePredictions(logits, end - start));
    } finally {
      for (const tensor of Object.values(outputs)) tensor.dispose();
    }
  }
  return { predictions, features, dim };
}

export interface ImageEvaluation {
  /** Images that show everything their caption states / all images. */
  promptAccuracy: number;
  perAttribute: Record<CheckedAttribute, AttributeScore>;
  countErrors: CountErrors;
  checks: PromptCheck[];
  predictions: ImagePrediction[];
  /** [N, dim] row-major: the Frechet distance's features. */
  features: Float32Array;
  dim: number;
}

/** Reads images with the evaluator and scores them against the statements of their captions. */
export async function evaluateImages(
  engine: Engine,
  evaluator: AttributeEvaluator,
  images: Images,
  statements: readonly Statement[],
  options: { batch?: number } = {},
): Promise<ImageEvaluation> {
  const count = imageCount(images);
  if (statements.length !== count) throw new Error(`evaluateImages: ${count} images for ${statements.length} statements`);
  const readings = await readImages(engine, evaluator, images, options.batch);
  const score = promptAccuracy(readings.predictions, statements);
  return { promptAccuracy: score.accuracy, perAttribute: score.perAttribute, countErrors: score.countErrors, checks: score.checks, ...readings };
}

/** The Gaussian statistics of the evaluator's features over `count` real renders drawn from `seed`. */
export async function realFeatureStatistics(
  engine: Engine,
  evaluator: AttributeEvaluator,
  options: { count?: number; seed?: number; batch?: number } = {},
): Promise<GaussianStatistics> {
  const count = options.count ?? 2000;
  const real = makeBatch(options.seed ?? REAL_REFERENCE_SEED, count);
  const { features, dim } = await readImages(engine, evaluator, real.images, options.batch);
  return gaussianStatistics({ shape: [count, dim], data: features }, 'real features');
}

export interface RealComparison extends ImageEvaluation {
  /** Frechet distance between the generated images' features and the real renders' (our FID). */
  frechetDistance: number;
  realCount: number;
}

/**
 * Prompt accuracy of generated images and their Frechet distance to real renders (count real images from seed, or
 * precomputed statistics from realFeatureStatistics, to compare many sets against one reference).
 */
export async function measureAgainstReal(
  engine: Engine,
  evaluator: AttributeEvaluator,
  images: Images,
  statements: readonly Statement[],
  options: { realCount?: number; realSeed?: number; real?: GaussianStatistics; batch?: number } = {},
): Promise<RealComparison> {
  const evaluation = await evaluateImages(engine, evaluator, images, statements, options);
  const real = options.real ?? (await realFeatureStatistics(engine, evaluator, { count: options.realCount, seed: options.realSeed, batch: options.batch }));
  const generated = gaussianStatistics({ shape: [statements.length, evaluation.dim], data: evaluation.features }, 'generated features');
  return { ...evaluation, frechetDistance: frechetDistanceFromStatistics(generated, real), realCount: real.count };
}

// ---- the evaluator's own accuracy, against the scenes that were rendered ----

export interface SceneAccuracy {
  images: number;
  /** Predicted background is the scene's. */
  background: number;
  /** Per (image, slot): occupied or empty, predicted right. */
  presence: number;
  /** Per object: its slot is predicted occupied (the object is found at its position). */
  position: number;
  /** Per object, read at its true slot. */
  color: number;
  shape: number;
  size: number;
  /** Images read entirely right: background, all 5 presences, and every object's colour, shape and size. */
  exact: number;
}

/** How often the evaluator's readings agree with the scenes the images were rendered from. */
export function sceneAccuracy(predictions: readonly ImagePrediction[], scenes: readonly Scene[]): SceneAccuracy {
  if (predictions.length !== scenes.length) throw new Error(`sceneAccuracy: ${predictions.length} predictions for ${scenes.length} scenes`);
  const hits = { background: 0, presence: 0, position: 0, color: 0, shape: 0, size: 0, exact: 0 };
  let objects = 0;
  scenes.forEach((scene, b) => {
    const prediction = predictions[b]!;
    let exact = prediction.background === scene.background;
    hits.background += Number(prediction.background === scene.background);
    for (const slot of prediction.slots) {
      const right = slot.present === scene.objects.some((o) => o.position === slot.position);
      hits.presence += Number(right);
      exact &&= right;
    }
    for (const object of scene.objects) {
      objects++;
      const slot = prediction.slots.find((s) => s.position === object.position)!;
      const reading = { position: slot.present, color: slot.color === object.color, shape: slot.shape === object.shape, size: slot.size === object.size };
      for (const [key, right] of Object.entries(reading) as [keyof typeof reading, boolean][]) hits[key] += Number(right);
      exact &&= reading.color && reading.shape && reading.size;
    }
    hits.exact += Number(exact);
  });
  const n = scenes.length;
  return {
    images: n,
    background: hits.background / n,
    presence: hits.presence / (n * SLOT_COUNT),
    position: hits.position / objects,
    color: hits.color / objects,
    shape: hits.shape / objects,
    size: hits.size / objects,
    exact: hits.exact / n,
  };
}
