import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from '../data/random';
import { denoiserMixture, RING, sample } from '../data/toy2d';
import { allclose } from '../nn/testing';
import { energyDistance, fakeTrackingError, optimalDenoiser, optimalVelocity, toyReport, trackingErrors, trackingQueries } from './toyMetrics';

/** count points (mean + N(0, 1), 0): a 1D Gaussian on the x axis. */
function gaussian1D(mean: number, count: number, seed: number): Float64Array {
  const random = mulberry32(seed);
  const points = new Float64Array(2 * count);
  for (let i = 0; i < count; i++) points[2 * i] = mean + gaussian(random);
  return points;
}

/** erf(z) = 2 / sqrt(pi) int_0^z exp(-t^2) dt, by Simpson's rule (error ~1e-12 at 1000 panels). */
function erf(z: number): number {
  const panels = 1000;
  const h = z / panels;
  let sum = 1 + Math.exp(-z * z);
  for (let i = 1; i < panels; i++) sum += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * sum * h) / 3;
}

/**
 * D^2(N(0, 1), N(delta, 1)) = 2 E|Z| - 2 E|X - X'|, Z = X - Y ~ N(delta, 2):
 * E|Z| = 2 / sqrt(pi) exp(-delta^2 / 4) + delta erf(delta / 2),  E|X - X'| = 2 / sqrt(pi).
 */
function gaussianEnergy(delta: number): number {
  return 2 * ((2 / Math.sqrt(Math.PI)) * Math.exp(-(delta * delta) / 4) + delta * erf(delta / 2)) - 4 / Math.sqrt(Math.PI);
}

describe('energyDistance', () => {
  it('matches hand-computed tiny sets', () => {
    // Cross distances 3, 4, 2, 3 (mean 3); within each set the one pair is 1 apart: 2 * 3 - 1 - 1.
    expect(energyDistance([0, 0, 1, 0], [3, 0, 4, 0])).toBeCloseTo(4, 12);
    // Cross distances 5 and sqrt(18); within a: 1; b has a single point (no pairs): 5 + sqrt(18) - 1.
    expect(energyDistance(Float32Array.of(0, 0, 0, 1), Float64Array.of(3, 4))).toBeCloseTo(4 + Math.sqrt(18), 12);
    expect(() => energyDistance([0, 0], [])).toThrow('needs points in both sets');
    expect(() => energyDistance([0, 0, 1], [0, 0])).toThrow('are not [n, 2] points');
  });

  it('is symmetric, ~0 between two samples of one distribution, large for a collapsed student', () => {
    const data = sample(RING, 'any', 2000, 1);
    const resampled = sample(RING, 'any', 2000, 2);
    const collapsed = sample(RING, 'east-west', 2000, 3);
    expect(Math.abs(energyDistance(data, resampled))).toBeLessThan(0.005);
    expect(energyDistance(data, collapsed)).toBeGreaterThan(0.3);
    expect(energyDistance(collapsed, data)).toBeCloseTo(energyDistance(data, collapsed), 10);
  });

  it('matches the closed form for two Gaussians and grows with the shift of the mean', () => {
    const base = gaussian1D(0, 3000, 11);
    const measured = [0, 0.5, 1, 2].map((delta, k) => {
      const value = energyDistance(base, gaussian1D(delta, 3000, 20 + k));
      // The estimate's spread over seeds is ~0.05 at shift 2 (measured), ~0.001 at shift 0.
      expect(Math.abs(value - gaussianEnergy(delta)), `shift ${delta}: ${value} vs ${gaussianEnergy(delta)}`).toBeLessThan(0.01 + 0.06 * delta);
      return value;
    });
    expect(gaussianEnergy(1)).toBeCloseTo(0.5418, 3);
    for (let k = 1; k < measured.length; k++) expect(measured[k]!).toBeGreaterThan(measured[k - 1]! + 0.05);
  });

  it('handles 4000 x 4000 points well under a second', () => {
    const a = sample(RING, 'any', 4000, 5);
    const b = sample(RING, 'north-south', 4000, 6);
    const start = performance.now();
    const value = energyDistance(a, b);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(value).toBeGreaterThan(0.3);
  });
});

