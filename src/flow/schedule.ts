// Noise-level schedules for flow matching (x_s = (1 - s) x0 + s eps; s = 1 is pure noise, s = 0 the data).
//
// The timestep shift of SD3 (Esser et al. 2024, eq. 23, with m/n = k): shift(s) = k s / (1 + (k - 1) s). It maps
// [0, 1] onto itself, fixes 0 and 1, and for k > 1 spends more of a schedule at high noise, where a few-step
// sampler decides the layout. SenseFlow's few-step anchors are the shifted uniform grid (shared/DESIGN.md):
//   1 step [1];  2 steps [1, 0.75];  4 steps [1, 0.9, 0.75, 0.5]   (k = 3, from [1], [1, .5], [1, .75, .5, .25]).

/** The shift SenseFlow's anchors use. */
export const ANCHOR_SHIFT = 3;

function checkSigma(s: number, what: string): void {
  if (!(s >= 0 && s <= 1)) throw new Error(`${what}: noise level s = ${s} is outside [0, 1]`);
}

function checkSteps(steps: number, what: string): void {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${what}: steps must be an integer >= 1, got ${steps}`);
}

/** shift(s, k) = k s / (1 + (k - 1) s), for s in [0, 1] and k > 0 (k = 1: the identity). */
export function shift(s: number, k: number = ANCHOR_SHIFT): number {
  checkSigma(s, 'shift');
  if (!(k > 0 && Number.isFinite(k))) throw new Error(`shift: k must be a positive number, got ${k}`);
  return (k * s) / (1 + (k - 1) * s);
}

/** The noise levels a few-step generator starts its steps from: shift(1 - i / steps) for i = 0 .. steps - 1. */
export function anchorSigmas(steps: number, k: number = ANCHOR_SHIFT): number[] {
  checkSteps(steps, 'anchorSigmas');
  return Array.from({ length: steps }, (_, i) => shift(1 - i / steps, k));
}

/** The anchor after anchor i, or 0 after the last one (where a segment of ISG ends). */
export function nextAnchor(anchors: readonly number[], i: number): number {
  if (!Number.isInteger(i) || i < 0 || i >= anchors.length) throw new Error(`nextAnchor: index ${i} is not one of the ${anchors.length} anchors`);
  return anchors[i + 1] ?? 0;
}

/** The steps + 1 noise levels of an Euler sampler from 1 to 0: shift(1 - i / steps, k), i = 0 .. steps (k = 1: uniform). */
export function eulerSigmas(steps: number, k = 1): number[] {
  checkSteps(steps, 'eulerSigmas');
  return Array.from({ length: steps + 1 }, (_, i) => shift(1 - i / steps, k));
}
