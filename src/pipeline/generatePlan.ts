// What a sampler does at each step, as numbers: the noise level fed to the denoiser and five coefficients of one
// linear update, so that every sampler of every model kind runs through the same step (generateStepGraph.ts):
//
//   p    = p_null + w (p_text - p_null)          classifier-free guidance on the prediction (w = 1: none)
//   x0   = a x + b p                             the model's estimate of the clean image
//   x'   = c x + d p + f eps_fresh               the input of the next step (the last step's x' is x0)
//
// flow (x_s = (1 - s) x0 + s eps, p = v = eps - x0; shared/DESIGN.md), from s to s' (0 after the last):
//   x0 = x - s v                      a = 1, b = -s
//   Euler        x' = x + (s' - s) v  c = 1, d = s' - s, f = 0
//   x0-renoise   x' = (1 - s') x0 + s' eps_fresh
//                                     c = 1 - s', d = -(1 - s') s, f = s'
// epsilon (x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps, p = eps; the variance-preserving form an SD UNet takes, i.e.
// the k-diffusion x / sqrt(sigma^2 + 1) with sigma = sqrt((1 - ab) / ab)), from timestep t to t' (ab' = 1 after the last):
//   x0 = (x - sqrt(1 - ab) eps) / sqrt(ab)
//                                     a = 1 / sqrt(ab), b = -sqrt(1 - ab) / sqrt(ab)
//   Euler (DDIM, eta 0)  x' = sqrt(ab') x0 + sqrt(1 - ab') eps
//                                     c = sqrt(ab') a, d = sqrt(ab') b + sqrt(1 - ab'), f = 0
//   x0-renoise   x' = sqrt(ab') x0 + sqrt(1 - ab') eps_fresh
//                                     c = sqrt(ab') a, d = sqrt(ab') b, f = sqrt(1 - ab')
// Euler in the flow form and DDIM in the epsilon form are the same ODE step (both are exact for a single data point).
import { eulerSigmas } from '../flow/schedule';
import type { Manifest } from './manifest';

export type SamplerName = 'euler' | 'x0';
export const SAMPLER_NAMES: readonly SamplerName[] = ['euler', 'x0'];

export interface StepCoefficients {
  a: number;
  b: number;
  c: number;
  d: number;
  f: number;
}

export interface PlannedStep extends StepCoefficients {
  /** What the denoiser's sigma input gets: s (flow) or the timestep t (epsilon). */
  level: number;
}

export interface SamplerPlan {
  kind: Manifest['kind'];
  sampler: SamplerName;
  steps: PlannedStep[];
  /** The starting x is this times the seed's noise (flow 1; epsilon sqrt(1 - ab) at the first timestep). */
  startScale: number;
  /** Whether steps draw fresh noise (x0-renoise, except on the last step). */
  renoise: boolean;
}

// ---- the epsilon models' noise schedule ----

/**
 * Stable Diffusion's training schedule (diffusers' "scaled_linear": betas from 0.00085 to 0.012 over 1000 steps,
 * linear in sqrt(beta)), which SD 1.x/2.x and the Turbo models share. The manifest has no field for a schedule, so
 * epsilon bundles are assumed to use this one.
 */
export const EPSILON_TRAIN_STEPS = 1000;
let alphasCumprod: Float64Array | undefined;

/** ab_t = prod_{i <= t} (1 - beta_i), linearly interpolated between integer timesteps. */
export function alphaBar(t: number): number {
  if (!(t >= 0 && t <= EPSILON_TRAIN_STEPS - 1)) throw new Error(`timestep ${t} is outside [0, ${EPSILON_TRAIN_STEPS - 1}]`);
  if (!alphasCumprod) {
    alphasCumprod = new Float64Array(EPSILON_TRAIN_STEPS);
    const [start, end] = [Math.sqrt(0.00085), Math.sqrt(0.012)];
    let product = 1;
    for (let i = 0; i < EPSILON_TRAIN_STEPS; i++) {
      const beta = (start + ((end - start) * i) / (EPSILON_TRAIN_STEPS - 1)) ** 2;
      product *= 1 - beta;
      alphasCumprod[i] = product;
    }
  }
  const low = Math.floor(t);
  const high = Math.min(low + 1, EPSILON_TRAIN_STEPS - 1);
  return alphasCumprod[low]! + (t - low) * (alphasCumprod[high]! - alphasCumprod[low]!);
}

/** diffusers' "trailing" timesteps for n steps: 999 first ([999] for one step, [999, 749, 499, 249] for four). */
export function trailingTimesteps(steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => Math.round(EPSILON_TRAIN_STEPS - (i * EPSILON_TRAIN_STEPS) / steps) - 1);
}

// ---- levels and plans ----

/**
 * The noise levels of an n-step run (descending, the final clean level implicit): the manifest's list for n when
 * it has one; otherwise a teacher ('euler-grid') gets its grid (flow: the shifted uniform grid; epsilon: trailing
 * timesteps) and a few-step student ('anchors') is refused, naming the step counts it has.
 */
export function levelsFor(manifest: Pick<Manifest, 'kind' | 'steps' | 'shift' | 'name'>, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be an integer >= 1, got ${steps}`);
  const listed = manifest.steps.sigmas[String(steps)];
  if (listed) return [...listed];
  if (manifest.steps.schedule === 'anchors') {
    const counts = Object.keys(manifest.steps.sigmas).map(Number).sort((x, y) => x - y);
    throw new Error(`${manifest.name} is a few-step model: it runs at ${counts.join(', ')} step${counts.length > 1 ? 's' : ''}, not ${steps}`);
  }
  return manifest.kind === 'flow' ? eulerSigmas(steps, manifest.shift).slice(0, -1) : trailingTimesteps(steps);
}

/** The per-step coefficients of `sampler` over `levels` (see the top of this file). */
export function planSampler(kind: Manifest['kind'], sampler: SamplerName, levels: readonly number[]): SamplerPlan {
  if (levels.length === 0) throw new Error('a sampler needs at least one noise level');
  const renoise = sampler === 'x0';
  const steps = levels.map((level, i): PlannedStep => {
    const last = i + 1 === levels.length;
    if (kind === 'flow') {
      const [s, next] = [level, last ? 0 : levels[i + 1]!];
      if (renoise) return { level, a: 1, b: -s, c: 1 - next, d: -(1 - next) * s, f: next };
      return { level, a: 1, b: -s, c: 1, d: next - s, f: 0 };
    }
    const ab = alphaBar(level);
    const abNext = last ? 1 : alphaBar(levels[i + 1]!);
    const a = 1 / Math.sqrt(ab);
    const b = -Math.sqrt(1 - ab) / Math.sqrt(ab);
    const keep = Math.sqrt(abNext);
    if (renoise) return { level, a, b, c: keep * a, d: keep * b, f: Math.sqrt(1 - abNext) };
    return { level, a, b, c: keep * a, d: keep * b + Math.sqrt(1 - abNext), f: 0 };
  });
  const startScale = kind === 'flow' ? 1 : Math.sqrt(1 - alphaBar(levels[0]!));
  return { kind, sampler, steps, startScale, renoise: renoise && levels.length > 1 };
}
