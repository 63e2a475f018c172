// The teacher's reconstruction error over the noise level: how much of a clean sample the teacher's guided
// one-step estimate x̂0(x_s) = x_s - s v(x_s) gets wrong at each s, normalised by the data's own spread,
//
//   e(s) = E |x̂0(x_s) - x0|² / E |x0 - mean(x0)|²,   x_s = (1 - s) x0 + s ε,
//
// so 0 is a perfect denoiser and 1 is no better than guessing the data's mean. Where e(s) climbs fastest is where a
// denoising step does its work: the timestep importance that a few-step student's anchors cut into segments, and
// that ISG relocates by training each jump against a teacher step to a point inside its segment. The Distill tab
// draws it with the anchors and the current ISG segment marked.
//
// Cost: sigmas.length forwards of the teacher (doubled with guidance) on `samples` real examples; computed once per
// run (the tab caches it with the teacher's other references).
import { noiseTo, x0FromVelocity } from '../flow/tensors';
import { randn } from '../nn/ops/random';
import { fromArray, type Kept, noGrad, tidy } from '../nn/tensor';
import type { Module } from '../nn/module';
import type { DistillTask } from './task';

export interface TimestepProfile {
  sigmas: number[];
  /** e(s) per sigma. */
  error: number[];
}

/** n noise levels in (0, 1), denser near both ends where e(s) bends. */
export const profileSigmas = (n: number): number[] => Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((Math.PI * (i + 0.5)) / n));

export const PROFILE = {
  sigmas: profileSigmas(24),
  seed: 20261128,
} as const;

/** e(s) at each sigma from `samples` real examples of the task (seeded), the teacher at `guidance`. */
export async function reconstructionProfile<Net extends Module, Condition extends Kept>(
  task: DistillTask<Net, Condition>,
  guidance: number,
  samples: number,
  sigmas: readonly number[] = PROFILE.sigmas,
): Promise<TimestepProfile> {
  const engine = task.teacher.engine;
  const error: number[] = [];
  let spread = 0;
  for (const [k, s] of sigmas.entries()) {
    const readings = noGrad(engine, () =>
      tidy(engine, () => {
        const { condition, x0 } = task.batch(PROFILE.seed, samples);
        const eps = randn(engine, x0.shape, PROFILE.seed + 1, k * x0.size);
        const xs = noiseTo(x0, eps, s);
        const sigma = fromArray(engine, [samples], new Float32Array(samples).fill(s), 'f32', 'profile.sigma');
        return [x0FromVelocity(xs, task.guidedVelocity(xs, sigma, condition, guidance), s), x0];
      }),
    );
    const [estimate, data] = await Promise.all(readings.map((t) => t.read()));
    for (const t of readings) t.dispose();
    const squared = squaredDistance(estimate!, data!);
    if (k === 0) spread = squaredSpread(data!, samples);
    error.push(squared / samples / Math.max(spread, 1e-12));
  }
  return { sigmas: [...sigmas], error };
}

function squaredDistance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return sum;
}

/** E |x - mean(x)|² over `n` rows of x. */
function squaredSpread(x: Float32Array, n: number): number {
  const dim = x.length / n;
  const mean = new Float64Array(dim);
  for (let i = 0; i < x.length; i++) mean[i % dim]! += x[i]! / n;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += (x[i]! - mean[i % dim]!) ** 2;
  return sum / n;
}
