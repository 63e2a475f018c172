// The flow-matching sampling formulas on host arrays (shared/DESIGN.md), for inference, where ONNX Runtime hands
// back Float32Arrays, and as the reference the tensor versions (flow/tensors.ts) are tested against.
//   x_s = (1 - s) x0 + s eps,  v = eps - x0
//   x0_hat = x_s - s v                         (the model's estimate of the clean image)
//   Euler:      x_{s'} = x_s + (s' - s) v      (exact when v is constant along the path, as for one data point)
//   x0-renoise: x_{s'} = (1 - s') x0_hat + s' eps_fresh   (a few-step generator's move between anchors)
//   CFG:        v = v_null + w (v_text - v_null)          (Ho & Salimans 2022; w = 1 is the conditional model)
// Two representations, one set of names: these take and return Float32Array; flow/tensors.ts does the same on
// engine tensors (training, distillation's backward simulation) without leaving the GPU.

export type Vector = Float32Array;

function sameLength(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: arrays of ${a.length} and ${b.length} values`);
}

/** (1 - s) x0 + s eps: noises data to level s (and is the x0-renoise step given x0_hat and fresh noise). */
export function noiseTo(x0: Vector, eps: Vector, s: number): Vector {
  sameLength(x0, eps, 'noiseTo');
  return x0.map((v, i) => (1 - s) * v + s * eps[i]!);
}

/** The regression target of flow matching: v = eps - x0. */
export function velocityTarget(x0: Vector, eps: Vector): Vector {
  sameLength(x0, eps, 'velocityTarget');
  return eps.map((e, i) => e - x0[i]!);
}

/** x0_hat = x_s - s v. */
export function x0FromVelocity(x: Vector, v: Vector, s: number): Vector {
  sameLength(x, v, 'x0FromVelocity');
  return x.map((xi, i) => xi - s * v[i]!);
}

/** One Euler step from s to sNext: x + (sNext - s) v. */
export function eulerStep(x: Vector, v: Vector, s: number, sNext: number): Vector {
  sameLength(x, v, 'eulerStep');
  const ds = sNext - s;
  return x.map((xi, i) => xi + ds * v[i]!);
}

/** The x0-renoise step from s to sNext: (1 - sNext) (x - s v) + sNext eps. */
export function renoiseStep(x: Vector, v: Vector, s: number, sNext: number, eps: Vector): Vector {
  return noiseTo(x0FromVelocity(x, v, s), eps, sNext);
}

/** Classifier-free guidance: v_null + w (v_text - v_null). */
export function cfgCombine(vNull: Vector, vText: Vector, w: number): Vector {
  sameLength(vNull, vText, 'cfgCombine');
  return vNull.map((n, i) => n + w * (vText[i]! - n));
}

/** The model: the velocity at x for noise level s (step is the index of s in the sampler's list). */
export type Denoise = (x: Vector, s: number, step: number) => Vector | Promise<Vector>;

function checkSigmas(sigmas: readonly number[], what: string): void {
  if (sigmas.length < 2) throw new Error(`${what}: needs at least two noise levels (a start and an end), got [${sigmas.join(', ')}]`);
  for (let i = 0; i < sigmas.length; i++) {
    const s = sigmas[i]!;
    if (!(s >= 0 && s <= 1)) throw new Error(`${what}: noise level ${s} at index ${i} is outside [0, 1]`);
    if (i > 0 && !(s < sigmas[i - 1]!)) throw new Error(`${what}: noise levels must decrease, got ${sigmas[i - 1]} then ${s}`);
  }
}

/** Euler from x at sigmas[0] through each level to the last (e.g. eulerSigmas(50), or [...anchors, 0]). */
export async function sampleEuler(denoise: Denoise, x: Vector, sigmas: readonly number[]): Promise<Vector> {
  checkSigmas(sigmas, 'sampleEuler');
  for (let i = 0; i + 1 < sigmas.length; i++) x = eulerStep(x, await denoise(x, sigmas[i]!, i), sigmas[i]!, sigmas[i + 1]!);
  return x;
}

/**
 * The few-step generator's sampler: at each anchor predict x0_hat, then renoise it with fresh noise to the next
 * anchor; returns the last x0_hat. noise(i) gives the fresh eps for the move to anchor i + 1.
 */
export async function sampleX0Renoise(denoise: Denoise, x: Vector, anchors: readonly number[], noise: (i: number) => Vector): Promise<Vector> {
  checkSigmas([...anchors, 0], 'sampleX0Renoise');
  for (let i = 0; ; i++) {
    const s = anchors[i]!;
    const x0 = x0FromVelocity(x, await denoise(x, s, i), s);
    if (i + 1 === anchors.length) return x0;
    x = noiseTo(x0, noise(i), anchors[i + 1]!);
  }
}
