// Noise levels for flow-matching training: logit-normal (SD3, Esser et al. 2024, eq. 19): s = sigmoid(u),
// u ~ N(mean, std^2). With (0, 1) the density peaks at s = 0.5, where the velocity is hardest to predict, and
// thins towards 0 and 1 (never reaching them). Host numbers from the data layer's seeded generator, so the
// draws of a training step are a function of its seed alone (what makes a resumed run exact).
import { gaussian, type Random, randomFrom } from '../data/random';

export interface LogitNormal {
  mean: number;
  std: number;
}

export const LOGIT_NORMAL: Readonly<LogitNormal> = { mean: 0, std: 1 };

export function sigmoid(u: number): number {
  return 1 / (1 + Math.exp(-u));
}

/** count draws of s = sigmoid(mean + std z), z ~ N(0, 1) from `random` (a seed or a generator to share a stream). */
export function logitNormalSigmas(count: number, random: number | Random, options: Partial<LogitNormal> = {}): Float32Array {
  const { mean, std } = { ...LOGIT_NORMAL, ...options };
  if (!Number.isInteger(count) || count < 0) throw new Error(`logitNormalSigmas: count must be an integer >= 0, got ${count}`);
  if (!Number.isFinite(mean) || !(std >= 0 && Number.isFinite(std))) throw new Error(`logitNormalSigmas: needs a finite mean and std >= 0, got ${mean}, ${std}`);
  const next = randomFrom(random);
  return Float32Array.from({ length: count }, () => sigmoid(mean + std * gaussian(next)));
}

/** count draws of s uniform in [low, high) (DMD's noise level for the distribution-matching loss). */
export function uniformSigmas(count: number, random: number | Random, low = 0, high = 1): Float32Array {
  if (!(low >= 0 && low <= high && high <= 1)) throw new Error(`uniformSigmas: needs 0 <= low <= high <= 1, got [${low}, ${high})`);
  const next = randomFrom(random);
  return Float32Array.from({ length: count }, () => low + (high - low) * next());
}
