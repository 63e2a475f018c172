// The 2D toy domain: conditional mixtures of isotropic Gaussians, small enough that everything about them is exact.
// Each label owns a set of modes with equal weights; label 0 is always 'any' (all modes), the unconditional label
// (and the natural "null" label for classifier-free guidance).
//
//   ring: 8 modes on a circle of radius 2 (mode k at angle k * 45 degrees), std 0.08. Modes are 1.53 apart, ~19 std.
//         Labels: any; east-west, northeast-southwest, north-south, northwest-southeast, each owning two opposite
//         modes, so every conditional is bimodal and a student that collapses onto one mode loses half its coverage.
//   grid: 25 modes at {-2, -1, 0, 1, 2}^2, std 0.05 (modes 1 apart, 20 std). Labels: any; row 0..4 (y = -2..2);
//         column 0..4 (x = -2..2): five modes each, and every mode belongs to one row and one column.
//
// Flow matching noises x_s = (1 - s) x0 + s eps, so under component k, x_s ~ N((1 - s) mu_k, v_s I) with
// v_s = (1 - s)^2 std^2 + s^2. Everything below follows from that: the noised log-density, its score, and the exact
// optimal denoiser E[x0 | x_s] (the posterior over components times each component's Gaussian conditional mean).
import { gaussian, pick, randomFrom } from './random';

export interface MixtureLabel {
  name: string;
  /** Indices of the modes this label owns, equally weighted. */
  modes: readonly number[];
}

export interface GaussianMixture2D {
  name: 'ring' | 'grid';
  /** Mode means, [modes, 2] (x, y). */
  means: Float64Array;
  /** Per-axis standard deviation of every mode. */
  std: number;
  /** labels[0] is 'any'. */
  labels: readonly MixtureLabel[];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export const RING: GaussianMixture2D = {
  name: 'ring',
  means: Float64Array.from(range(8).flatMap((k) => [2 * Math.cos((k * Math.PI) / 4), 2 * Math.sin((k * Math.PI) / 4)])),
  std: 0.08,
  labels: [
    { name: 'any', modes: range(8) },
    ...['east-west', 'northeast-southwest', 'north-south', 'northwest-southeast'].map((name, k) => ({ name, modes: [k, k + 4] })),
  ],
};

// Mode index = 5 * row + column; row r at y = r - 2, column c at x = c - 2.
export const GRID: GaussianMixture2D = {
  name: 'grid',
  means: Float64Array.from(range(25).flatMap((i) => [(i % 5) - 2, Math.floor(i / 5) - 2])),
  std: 0.05,
  labels: [
    { name: 'any', modes: range(25) },
    ...range(5).map((r) => ({ name: `row ${r}`, modes: range(5).map((c) => 5 * r + c) })),
    ...range(5).map((c) => ({ name: `column ${c}`, modes: range(5).map((r) => 5 * r + c) })),
  ],
};

export const MIXTURES: Readonly<Record<GaussianMixture2D['name'], GaussianMixture2D>> = { ring: RING, grid: GRID };

export function modeCount(mixture: GaussianMixture2D): number {
  return mixture.means.length / 2;
}

/** A label by name or by index; throws naming the mixture's labels when there is no such label. */
export function labelOf(mixture: GaussianMixture2D, label: string | number): MixtureLabel {
  const found = typeof label === 'number' ? mixture.labels[label] : mixture.labels.find((l) => l.name === label);
  if (!found) throw new Error(`${mixture.name} has no label ${JSON.stringify(label)}; its labels: ${mixture.labels.map((l) => l.name).join(', ')}`);
  return found;
}

/** count points [count, 2] from the label's conditional distribution: same seed, same points. */
export function sample(mixture: GaussianMixture2D, label: string | number, count: number, seed: number): Float32Array {
  const { modes } = labelOf(mixture, label);
  const random = randomFrom(seed);
  const points = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) {
    const mode = pick(random, modes);
    points[2 * i] = mixture.means[2 * mode]! + mixture.std * gaussian(random);
    points[2 * i + 1] = mixture.means[2 * mode + 1]! + mixture.std * gaussian(random);
  }
  return points;
}

/**
 * The mode a point belongs to: the nearest one, if it is within maxStd standard deviations, else -1 (off every mode).
 * With maxStd 3 a true sample is off-mode with probability exp(-4.5), about 1.1%.
 */
export function modeOf(mixture: GaussianMixture2D, x: number, y: number, maxStd = 3): number {
  let nearest = -1;
  let best = Infinity;
  for (let k = 0; k < modeCount(mixture); k++) {
    const d = Math.hypot(x - mixture.means[2 * k]!, y - mixture.means[2 * k + 1]!);
    if (d < best) {
      best = d;
      nearest = k;
    }
  }
  return best <= maxStd * mixture.std ? nearest : -1;
}

export interface ModeCoverage {
  /** Points per mode of the mixture, [modes]. */
  counts: number[];
  /** How many of the label's modes received at least `minimum` points. */
  covered: number;
  /** Fraction of points in a mode the label does not own. */
  wrongMode: number;
  /** Fraction of points off every mode. */
  offMode: number;
}