describe('optimalDenoiser', () => {
  it('returns the only sample, for any query and level', () => {
    for (const s of [0.01, 0.5, 1]) {
      const x0 = optimalDenoiser([0.3, -1.2], [0, 0, 5, 5, -100, 40], s);
      allclose(x0, [0.3, -1.2, 0.3, -1.2, 0.3, -1.2], { atol: 0, rtol: 1e-15 }, `s = ${s}`);
    }
  });

  it('matches the hand-computed posterior of two samples', () => {
    // x_1 = (0, 0), x_2 = (1, 2), s = 0.5, x = (0.5, 0.5): |x - 0.5 x_1|^2 = 0.5, |x - 0.5 x_2|^2 = 0.25;
    // logits -0.5 / 0.5 = -1 and -0.25 / 0.5 = -0.5, so w_2 = 1 / (1 + exp(-0.5)) and x0_hat = w_2 (1, 2).
    const w2 = 1 / (1 + Math.exp(-0.5));
    allclose(optimalDenoiser([0, 0, 1, 2], [0.5, 0.5], 0.5), [w2, 2 * w2], { atol: 1e-15, rtol: 1e-14 });
    // At s = 1 the noised point says nothing about x0: the mean of the samples.
    allclose(optimalDenoiser([0, 0, 1, 2], [7, -3], 1), [0.5, 1], { atol: 1e-15, rtol: 1e-14 });
  });

  it('returns the nearest sample as s -> 0, without overflow far from every sample', () => {
    const random = mulberry32(4);
    const samples = Float64Array.from({ length: 20 }, () => 4 * random() - 2);
    const queries = Float64Array.from({ length: 40 }, () => 6 * random() - 3);
    const s = 1e-3;
    const x0 = optimalDenoiser(samples, queries, s);
    for (let i = 0; i < queries.length / 2; i++) {
      let nearest = -1;
      let best = Infinity;
      for (let j = 0; j < samples.length / 2; j++) {
        const d = Math.hypot(queries[2 * i]! - (1 - s) * samples[2 * j]!, queries[2 * i + 1]! - (1 - s) * samples[2 * j + 1]!);
        if (d < best) [best, nearest] = [d, j];
      }
      allclose(x0.subarray(2 * i, 2 * i + 2), samples.subarray(2 * nearest, 2 * nearest + 2), { atol: 1e-12, rtol: 0 }, `query ${i}`);
    }
    allclose(optimalDenoiser([0, 0, 1, 0], [1000, 1], 0.01), [1, 0], { atol: 1e-12, rtol: 0 });
  });

  it('gives the velocity consistent with x0: x - s v = x0_hat', () => {
    const samples = sample(RING, 'any', 50, 8);
    const xs = Float64Array.of(0.3, 0.1, -1.5, 1.2, 2, 0);
    for (const s of [0.1, 0.6, 1]) {
      const x0 = optimalDenoiser(samples, xs, s);
      const v = optimalVelocity(samples, xs, s);
      allclose(xs.map((x, i) => x - s * v[i]!), x0, { atol: 1e-12, rtol: 1e-12 }, `s = ${s}`);
    }
    // One Dirac at x1: v = (x - x1) / s exactly.
    allclose(optimalVelocity([1, 1], [2, 0], 0.5), [2, -2], { atol: 1e-15, rtol: 1e-15 });
  });

  it('approaches the exact mixture denoiser with many samples', () => {
    // Measured over seeds: 2e-5..2e-3 against the right distribution, 0.6..2.9 against a collapsed one.
    const samples = sample(RING, 'any', 4000, 9);
    const collapsed = sample(RING, 'east-west', 4000, 10);
    for (const { s, points } of trackingQueries(sample(RING, 'any', 400, 11), [0.25, 0.5, 0.75], 12)) {
      const exact = denoiserMixture(RING, 'any', points, s);
      expect(fakeTrackingError(samples, points, exact, s), `s = ${s}`).toBeLessThan(5e-3);
      expect(fakeTrackingError(collapsed, points, exact, s), `s = ${s}`).toBeGreaterThan(0.3);
    }
  });
});

