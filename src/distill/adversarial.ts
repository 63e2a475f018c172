// SenseFlow's optional adversarial term (shared/DESIGN.md): a frozen feature network with small trainable heads on
// several of its layers, conditioned on the text, trained with the hinge loss. The paper uses DINOv2; here each task
// brings its own frozen network (DistillTask.adversarial): on Shapes the attribute evaluator (its token features after
// the patch embedding and after each transformer layer), on the 2D toy a frozen copy of the teacher MLP read at
// sigma = 0 with the null label (its two hidden layers), the label's embedding standing in for the pooled text.
//   features_k = layer k's features, [B, F] (Shapes: the mean over tokens, F = 96; toy: F = 128)
//   D(x, c) = sum_k  w_k . features_k + b_k + <P_k pooled_text(c), features_k>     (a projection discriminator per layer,
//                                                                                  Miyato & Koyama 2018)
//   L_D = mean(relu(1 - D(real, c))) + mean(relu(1 + D(sg(x), c)))                (hinge)
//   L_G = -(1 - s_anchor)^2 mean(D(x, c))      (weighted by the anchor: 0 at s = 1, 0.25 at s = 0.5, so the term acts
//                                                on the later steps, which refine detail, not on the layout step)
// The evaluator's parameters are frozen (requiresGrad false): gradients flow through it into x, never into it.
import type { Engine } from '../nn/engine';
import { Module } from '../nn/module';
import { Linear } from '../nn/modules/basic';
import { relu } from '../nn/ops/activation';
import { add, affine, mul, scale } from '../nn/ops/elementwise';
import { mean, sum } from '../nn/ops/reduce';
import { reshape } from '../nn/ops/shape';
import type { Tensor } from '../nn/tensor';
import { ModuleList } from '../nets/textEncoder';
import type { AdversarialFeatures } from './task';

export class FeatureDiscriminator extends Module {
  readonly heads: Linear[];
  readonly projections: Linear[];

  constructor(engine: Engine, featureDim: number, layers: number, textDim: number, seed = 0) {
    super(engine);
    const heads = this.child('heads', new ModuleList(engine));
    const projections = this.child('projections', new ModuleList(engine));
    this.heads = Array.from({ length: layers }, (_, k) => heads.add(k, new Linear(engine, featureDim, 1, { seed: seed * 100 + k })));
    this.projections = Array.from({ length: layers }, (_, k) => projections.add(k, new Linear(engine, textDim, featureDim, { seed: seed * 100 + 50 + k, bias: false, init: { std: 0.02 } })));
  }

  /** Per-layer features [B, F] each and the pooled text [B, T] -> logits [B]. */
  forward(features: readonly Tensor[], text: Tensor): Tensor {
    if (features.length !== this.heads.length) throw new Error(`FeatureDiscriminator: ${features.length} feature layers for ${this.heads.length} heads`);
    let logits: Tensor | null = null;
    features.forEach((f, k) => {
      const term = add(this.heads[k]!.forward(f), sum(mul(f, this.projections[k]!.forward(text)), 1, true));
      logits = logits ? add(logits, term) : term;
    });
    return reshape(logits!, [features[0]!.shape[0]!]);
  }
}

/** Freezes the evaluator: its parameters stop requiring gradients (they still pass them on to the image). */
export function freeze(module: Module): void {
  for (const p of module.parameters()) p.requiresGrad = false;
}

/** D(x, text) through the task's frozen layer features. */
export function discriminate(adversarial: AdversarialFeatures, discriminator: FeatureDiscriminator, x: Tensor, text: Tensor): Tensor {
  return discriminator.forward(adversarial.features(x), text);
}

/** Hinge loss of the discriminator: mean(relu(1 - D(real))) + mean(relu(1 + D(fake))). */
export function hingeDiscriminatorLoss(real: Tensor, fake: Tensor): Tensor {
  return add(mean(relu(affine(real, -1, 1))), mean(relu(affine(fake, 1, 1))));
}

/** The generator's adversarial loss -weight mean(D(x)). */
export function adversarialGeneratorLoss(fake: Tensor, weight: number): Tensor {
  return scale(mean(fake), -weight);
}

// ---- float64 references ----

export function hingeDiscriminatorLossReference(real: ArrayLike<number>, fake: ArrayLike<number>): number {
  let a = 0;
  for (let i = 0; i < real.length; i++) a += Math.max(0, 1 - real[i]!);
  let b = 0;
  for (let i = 0; i < fake.length; i++) b += Math.max(0, 1 + fake[i]!);
  return a / real.length + b / fake.length;
}
