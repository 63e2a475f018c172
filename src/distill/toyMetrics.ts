// Evaluation metrics of distillation on the 2D toy (data/toy2d.ts), in float64 on the host. Points are [n, 2] row-major.
//
//   energyDistance     the (squared) energy distance between two point sets (Szekely & Rizzo):
//                        D^2(P, Q) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|,   X, X' ~ P, Y, Y' ~ Q,
//                      zero iff P = Q; the toy's one-number "how far is the student from the data".
//   optimalDenoiser    E[x0 | x_s] for the empirical distribution of a point set (a mixture of Diracs) noised by flow
//                      matching x_s = (1 - s) x0 + s eps: the softmax over samples of -|x_s - (1 - s) x_j|^2 / (2 s^2).
//                      It is what a perfectly trained fake score network outputs when the generator's distribution
//                      is that set (data/toy2d.ts has the same for the true mixture: denoiserMixture).
//   fakeTrackingError  mean |x0_fake - x0_optimal|^2 at noised query points: how well DMD's fake score tracks the
//                      generator's current distribution.
//   toyReport          mode coverage (data/toy2d.ts) and the energy distance to true samples, in one call.
import { gaussian, mulberry32 } from '../data/random';
import { type GaussianMixture2D, labelOf, modeCoverage, sample } from '../data/toy2d';

/** Splits [n, 2] points into float64 x and y columns (one copy up front, so the O(n m) loops read flat arrays). */
function columns(points: ArrayLike<number>, what: string): [Float64Array, Float64Array] {
  if (points.length % 2 !== 0) throw new Error(`${what}: ${points.length} values are not [n, 2] points`);
  const n = points.length / 2;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = points[2 * i]!;
    y[i] = points[2 * i + 1]!;
  }
  return [x, y];
}

/** Mean of |p_i - p_j| over the n (n - 1) ordered pairs i != j; 0 for a single point (no pairs, and no spread). */
function meanWithinDistance(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  if (n < 2) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    for (let j = i + 1; j < n; j++) {
      const dx = x[j]! - xi;
      const dy = y[j]! - yi;
      sum += Math.sqrt(dx * dx + dy * dy);
    }
  }
  return sum / ((n * (n - 1)) / 2);
}

/**
 * The squared energy distance 2 E|X - Y| - E|X - X'| - E|Y - Y'| between point sets a [n, 2] and b [m, 2].
 * The cross term is the mean over all n m pairs; the within-set terms are the unbiased U-statistics (pairs i != j,
 * divided by n (n - 1)), so the estimate is unbiased for the population distance: about 0 (and may be slightly
 * negative) for two independent samples of one distribution. A set of one point has within-set term 0.
 * O(n m + n^2 + m^2) distances, no allocation per pair: n = m = 4000 takes ~0.1 s.
 */
export function energyDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const [ax, ay] = columns(a, 'energyDistance a');
  const [bx, by] = columns(b, 'energyDistance b');
  const n = ax.length;
  const m = bx.length;
  if (n === 0 || m === 0) throw new Error(`energyDistance: needs points in both sets, got ${n} and ${m}`);
  let cross = 0;
  for (let i = 0; i < n; i++) {
    const xi = ax[i]!;
    const yi = ay[i]!;
    for (let j = 0; j < m; j++) {
      const dx = bx[j]! - xi;
      const dy = by[j]! - yi;
      cross += Math.sqrt(dx * dx + dy * dy);
    }
  }
  return (2 * cross) / (n * m) - meanWithinDistance(ax, ay) - meanWithinDistance(bx, by);
}

function checkLevel(s: number): void {
  if (!(s > 0 && s <= 1)) throw new Error(`noise level s = ${s} is outside (0, 1]`);
}

/**
 * The exact optimal denoiser E[x0 | x_s] of the empirical distribution of `samples` [m, 2] (each a Dirac of weight 1/m),
 * at query points xs [n, 2] and noise level s in (0, 1]:
 *   w_j(x_s) = softmax_j(-|x_s - (1 - s) x_j|^2 / (2 s^2)),   x0_hat = sum_j w_j x_j,
 * the softmax stabilised by subtracting the largest logit (at s = 0.01 the logits reach -10^4 and below).
 * O(n m). As s -> 0 it returns the sample nearest x_s / (1 - s); at s = 1 the mean of the samples.
 */
export function optimalDenoiser(samples: ArrayLike<number>, xs: ArrayLike<number>, s: number): Float64Array {
  checkLevel(s);
  const [sx, sy] = columns(samples, 'optimalDenoiser samples');
  const m = sx.length;
  if (m === 0) throw new Error('optimalDenoiser: no samples');
  if (xs.length % 2 !== 0) throw new Error(`optimalDenoiser: ${xs.length} query values are not [n, 2] points`);
  const n = xs.length / 2;
  const logits = new Float64Array(m);
  const scale = 1 - s;
  const inverseTwoVariance = 1 / (2 * s * s);
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x = xs[2 * i]!;
    const y = xs[2 * i + 1]!;
    let max = -Infinity;
    for (let j = 0; j < m; j++) {
      const dx = x - scale * sx[j]!;
      const dy = y - scale * sy[j]!;
      const logit = -(dx * dx + dy * dy) * inverseTwoVariance;
      logits[j] = logit;
      if (logit > max) max = logit;
    }
    let total = 0;
    let meanX = 0;
    let meanY = 0;
    for (let j = 0; j < m; j++) {
      const w = Math.exp(logits[j]! - max);
      total += w;
      meanX += w * sx[j]!;
      meanY += w * sy[j]!;
    }
    out[2 * i] = meanX / total;
    out[2 * i + 1] = meanY / total;
  }
  return out;
}

