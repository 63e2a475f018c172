// REPA, representation alignment (Yu et al. 2025, "Representation Alignment for Generation: Training Diffusion
// Transformers Is Easier Than You Think"): while the teacher learns to denoise, a small MLP projects its hidden tokens
// after an early block onto a pretrained encoder's patch features of the clean image, and the loss rewards their
// agreement. The DiT then does not have to discover from the flow-matching loss alone what a square or a cross is;
// the paper reports SiT-XL reaching a given FID over 17x sooner.
//
// Here the encoder is our attribute evaluator (nets/evaluator.ts, frozen; its tokens after the final norm), whose
// patch grid is the DiT's (patch 4, 64 tokens), so token n of one is token n of the other. REPA uses DINOv2 and
// measures FID with Inception; we have one trained image encoder, so it is also what prompt accuracy and FD are
// measured with: the teacher is aligned to it on *real* images only and no gradient passes through it, but read a
// REPA teacher's metrics with that in mind.
//
//   loss = 1 - mean over tokens of corr(P(h_n), f_n)
//        = mean((LN(P(h)) - LN(f))^2) / 2
// with LN a layer norm without affine (each vector centred and scaled to unit RMS) and corr the per-token Pearson
// correlation: REPA's negative cosine similarity of mean-centred vectors. It is 0 when aligned, 1 when unrelated,
// 2 when opposed. P = Linear(D, H) -> SiLU -> Linear(H, E), REPA's projector with one hidden layer fewer.
import type { Engine } from '../nn/engine';
import { Module } from '../nn/module';
import { MLP } from '../nn/modules/basic';
import { scale } from '../nn/ops/elementwise';
import { mseLoss } from '../nn/ops/loss';
import { layerNorm } from '../nn/ops/norm';
import type { Tensor } from '../nn/tensor';

export interface RepaSettings {
  /** lambda of loss = flow matching + lambda * L_REPA (REPA's default 0.5). */
  weight: number;
  /** The DiT tokens aligned are those after this many blocks (REPA: about a quarter of the depth). */
  depth: number;
}

/** The blocks before the aligned tokens unless --repa-depth says otherwise (REPA's weight has no default here: --repa W). */
export const DEFAULT_REPA_DEPTH = 1;

/** The projector of the DiT's hidden tokens onto the encoder's feature space: [B, T, dim] -> [B, T, targetDim]. */
export class RepaProjector extends Module {
  readonly mlp: MLP;
  constructor(engine: Engine, readonly dim: number, readonly targetDim: number, seed = 0, hidden = 2 * dim) {
    super(engine);
    this.mlp = this.child('mlp', new MLP(engine, dim, hidden, targetDim, 'silu', seed));
  }

  forward(hidden: Tensor): Tensor {
    return this.mlp.forward(hidden);
  }
}

/**
 * 1 - the mean per-token Pearson correlation of the projected hidden tokens [B, T, E] with the target features
 * [B, T, E] (no gradient is needed for the target; the caller computes it under noGrad).
 */
export function repaLoss(projected: Tensor, target: Tensor): Tensor {
  if (projected.rank !== 3 || target.rank !== 3 || projected.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(`repaLoss: projected ${projected.describe()} and target ${target.describe()} must both be [batch, tokens, features]`);
  }
  return scale(mseLoss(layerNorm(projected), layerNorm(target)), 0.5);
}
