// Captioned training examples: a random scene, what its caption states about it, and batches of rendered images.
import { captionOf } from './grammar';
import { type Random, randomFrom } from './random';
import { IMAGE_NUMEL, renderSceneInto } from './render';
import { type Exclusion, sampleScene } from './scenes';
import type { ObjectStatement, Scene, Statement } from './shapes';

export interface CaptionSampling {
  /** Probability that a scene has two objects rather than one. */
  secondObjectProbability: number;
  /** Probability, per object, that the caption states its size. */
  statedSizeProbability: number;
  /** Probability, per object, that the caption states its position. */
  statedPositionProbability: number;
  /** Probability that the caption names the background (an unnamed background is black). */
  statedBackgroundProbability: number;
  /** Attribute combinations never drawn (see Exclusion), e.g. [{color: 'red', shape: 'triangle'}]. */
  exclusions: readonly Exclusion[];
}

export const DEFAULT_CAPTION_SAMPLING: Readonly<CaptionSampling> = {
  secondObjectProbability: 0.5,
  statedSizeProbability: 0.5,
  statedPositionProbability: 0.5,
  statedBackgroundProbability: 0.5,
  exclusions: [],
};

export interface CaptionedScene {
  caption: string;
  /** What the caption states: the attributes prompt accuracy checks. */
  statement: Statement;
  scene: Scene;
}

/** A random scene and a caption stating part of it. Draws from `seed` (a number, or a generator to share a stream). */
export function sampleCaptionedScene(seed: number | Random, options: Partial<CaptionSampling> = {}): CaptionedScene {
  const sampling = { ...DEFAULT_CAPTION_SAMPLING, ...options };
  const random = randomFrom(seed);
  const { scene, backgroundStated } = sampleScene(random, sampling);
  const objects = scene.objects.map(({ color, shape, size, position }) => {
    const object: ObjectStatement = { color, shape };
    if (random() < sampling.statedSizeProbability) object.size = size;
    if (random() < sampling.statedPositionProbability) object.position = position;
    return object;
  });
  const statement: Statement = backgroundStated ? { objects, background: scene.background } : { objects };
  return { caption: captionOf(statement), statement, scene };
}

export interface Batch {
  /** [count, 3, 32, 32] in [-1, 1]. */
  images: Float32Array;
  captions: string[];
  statements: Statement[];
  scenes: Scene[];
}

/** `count` captioned examples, all drawn from one stream seeded by `seed`: same seed, same batch, byte for byte. */
export function makeBatch(seed: number, count: number, options: Partial<CaptionSampling> = {}): Batch {
  const random = randomFrom(seed);
  const images = new Float32Array(count * IMAGE_NUMEL);
  const batch: Batch = { images, captions: [], statements: [], scenes: [] };
  for (let i = 0; i < count; i++) {
    const { caption, statement, scene } = sampleCaptionedScene(random, options);
    renderSceneInto(scene, images, i * IMAGE_NUMEL);
    batch.captions.push(caption);
    batch.statements.push(statement);
    batch.scenes.push(scene);
  }
  return batch;
}
