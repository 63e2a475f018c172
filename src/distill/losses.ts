// The losses of SenseFlow's distillation (shared/DESIGN.md, "The SenseFlow recipe"), on engine tensors, each with a
// float64 reference on host arrays beside it for the tests.
//
// x is the generator's x0 prediction [B, ...]; x0_real and x0_fake are the real (teacher, with CFG) and fake score
// networks' x0 predictions at the same noised point x_s.
//   DMD gradient (distribution matching, Yin et al. 2024 eq. 7-8, with DMD2's per-sample normaliser):
//     g_b = (x0_fake_b - x0_real_b) / mean_CHW |x_b - x0_real_b|
//   DMD generator loss: L_DM = 0.5 * mean((x - stopgrad(x - g))^2), so dL_DM/dx = g / numel(x) exactly
//     (its value is 0.5 * mean(g^2), a diagnostic, not a distance the generator minimises).
//   Fake score loss: flow matching on stopgrad(x): mean((v_fake(x_s, s) - (eps - x))^2), s ~ logit-normal, no CFG.
//   ISG loss (intra-segment guidance): pseudo-Huber sqrt(d^2 + c^2) - c (c = 1e-3), or L2, between the generator's
//     direct step s_i -> s_next and the target made of a teacher Euler step s_i -> s_mid and a generator step
//     s_mid -> s_next, all without gradient except the direct step.
import dmdGradientSource from '../kernels/dmd_gradient.wgsl?raw';
import { launch1d, output, assertF32, assertShape } from '../nn/ops/common';
import { scale, sub } from '../nn/ops/elementwise';
import { mseLoss, pseudoHuberLoss } from '../nn/ops/loss';
import { noGrad, type Tensor } from '../nn/tensor';

const dmdGradientKernel = { label: 'dmd_gradient', code: dmdGradientSource, params: { n: 'u32', per_sample: 'u32' } } as const;

// A type alias (not an interface) so it fits tidy()'s result type.
export type DmdGradient = {
  /** g [B, ...]: the direction the generator's samples should move against (fake minus real). */
  g: Tensor;
  /** [B]: mean_CHW |x - x0_real|, the per-sample normaliser. */
  norm: Tensor;
};

/** g = (x0Fake - x0Real) / mean_CHW |x - x0Real| per sample (dmd_gradient.wgsl; no gradient flows through it). */
export function dmdGradient(x: Tensor, x0Real: Tensor, x0Fake: Tensor): DmdGradient {
  for (const [t, what] of [[x, 'x'], [x0Real, 'x0Real'], [x0Fake, 'x0Fake']] as const) assertF32(t, `dmdGradient: ${what}`);
  assertShape(x0Real, x.shape, 'dmdGradient: x0Real (the shape of x)');
  assertShape(x0Fake, x.shape, 'dmdGradient: x0Fake (the shape of x)');
  if (x.rank < 1 || x.size === 0) throw new Error(`dmdGradient: x needs a batch axis and values, got ${x.describe()}`);
  const engine = x.engine;
  const batch = x.shape[0]!;
  const perSample = x.size / batch;
  const norm = output(engine, [batch], 'dmd.norm');
  const g = output(engine, x.shape, 'dmd.g');
  const bindings = [x.buffer, x0Real.buffer, x0Fake.buffer, norm.buffer, g.buffer];
  launch1d(engine, dmdGradientKernel, batch, { bindings, params: { n: batch, per_sample: perSample }, constants: { PASS: 0 } });
  launch1d(engine, dmdGradientKernel, x.size, { bindings, params: { n: x.size, per_sample: perSample }, constants: { PASS: 1 } });
  return { g, norm };
}

/** L_DM = 0.5 mean((x - stopgrad(x - g))^2): a scalar whose gradient with respect to x is g / numel(x). */
export function dmdLoss(x: Tensor, g: Tensor): Tensor {
  assertShape(g, x.shape, 'dmdLoss: g (the shape of x)');
  const target = noGrad(x.engine, () => sub(x, g));
  return scale(mseLoss(x, target), 0.5);
}

export type IsgLossKind = 'pseudo-huber' | 'l2';

/** The ISG loss between the generator's direct step and the segment target (the target carries no gradient). */
export function isgLoss(prediction: Tensor, target: Tensor, kind: IsgLossKind, c = 1e-3): Tensor {
  return kind === 'l2' ? mseLoss(prediction, target) : pseudoHuberLoss(prediction, target, c);
}

// ---- float64 references on host arrays ([B, M] flattened, M = values per sample) ----

export function dmdGradientReference(x: ArrayLike<number>, x0Real: ArrayLike<number>, x0Fake: ArrayLike<number>, batch: number): { g: Float64Array; norm: Float64Array } {
  const perSample = x.length / batch;
  const norm = new Float64Array(batch);
  const g = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    let total = 0;
    for (let m = 0; m < perSample; m++) total += Math.abs(x[b * perSample + m]! - x0Real[b * perSample + m]!);
    norm[b] = total / perSample;
    for (let m = 0; m < perSample; m++) {
      const i = b * perSample + m;
      g[i] = (x0Fake[i]! - x0Real[i]!) / Math.max(norm[b]!, 1e-12);
    }
  }
  return { g, norm };
}

/** The value 0.5 mean(g^2) and the gradient g / n of L_DM. */
export function dmdLossReference(g: ArrayLike<number>): { value: number; gradient: Float64Array } {
  let total = 0;
  for (let i = 0; i < g.length; i++) total += g[i]! * g[i]!;
  return { value: (0.5 * total) / g.length, gradient: Float64Array.from(g, (v) => v / g.length) };
}

export function isgLossReference(prediction: ArrayLike<number>, target: ArrayLike<number>, kind: IsgLossKind, c = 1e-3): { value: number; gradient: Float64Array } {
  const n = prediction.length;
  let total = 0;
  const gradient = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = prediction[i]! - target[i]!;
    if (kind === 'l2') {
      total += d * d;
      gradient[i] = (2 * d) / n;
    } else {
      total += Math.sqrt(d * d + c * c) - c;
      gradient[i] = d / Math.sqrt(d * d + c * c) / n;
    }
  }
  return { value: total / n, gradient };
}
