// The attribute evaluator (docs/NETS.md): our stand-in for GenEval's object detector and for FID's Inception
// network. A small ViT reads a 32x32 image and says, per position slot, whether an object is there and its
// colour, shape and size, plus the background colour; its pooled penultimate features are what the Frechet
// distance is computed on (src/eval/).
//   image [B, 3, 32, 32] -> features [B, 96], background [B, 9], present [B, 5, 2], color [B, 5, 8],
//                           shape [B, 5, 4], size [B, 5, 2]   (logits; slots in POSITIONS order)
// Slots make the two objects of a scene an unordered set: the scenes' positions are the 5 anchors, and two
// objects never share one (data/layout.ts), so "which object is which" never has to be learned.
// Parameters: patchEmbed, positionEmbedding [64, 96], layers.{0,1}.{norm1, attn, norm2, mlp}, finalNorm,
// and the heads background, present, color, shape, size (Linear; a slot head's outputs are slot-major:
// output s * K + k is slot s, class k).
import { BACKGROUND_COLORS, type BackgroundColor, type Color, COLORS, POSITIONS, type Position, type Scene, type Shape, SHAPES, type Size, SIZES } from '../data/shapes';
import type { Engine } from '../nn/engine';
import { Module } from '../nn/module';
import { TransformerLayer } from '../nn/modules/transformer';
import { LayerNorm, Linear } from '../nn/modules/basic';
import { softmaxCrossEntropy } from '../nn/ops/crossEntropy';
import { add } from '../nn/ops/elementwise';
import { mean } from '../nn/ops/reduce';
import { reshape } from '../nn/ops/shape';
import { parseSafetensors, loadModule } from '../nn/safetensors';
import { fromArray, type Tensor } from '../nn/tensor';
import { patchify, sincos2d } from './dit';
import { ModuleList } from './textEncoder';

export interface EvaluatorConfig {
  imageSize: number;
  channels: number;
  patchSize: number;
  dim: number;
  heads: number;
  layers: number;
  mlpRatio: number;
}

/**
 * docs/NETS.md: patch 4, width 96, 2 pre-LN layers of 4 heads. The MLP ratio is 2 (NETS.md leaves it open): 169k
 * parameters, 0.68 MB of f32, against 244k with ratio 4; attention, not the MLP, is what locates and shapes objects.
 */
export const EVALUATOR_CONFIG: Readonly<EvaluatorConfig> = { imageSize: 32, channels: 3, patchSize: 4, dim: 96, heads: 4, layers: 2, mlpRatio: 2 };

export const SLOT_COUNT = POSITIONS.length;

/** Classes per head, in the order of the data layer's constants (present: 0 = empty, 1 = an object). */
export const HEAD_CLASSES = {
  background: BACKGROUND_COLORS.length,
  present: 2,
  color: COLORS.length,
  shape: SHAPES.length,
  size: SIZES.length,
} as const;

export type HeadName = keyof typeof HEAD_CLASSES;
export const HEAD_NAMES = Object.keys(HEAD_CLASSES) as HeadName[];
export type SlotHeadName = Exclude<HeadName, 'background'>;
export const SLOT_HEADS: readonly SlotHeadName[] = ['present', 'color', 'shape', 'size'];

// A type alias rather than an interface, so that it fits tidy()'s result type (plain objects of tensors).
export type EvaluatorOutput = {
  /** [B, dim]: the mean over tokens after the final norm (the Frechet distance's features). */
  features: Tensor;
  background: Tensor;
  present: Tensor;
  color: Tensor;
  shape: Tensor;
  size: Tensor;
};

export class AttributeEvaluator extends Module {
  readonly config: Readonly<EvaluatorConfig>;
  readonly tokens: number;
  readonly patchEmbed: Linear;
  readonly positionEmbedding: Tensor;
  readonly layers: TransformerLayer[];
  readonly finalNorm: LayerNorm;
  readonly heads: Readonly<Record<HeadName, Linear>>;