/** How generated points [n, 2] spread over the label's modes: the toy's recall (covered) and precision (the rest). */
export function modeCoverage(
  mixture: GaussianMixture2D,
  label: string | number,
  points: ArrayLike<number>,
  minimum = 1,
  maxStd = 3,
): ModeCoverage {
  const { modes } = labelOf(mixture, label);
  const counts = new Array<number>(modeCount(mixture)).fill(0);
  const n = points.length / 2;
  let off = 0;
  let wrong = 0;
  for (let i = 0; i < n; i++) {
    const mode = modeOf(mixture, points[2 * i]!, points[2 * i + 1]!, maxStd);
    if (mode < 0) off++;
    else {
      counts[mode]!++;
      if (!modes.includes(mode)) wrong++;
    }
  }
  return { counts, covered: modes.filter((k) => counts[k]! >= minimum).length, wrongMode: wrong / n, offMode: off / n };
}

/** Noise level s must lie in [0, 1]; returns v_s, the per-axis variance of each noised component. */
function noisedVariance(mixture: GaussianMixture2D, s: number): number {
  if (!(s >= 0 && s <= 1)) throw new Error(`noise level s = ${s} is outside [0, 1]`);
  return (1 - s) ** 2 * mixture.std ** 2 + s ** 2;
}

/**
 * Posterior weights of the label's components given x_s (a softmax, computed stably: at small s the exponents reach
 * thousands), written into `weights`; returns log sum_k exp(logit_k), for the density.
 */
function posterior(mixture: GaussianMixture2D, modes: readonly number[], x: number, y: number, s: number, v: number, weights: Float64Array): number {
  let max = -Infinity;
  modes.forEach((k, j) => {
    const dx = x - (1 - s) * mixture.means[2 * k]!;
    const dy = y - (1 - s) * mixture.means[2 * k + 1]!;
    weights[j] = -(dx * dx + dy * dy) / (2 * v);
    max = Math.max(max, weights[j]!);
  });
  let total = 0;
  for (let j = 0; j < modes.length; j++) {
    weights[j] = Math.exp(weights[j]! - max);
    total += weights[j]!;
  }
  for (let j = 0; j < modes.length; j++) weights[j] = weights[j]! / total;
  return max + Math.log(total);
}

/** log p_s(x, y) of the label's distribution noised to level s (s = 0: the data distribution itself). */
export function logDensity(mixture: GaussianMixture2D, label: string | number, x: number, y: number, s = 0): number {
  const { modes } = labelOf(mixture, label);
  const v = noisedVariance(mixture, s);
  const logSum = posterior(mixture, modes, x, y, s, v, new Float64Array(modes.length));
  return logSum - Math.log(modes.length) - Math.log(2 * Math.PI * v);
}

/** The score grad_x log p_s at (x, y): sum_k w_k ((1 - s) mu_k - x) / v_s. */
export function score(mixture: GaussianMixture2D, label: string | number, x: number, y: number, s = 0): [number, number] {
  const { modes } = labelOf(mixture, label);
  const v = noisedVariance(mixture, s);
  const weights = new Float64Array(modes.length);
  posterior(mixture, modes, x, y, s, v, weights);
  let gx = 0;
  let gy = 0;
  modes.forEach((k, j) => {
    gx += (weights[j]! * ((1 - s) * mixture.means[2 * k]! - x)) / v;
    gy += (weights[j]! * ((1 - s) * mixture.means[2 * k + 1]! - y)) / v;
  });
  return [gx, gy];
}

/**
 * The exact optimal denoiser E[x0 | x_s] for points xs [n, 2] at noise level s (one s, or one per point):
 *   x0_hat = sum_k w_k(x_s) (mu_k + g (x_s - (1 - s) mu_k)),   g = (1 - s) std^2 / v_s,
 * w_k the posterior of component k given x_s. It is what a perfectly trained x0-predictor outputs, so DMD's
 * fake-score tracking error can be measured against it.
 */
export function denoiserMixture(
  mixture: GaussianMixture2D,
  label: string | number,
  xs: ArrayLike<number>,
  s: number | ArrayLike<number>,
): Float64Array {
  const { modes } = labelOf(mixture, label);
  const n = xs.length / 2;
  if (typeof s !== 'number' && s.length !== n) throw new Error(`${s.length} noise levels for ${n} points`);
  const out = new Float64Array(2 * n);
  const weights = new Float64Array(modes.length);
  for (let i = 0; i < n; i++) {
    const level = typeof s === 'number' ? s : s[i]!;
    const v = noisedVariance(mixture, level);
    const gain = ((1 - level) * mixture.std ** 2) / v;
    const x = xs[2 * i]!;
    const y = xs[2 * i + 1]!;
    posterior(mixture, modes, x, y, level, v, weights);
    modes.forEach((k, j) => {
      const mx = mixture.means[2 * k]!;
      const my = mixture.means[2 * k + 1]!;
      out[2 * i] = out[2 * i]! + weights[j]! * (mx + gain * (x - (1 - level) * mx));
      out[2 * i + 1] = out[2 * i + 1]! + weights[j]! * (my + gain * (y - (1 - level) * my));
    });
  }
  return out;
}

/** The exact optimal velocity E[eps - x0 | x_s] = (x_s - E[x0 | x_s]) / s (s > 0), what a v-predictor learns. */
export function velocityMixture(mixture: GaussianMixture2D, label: string | number, xs: ArrayLike<number>, s: number): Float64Array {
  if (!(s > 0)) throw new Error(`the velocity is defined for s > 0, got ${s}`);
  const x0 = denoiserMixture(mixture, label, xs, s);
  return x0.map((value, i) => (xs[i]! - value) / s);
}
