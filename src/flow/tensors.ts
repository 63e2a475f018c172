// The flow-matching formulas of flow/samplers.ts on engine tensors, for training and for distillation's backward
// simulation: same names, same equations, nothing leaves the GPU. A noise level is a number (one level for the
// whole batch) or an f32 tensor [B] (one per sample, broadcast over the other axes). Differentiable through the ops.
import { add, affine, mul, scale, sub } from '../nn/ops/elementwise';
import { mseLoss } from '../nn/ops/loss';
import { reshape } from '../nn/ops/shape';
import { keep, type Tensor, tidy } from '../nn/tensor';

export type Sigma = number | Tensor;

// sigma [B] -> [B, 1, ..., 1] with x's rank, so it multiplies sample b's values by sigma[b].
function perSample(sigma: Tensor, x: Tensor): Tensor {
  if (sigma.rank !== 1 || sigma.shape[0] !== x.shape[0]) throw new Error(`noise levels ${sigma.describe()} do not match the batch of ${x.describe()}: expected [${x.shape[0]}]`);
  return reshape(sigma, [sigma.shape[0]!, ...x.shape.slice(1).map(() => 1)]);
}

// s * x
function times(x: Tensor, s: Sigma): Tensor {
  return typeof s === 'number' ? scale(x, s) : mul(x, perSample(s, x));
}

/** (1 - s) x0 + s eps. */
export function noiseTo(x0: Tensor, eps: Tensor, s: Sigma): Tensor {
  if (typeof s === 'number') return add(scale(x0, 1 - s), scale(eps, s));
  const level = perSample(s, x0);
  return add(mul(x0, affine(level, -1, 1)), mul(eps, level));
}

/** v = eps - x0. */
export const velocityTarget = (x0: Tensor, eps: Tensor): Tensor => sub(eps, x0);

/** x0_hat = x - s v. */
export const x0FromVelocity = (x: Tensor, v: Tensor, s: Sigma): Tensor => sub(x, times(v, s));

/** x + (sNext - s) v (one level for the batch, or tensors [B] for both). */
export function eulerStep(x: Tensor, v: Tensor, s: Sigma, sNext: Sigma): Tensor {
  if (typeof s === 'number' && typeof sNext === 'number') return add(x, scale(v, sNext - s));
  if (typeof s === 'number' || typeof sNext === 'number') throw new Error('eulerStep: give both noise levels as numbers or both as tensors [B]');
  return add(x, times(v, sub(sNext, s)));
}

/** (1 - sNext) (x - s v) + sNext eps. */
export const renoiseStep = (x: Tensor, v: Tensor, s: Sigma, sNext: Sigma, eps: Tensor): Tensor => noiseTo(x0FromVelocity(x, v, s), eps, sNext);

/** v_null + w (v_text - v_null), w one weight for the batch or an f32 tensor [B] (one per sample). */
export const cfgCombine = (vNull: Tensor, vText: Tensor, w: Sigma): Tensor => add(vNull, times(sub(vText, vNull), w));

/** The flow-matching loss mean((v_pred - (eps - x0))^2), a scalar. */
export const flowMatchingLoss = (vPred: Tensor, x0: Tensor, eps: Tensor): Tensor => mseLoss(vPred, velocityTarget(x0, eps));

export type DenoiseTensor = (x: Tensor, s: number, step: number) => Tensor;

/**
 * Euler from x at sigmas[0] to the last level. Each step runs in its own tidy scope, so only the current x is
 * alive between steps; returns a new tensor the caller owns (x itself is left alone). Call it inside noGrad
 * when sampling, or the tape grows with every step.
 */
export function sampleEuler(denoise: DenoiseTensor, x: Tensor, sigmas: readonly number[]): Tensor {
  if (sigmas.length < 2) throw new Error(`sampleEuler: needs at least two noise levels, got [${sigmas.join(', ')}]`);
  let current = x;
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const input = current;
    current = keep(tidy(input.engine, () => eulerStep(input, denoise(input, sigmas[i]!, i), sigmas[i]!, sigmas[i + 1]!)));
    if (input !== x) input.dispose();
  }
  return current;
}