  constructor(engine: Engine, config: Partial<EvaluatorConfig> = {}, seed = 0) {
    super(engine);
    const c = (this.config = { ...EVALUATOR_CONFIG, ...config });
    const side = c.imageSize / c.patchSize;
    if (!Number.isInteger(side)) throw new Error(`AttributeEvaluator: image size ${c.imageSize} is not a multiple of the patch size ${c.patchSize}`);
    this.tokens = side * side;
    const base = seed * 1000;
    this.patchEmbed = this.child('patchEmbed', new Linear(engine, c.patchSize * c.patchSize * c.channels, c.dim, { seed: base + 1 }));
    // The DiT's fixed 2D sin-cos table as the starting value: the slot heads need to know where each patch is.
    this.positionEmbedding = this.param('positionEmbedding', [this.tokens, c.dim], sincos2d(side, side, c.dim));
    const layers = this.child('layers', new ModuleList(engine));
    this.layers = Array.from({ length: c.layers }, (_, i) => layers.add(i, new TransformerLayer(engine, c.dim, c.heads, c.mlpRatio, base + 100 * (i + 1))));
    this.finalNorm = this.child('finalNorm', new LayerNorm(engine, c.dim));
    const head = (name: HeadName, slots: number, i: number) => this.child(name, new Linear(engine, c.dim, slots * HEAD_CLASSES[name], { seed: base + 900 + i }));
    this.heads = {
      background: head('background', 1, 0),
      present: head('present', SLOT_COUNT, 1),
      color: head('color', SLOT_COUNT, 2),
      shape: head('shape', SLOT_COUNT, 3),
      size: head('size', SLOT_COUNT, 4),
    };
  }

  /**
   * The token-mean of the states after the patch embedding and after each transformer layer (the last one through the
   * final norm, i.e. `features`): [B, dim] each, layers + 1 of them. The GAN term's heads read these.
   */
  layerFeatures(image: Tensor): Tensor[] {
    let x = this.embed(image);
    const out = [mean(x, 1)];
    this.layers.forEach((layer, i) => {
      x = layer.forward(x);
      out.push(mean(i + 1 === this.layers.length ? this.finalNorm.forward(x) : x, 1));
    });
    return out;
  }

  /**
   * The per-patch states after the final norm, [B, tokens, dim] (`features` is their mean): the target REPA aligns
   * the teacher's hidden tokens with (nets/repa.ts). No shape check: forward's.
   */
  tokenFeatures(image: Tensor): Tensor {
    let x = this.embed(image);
    for (const layer of this.layers) x = layer.forward(x);
    return this.finalNorm.forward(x);
  }

  /** The patch tokens plus the position embedding: [B, tokens, dim]. */
  private embed(image: Tensor): Tensor {
    return add(this.patchEmbed.forward(patchify(image, this.config.patchSize)), this.positionEmbedding);
  }

  /** image [B, 3, 32, 32] in [-1, 1] -> the features and every head's logits (see the header). */
  forward(image: Tensor): EvaluatorOutput {
    const { imageSize, channels } = this.config;
    const [batch, ...rest] = image.shape;
    if (image.rank !== 4 || rest[0] !== channels || rest[1] !== imageSize || rest[2] !== imageSize) {
      throw new Error(`AttributeEvaluator: image must be [batch, ${channels}, ${imageSize}, ${imageSize}], got ${image.describe()}`);
    }
    const features = mean(this.tokenFeatures(image), 1);
    const slotLogits = (name: SlotHeadName) => reshape(this.heads[name].forward(features), [batch!, SLOT_COUNT, HEAD_CLASSES[name]]);
    return {
      features,
      background: this.heads.background.forward(features),
      present: slotLogits('present'),
      color: slotLogits('color'),
      shape: slotLogits('shape'),
      size: slotLogits('size'),
    };
  }
}

/**
 * A trained evaluator from its safetensors file (models/evaluator/evaluator.safetensors), built with the config its
 * metadata records. The bytes are copied first: nn/safetensors.ts slices the array it is given, and a Node Buffer's
 * slice is a view of the whole file, which would load wrong values.
 */
