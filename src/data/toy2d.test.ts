import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from './random';
import {
  denoiserMixture,
  GRID,
  type GaussianMixture2D,
  labelOf,
  logDensity,
  modeCount,
  modeCoverage,
  modeOf,
  RING,
  sample,
  score,
  velocityMixture,
} from './toy2d';

const MIXTURES: GaussianMixture2D[] = [RING, GRID];

/** x_s = (1 - s) x0 + s eps for x0 drawn from the label. */
function noised(mixture: GaussianMixture2D, label: string, count: number, s: number, seed: number): Float64Array {
  const x0 = sample(mixture, label, count, seed);
  const random = mulberry32(seed + 1000);
  return Float64Array.from(x0, (v) => (1 - s) * v + s * gaussian(random));
}

describe('2D mixtures', () => {
  it('has the documented modes and labels', () => {
    expect(modeCount(RING)).toBe(8);
    expect(modeCount(GRID)).toBe(25);
    expect(RING.labels.map((l) => l.name)).toEqual(['any', 'east-west', 'northeast-southwest', 'north-south', 'northwest-southeast']);
    expect(labelOf(RING, 'north-south').modes).toEqual([2, 6]);
    expect(GRID.labels.length).toBe(11);
    expect(labelOf(GRID, 'row 4').modes.map((k) => GRID.means[2 * k + 1])).toEqual([2, 2, 2, 2, 2]);
    expect(labelOf(GRID, 'column 0').modes.map((k) => GRID.means[2 * k])).toEqual([-2, -2, -2, -2, -2]);
    for (const mixture of MIXTURES) expect(mixture.labels[0]!.modes.length).toBe(modeCount(mixture));
    expect(() => labelOf(RING, 'row 1')).toThrow('ring has no label "row 1"; its labels: any, east-west');
  });

  it('samples every label: all its modes covered, evenly, nothing in other modes, ~1.1% beyond 3 std', () => {
    for (const mixture of MIXTURES) {
      for (const label of mixture.labels) {
        const count = 4000;
        const points = sample(mixture, label.name, count, 3);
        const coverage = modeCoverage(mixture, label.name, points);
        expect(coverage.covered, `${mixture.name} ${label.name}`).toBe(label.modes.length);
        expect(coverage.wrongMode).toBe(0);
        expect(coverage.offMode).toBeLessThan(0.025);
        const inLabel = label.modes.map((k) => coverage.counts[k]!);
        const expected = (count * (1 - coverage.offMode)) / label.modes.length;
        for (const n of inLabel) expect(Math.abs(n - expected)).toBeLessThan(5 * Math.sqrt(expected));
      }
    }
  });

  it('samples deterministically from the seed', () => {
    expect(sample(GRID, 'row 2', 100, 7)).toEqual(sample(GRID, 'row 2', 100, 7));
    expect(sample(GRID, 'row 2', 100, 7)).not.toEqual(sample(GRID, 'row 2', 100, 8));
  });

  it('finds the mode of a point, and none far from every mode', () => {
    expect(modeOf(RING, 2, 0.05)).toBe(0);
    expect(modeOf(RING, 0, -2)).toBe(6);
    expect(modeOf(RING, 1, 0)).toBe(-1);
    expect(modeOf(GRID, 1.02, -1.98)).toBe(3);
    expect(modeOf(GRID, 0.5, 0.5)).toBe(-1);
    // A collapsed generator: all points on one of the label's two modes.
    const collapsed = Float32Array.from({ length: 200 }, (_, i) => (i % 2 ? 0 : 2));
    expect(modeCoverage(RING, 'east-west', collapsed).covered).toBe(1);
  });

  it('normalises the noised density, and its score is the gradient of the log-density', () => {
    for (const mixture of MIXTURES) {
      for (const s of [0.3, 0.7, 1]) {
        // Riemann sum over [-6, 6]^2: the noised density is smooth at these s.
        const step = 0.05;
        let mass = 0;
        for (let x = -6; x < 6; x += step) for (let y = -6; y < 6; y += step) mass += Math.exp(logDensity(mixture, 'any', x + step / 2, y + step / 2, s)) * step * step;
        expect(mass, `${mixture.name} s=${s}`).toBeCloseTo(1, 3);
      }
      const points = noised(mixture, mixture.labels[1]!.name, 20, 0.4, 5);
      for (const s of [0, 0.05, 0.4, 0.9]) {
        for (let i = 0; i < 20; i++) {
          const [x, y] = [points[2 * i]!, points[2 * i + 1]!];
          const h = 1e-5;
          const label = mixture.labels[1]!.name;
          const fx = (logDensity(mixture, label, x + h, y, s) - logDensity(mixture, label, x - h, y, s)) / (2 * h);
          const fy = (logDensity(mixture, label, x, y + h, s) - logDensity(mixture, label, x, y - h, s)) / (2 * h);
          const [gx, gy] = score(mixture, label, x, y, s);
          expect(Math.abs(gx - fx)).toBeLessThan(1e-4 * (1 + Math.abs(gx)));
          expect(Math.abs(gy - fy)).toBeLessThan(1e-4 * (1 + Math.abs(gy)));
        }
      }
    }
  });

  it('gives the exact denoiser E[x0 | x_s], checked by Monte Carlo (self-normalised importance sampling)', () => {
    const draws = 200_000;
    for (const [mixture, label] of [[RING, 'east-west'], [RING, 'any'], [GRID, 'row 3'], [GRID, 'any']] as const) {
      const x0 = sample(mixture, label, draws, 17);
      for (const s of [0.1, 0.5, 0.9]) {
        const queries = noised(mixture, label, 4, s, 23);
        const exact = denoiserMixture(mixture, label, queries, s);
        for (let q = 0; q < 4; q++) {
          // p(x0 | x_s) is proportional to p(x0) N(x_s; (1 - s) x0, s^2 I): weight draws from p(x0) by the likelihood.
          const [qx, qy] = [queries[2 * q]!, queries[2 * q + 1]!];
          const logWeights = new Float64Array(draws);
          let max = -Infinity;
          for (let i = 0; i < draws; i++) {
            const dx = qx - (1 - s) * x0[2 * i]!;
            const dy = qy - (1 - s) * x0[2 * i + 1]!;
            logWeights[i] = -(dx * dx + dy * dy) / (2 * s * s);
            max = Math.max(max, logWeights[i]!);
          }
          let total = 0;
          let sumSquares = 0;
          const moments = new Float64Array(4); // sum w x, sum w y, sum w x^2, sum w y^2
          for (let i = 0; i < draws; i++) {
            const w = Math.exp(logWeights[i]! - max);
            const [x, y] = [x0[2 * i]!, x0[2 * i + 1]!];
            total += w;
            sumSquares += w * w;
            moments[0]! += w * x;
            moments[1]! += w * y;
            moments[2]! += w * x * x;
            moments[3]! += w * y * y;
          }
          const effective = (total * total) / sumSquares;
          expect(effective, `${mixture.name} ${label} s=${s}: too few effective draws`).toBeGreaterThan(500);
          for (const axis of [0, 1]) {
            const mean = moments[axis]! / total;
            const posteriorStd = Math.sqrt(Math.max(0, moments[axis + 2]! / total - mean * mean));
            // 5 standard errors of the weighted mean.
            const tolerance = (5 * posteriorStd) / Math.sqrt(effective) + 1e-9;
            expect(Math.abs(mean - exact[2 * q + axis]!), `${mixture.name} ${label} s=${s} axis ${axis}`).toBeLessThan(tolerance);
          }
        }
      }
    }
  });

  it('agrees with Tweedie: E[x0 | x_s] = (x_s + s^2 score) / (1 - s), and has the right limits', () => {
    for (const mixture of MIXTURES) {
      const label = mixture.labels[2]!.name;
      for (const s of [0.01, 0.3, 0.8]) {
        const points = noised(mixture, label, 10, s, 9);
        const exact = denoiserMixture(mixture, label, points, s);
        for (let i = 0; i < 10; i++) {
          const [gx, gy] = score(mixture, label, points[2 * i]!, points[2 * i + 1]!, s);
          expect(exact[2 * i]).toBeCloseTo((points[2 * i]! + s * s * gx) / (1 - s), 9);
          expect(exact[2 * i + 1]).toBeCloseTo((points[2 * i + 1]! + s * s * gy) / (1 - s), 9);
        }
      }
      // s = 0: the data point itself. s = 1: the label's mean.
      const points = Float64Array.from([0.3, -1.2, 1.9, 0.1]);
      denoiserMixture(mixture, label, points, 0).forEach((v, i) => expect(v).toBeCloseTo(points[i]!, 12));
      const { modes } = labelOf(mixture, label);
      const meanX = modes.reduce((sum, k) => sum + mixture.means[2 * k]!, 0) / modes.length;
      const meanY = modes.reduce((sum, k) => sum + mixture.means[2 * k + 1]!, 0) / modes.length;
      const atOne = denoiserMixture(mixture, label, points, 1);
      expect(atOne[0]).toBeCloseTo(meanX, 12);
      expect(atOne[3]).toBeCloseTo(meanY, 12);
      // Per-point noise levels give the same as one level at a time.
      const mixed = denoiserMixture(mixture, label, points, [0.2, 0.6]);
      expect(mixed[0]).toBe(denoiserMixture(mixture, label, points.subarray(0, 2), 0.2)[0]);
      expect(mixed[3]).toBe(denoiserMixture(mixture, label, points.subarray(2, 4), 0.6)[1]);
      // The velocity a v-predictor learns: x_s = x0_hat + s v.
      const v = velocityMixture(mixture, label, points, 0.6);
      const x0 = denoiserMixture(mixture, label, points, 0.6);
      for (let i = 0; i < 4; i++) expect(x0[i]! + 0.6 * v[i]!).toBeCloseTo(points[i]!, 12);
    }
    expect(() => denoiserMixture(RING, 'any', [0, 0], 1.5)).toThrow('outside [0, 1]');
  });
});