describe('fake-tracking error', () => {
  const samples = sample(RING, 'any', 1000, 12);
  const heldOut = sample(RING, 'any', 500, 13);

  it('builds deterministic queries from a subset without replacement', () => {
    const sigmas = [0.25, 0.5, 0.75];
    const queries = trackingQueries(heldOut, sigmas, 1, 100);
    expect(queries.map((q) => q.s)).toEqual(sigmas);
    expect(queries.map((q) => q.points.length)).toEqual([200, 200, 200]);
    expect(trackingQueries(heldOut, sigmas, 1, 100)).toEqual(queries);
    expect(trackingQueries(heldOut, sigmas, 2, 100)[0]!.points).not.toEqual(queries[0]!.points);
    expect(trackingQueries(heldOut, [0.5], 1, 10_000)[0]!.points.length).toBe(1000);
    // Points at x = 0..49: with s tiny, each query reveals its source index; all distinct.
    const line = Float64Array.from({ length: 100 }, (_, i) => (i % 2 ? 0 : i / 2));
    const indices = Array.from(trackingQueries(line, [1e-4], 3, 50)[0]!.points.filter((_, i) => i % 2 === 0), (x) => Math.round(x / (1 - 1e-4)));
    expect(new Set(indices).size).toBe(50);
    expect(() => trackingQueries(heldOut, [0], 1)).toThrow('outside (0, 1]');
  });

  it('is 0 for the optimal denoiser, the squared shift for a shifted one, and averages over levels', () => {
    const queries = trackingQueries(heldOut, [0.25, 0.5, 0.75], 4, 200);
    const optimal = queries.map((q) => optimalDenoiser(samples, q.points, q.s));
    expect(fakeTrackingError(samples, queries[1]!.points, optimal[1]!, 0.5)).toBe(0);
    const shifts = [0.1, 0.2, 0.3];
    const shifted = optimal.map((x0, k) => x0.map((v, i) => (i % 2 === 0 ? v + shifts[k]! : v)));
    const result = trackingErrors(samples, queries, shifted);
    expect(result.sigmas).toEqual([0.25, 0.5, 0.75]);
    allclose(result.errors, [0.01, 0.04, 0.09], { atol: 1e-12, rtol: 1e-9 });
    expect(result.mean).toBeCloseTo(0.14 / 3, 12);
    // The generator collapsed onto two modes while the fake network still denoises toward all eight: positive error.
    const collapsed = sample(RING, 'east-west', 1000, 14);
    expect(fakeTrackingError(collapsed, queries[0]!.points, optimal[0]!, 0.25)).toBeGreaterThan(0.1);
    expect(() => trackingErrors(samples, queries, shifted.slice(1))).toThrow('2 prediction sets for 3 noise levels');
  });
});

describe('toyReport', () => {
  it('reports coverage and the energy distance to the data', () => {
    const good = toyReport(RING, 'any', sample(RING, 'any', 2000, 15));
    expect(good.covered).toBe(8);
    expect(good.modes).toBe(8);
    expect(good.wrongMode).toBe(0);
    expect(Math.abs(good.energy)).toBeLessThan(0.005);
    const collapsed = toyReport(RING, 'any', sample(RING, 'east-west', 2000, 16));
    expect(collapsed).toMatchObject({ covered: 2, modes: 8, wrongMode: 0 });
    expect(collapsed.energy).toBeGreaterThan(0.3);
    // Every point lands in a mode the label does not own, or (~1.1% beyond 3 std) off every mode.
    const wrong = toyReport(RING, 'north-south', sample(RING, 'east-west', 500, 17));
    expect(wrong.covered).toBe(0);
    expect(wrong.wrongMode + wrong.offMode).toBeCloseTo(1, 12);
    expect(wrong.wrongMode).toBeGreaterThan(0.95);
  });
});