/**
 * The optimal velocity E[eps - x0 | x_s] of the same empirical distribution: since x_s = x0 + s (eps - x0),
 * x0_hat = x_s - s v_hat, so v_hat = (x_s - x0_hat) / s (the inverse of flow/samplers.ts x0FromVelocity).
 */
export function optimalVelocity(samples: ArrayLike<number>, xs: ArrayLike<number>, s: number): Float64Array {
  const x0 = optimalDenoiser(samples, xs, s);
  return x0.map((value, i) => (xs[i]! - value) / s);
}

export interface TrackingQueries {
  /** The noise level of these queries. */
  s: number;
  /** Noised points (1 - s) x_j + s eps_j, [count, 2], float32 so the network sees exactly what the metric uses. */
  points: Float32Array;
}

/**
 * Query points for the fake-tracking error, one set per noise level: `count` points of `heldOut` [n, 2] chosen without
 * replacement (the same subset at every level), each noised with its own eps. Deterministic in the seed.
 *
 * `heldOut` should be generator samples that are NOT the `samples` later passed to fakeTrackingError: a query built
 * from one of those Diracs sits on it, and at small s its empirical denoiser snaps to it.
 */
export function trackingQueries(heldOut: ArrayLike<number>, sigmas: readonly number[], seed: number, count = 256): TrackingQueries[] {
  const n = heldOut.length / 2;
  if (!Number.isInteger(n) || n === 0) throw new Error(`trackingQueries: ${heldOut.length} values are not [n, 2] points`);
  const random = mulberry32(seed);
  const chosen = Array.from({ length: n }, (_, i) => i);
  const k = Math.min(count, n);
  // A partial Fisher-Yates shuffle: the first k entries are a uniform subset.
  for (let i = 0; i < k; i++) {
    const j = i + Math.min(n - i - 1, Math.floor(random() * (n - i)));
    [chosen[i], chosen[j]] = [chosen[j]!, chosen[i]!];
  }
  return sigmas.map((s) => {
    checkLevel(s);
    const points = new Float32Array(2 * k);
    for (let q = 0; q < k; q++) {
      const index = chosen[q]!;
      points[2 * q] = (1 - s) * heldOut[2 * index]! + s * gaussian(random);
      points[2 * q + 1] = (1 - s) * heldOut[2 * index + 1]! + s * gaussian(random);
    }
    return { s, points };
  });
}

/**
 * The fake-tracking error at one noise level: mean over query points [n, 2] of |x0_fake - x0_optimal|^2 (squared
 * Euclidean distance in 2D), where x0_fake [n, 2] is the fake network's x0 prediction at the queries (for a
 * v-predictor, x - s v: flow/samplers.ts x0FromVelocity) and x0_optimal = optimalDenoiser(samples, queries, s), the
 * denoiser of the generator's current distribution as seen through `samples`.
 *
 * Build the queries from held-out generator samples (trackingQueries), not from `samples`. The empirical denoiser
 * is close to the generator's true one only where the noise s / (1 - s) is wide compared with the spacing of the
 * samples, so use thousands of samples and levels away from 0 (e.g. 0.25, 0.5, 0.75).
 */
export function fakeTrackingError(samples: ArrayLike<number>, queries: ArrayLike<number>, predictedX0: ArrayLike<number>, s: number): number {
  if (predictedX0.length !== queries.length) throw new Error(`fakeTrackingError: ${predictedX0.length / 2} predictions for ${queries.length / 2} queries`);
  const optimal = optimalDenoiser(samples, queries, s);
  const n = queries.length / 2;
  let sum = 0;
  for (let i = 0; i < 2 * n; i++) sum += (predictedX0[i]! - optimal[i]!) ** 2;
  return sum / n;
}

export interface TrackingErrors {
  sigmas: number[];
  /** The fake-tracking error per noise level. */
  errors: number[];
  /** Their mean over the levels. */
  mean: number;
}

/** fakeTrackingError at every level of trackingQueries; predictedX0[k] answers queries[k]. */
export function trackingErrors(samples: ArrayLike<number>, queries: readonly TrackingQueries[], predictedX0: readonly ArrayLike<number>[]): TrackingErrors {
  if (predictedX0.length !== queries.length) throw new Error(`trackingErrors: ${predictedX0.length} prediction sets for ${queries.length} noise levels`);
  const errors = queries.map((q, k) => fakeTrackingError(samples, q.points, predictedX0[k]!, q.s));
  return { sigmas: queries.map((q) => q.s), errors, mean: errors.reduce((a, b) => a + b, 0) / errors.length };
}

export interface ToyReport {
  /** Modes of the label that received a point. */
  covered: number;
  /** Modes the label owns. */
  modes: number;
  /** Fraction of points off every mode. */
  offMode: number;
  /** Fraction of points in a mode the label does not own. */
  wrongMode: number;
  /** energyDistance(points, true samples of the label), as many as points. */
  energy: number;
}

/** The toy's summary of generated points [n, 2] for a label: modeCoverage plus the energy distance to the data. */
export function toyReport(mixture: GaussianMixture2D, label: string | number, points: ArrayLike<number>, referenceSeed = 0): ToyReport {
  const { covered, offMode, wrongMode } = modeCoverage(mixture, label, points);
  const reference = sample(mixture, label, points.length / 2, referenceSeed);
  return { covered, modes: labelOf(mixture, label).modes.length, offMode, wrongMode, energy: energyDistance(points, reference) };
}