export function loadEvaluator(engine: Engine, bytes: Uint8Array): AttributeEvaluator {
  const copy = new Uint8Array(bytes);
  const saved = parseSafetensors(copy).metadata.config;
  const model = new AttributeEvaluator(engine, saved ? (JSON.parse(saved) as Partial<EvaluatorConfig>) : {});
  try {
    loadModule(model, copy);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}

// ---- targets: what a scene says each head should answer ----

/** Class indices per head ([B] for the background, [B * 5] slot-major for the rest) and the occupied-slot mask. */
export interface EvaluatorTargets {
  count: number;
  background: Uint32Array;
  present: Uint32Array;
  color: Uint32Array;
  shape: Uint32Array;
  size: Uint32Array;
  /** [B * 5]: 1 where a slot holds an object (its colour, shape and size count in the loss), else 0. */
  slotMask: Float32Array;
}

/** The targets of rendered scenes. An empty slot's colour, shape and size are 0 and masked out. */
export function targetsOf(scenes: readonly Scene[]): EvaluatorTargets {
  const count = scenes.length;
  const slots = count * SLOT_COUNT;
  const targets: EvaluatorTargets = {
    count,
    background: new Uint32Array(count),
    present: new Uint32Array(slots),
    color: new Uint32Array(slots),
    shape: new Uint32Array(slots),
    size: new Uint32Array(slots),
    slotMask: new Float32Array(slots),
  };
  scenes.forEach((scene, b) => {
    targets.background[b] = BACKGROUND_COLORS.indexOf(scene.background);
    for (const object of scene.objects) {
      const i = b * SLOT_COUNT + POSITIONS.indexOf(object.position);
      if (targets.present[i]) throw new Error(`targetsOf: scene ${b} has two objects at the ${object.position}`);
      targets.present[i] = 1;
      targets.color[i] = COLORS.indexOf(object.color);
      targets.shape[i] = SHAPES.indexOf(object.shape);
      targets.size[i] = SIZES.indexOf(object.size);
      targets.slotMask[i] = 1;
    }
  });
  return targets;
}

export interface EvaluatorLoss {
  /** The sum of the five cross-entropies (the training loss). */
  total: Tensor;
  /** Each head's cross-entropy (colour, shape and size averaged over occupied slots only). */
  parts: Record<HeadName, Tensor>;
}

/** Sum of softmax cross-entropies of every head; the slot attribute losses are masked to occupied slots. */
export function evaluatorLoss(output: EvaluatorOutput, targets: EvaluatorTargets): EvaluatorLoss {
  const engine = output.features.engine;
  const count = targets.count;
  if (output.features.shape[0] !== count) throw new Error(`evaluatorLoss: ${output.features.shape[0]} images, ${count} targets`);
  const slotShape = [count, SLOT_COUNT];
  const indices = (name: HeadName, shape: number[]) => fromArray(engine, shape, targets[name], 'u32', `targets.${name}`);
  const mask = fromArray(engine, slotShape, targets.slotMask, 'f32', 'targets.slotMask');
  const parts: Record<HeadName, Tensor> = {
    background: softmaxCrossEntropy(output.background, indices('background', [count])),
    present: softmaxCrossEntropy(output.present, indices('present', slotShape)),
    color: softmaxCrossEntropy(output.color, indices('color', slotShape), mask),
    shape: softmaxCrossEntropy(output.shape, indices('shape', slotShape), mask),
    size: softmaxCrossEntropy(output.size, indices('size', slotShape), mask),
  };
  const total = HEAD_NAMES.slice(1).reduce((sum, name) => add(sum, parts[name]), parts.background);
  return { total, parts };
}

// ---- predictions: the argmax of each head, in the data layer's words ----

export interface SlotPrediction {
  position: Position;
  present: boolean;
  color: Color;
  shape: Shape;
  size: Size;
}

export interface ImagePrediction {
  background: BackgroundColor;
  /** One per position, in POSITIONS order (colour, shape and size are read even where present is false). */
  slots: SlotPrediction[];
}

/** Logits read back from the GPU, row-major as the heads produce them (background [B * 9], present [B * 5 * 2], ...). */
export type HeadLogits = Record<HeadName, ArrayLike<number>>;

function argmax(values: ArrayLike<number>, offset: number, count: number): number {
  let best = 0;
  for (let k = 1; k < count; k++) if (values[offset + k]! > values[offset + best]!) best = k;
  return best;
}

/** Each image's most likely reading. */
export function decodePredictions(logits: HeadLogits, count: number): ImagePrediction[] {
  const pick = (name: HeadName, row: number) => argmax(logits[name], row * HEAD_CLASSES[name], HEAD_CLASSES[name]);
  return Array.from({ length: count }, (_, b) => ({
    background: BACKGROUND_COLORS[pick('background', b)]!,
    slots: POSITIONS.map((position, s) => {
      const row = b * SLOT_COUNT + s;
      return { position, present: pick('present', row) === 1, color: COLORS[pick('color', row)]!, shape: SHAPES[pick('shape', row)]!, size: SIZES[pick('size', row)]! };
    }),
  }));
}

/** What a perfect evaluator would answer for a scene (empty slots read as red small circles, absent). */
export function predictionOfScene(scene: Scene): ImagePrediction {
  return {
    background: scene.background,
    slots: POSITIONS.map((position) => {
      const object = scene.objects.find((o) => o.position === position);
      return object
        ? { position, present: true, color: object.color, shape: object.shape, size: object.size }
        : { position, present: false, color: COLORS[0], shape: SHAPES[0], size: SIZES[0] };
    }),
  };
}
