import { describe, expect, it } from 'vitest';
import { mulberry32, randn } from '../nn/host';
import { allclose } from '../nn/testing';
import { frechetDistance, frechetDistanceFromStatistics, type GaussianStatistics, gaussianStatistics, symmetricEigen, symmetricSqrt, traceSqrtProduct } from './frechet';

/** A random symmetric positive definite [n, n] matrix A A^T / n + eps I. */
function randomCovariance(n: number, seed: number): Float64Array {
  const a = randn([n, n], seed).data;
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) c[i * n + j] = c[i * n + j]! + (a[i * n + k]! * a[j * n + k]!) / n;
  for (let i = 0; i < n; i++) c[i * n + i] = c[i * n + i]! + 0.01;
  return c;
}

function statistics(mean: number[], covariance: Float64Array): GaussianStatistics {
  return { dim: mean.length, count: 100, mean: Float64Array.from(mean), covariance };
}

function diagonal(values: number[]): Float64Array {
  const n = values.length;
  const m = new Float64Array(n * n);
  values.forEach((v, i) => (m[i * n + i] = v));
  return m;
}

describe('symmetricEigen (Jacobi)', () => {
  it('reconstructs A = V diag(lambda) V^T with orthonormal V, for n = 1, 2, 7 and 40', () => {
    for (const n of [1, 2, 7, 40]) {
      const a = randomCovariance(n, n);
      const { values, vectors: v } = symmetricEigen(a, n);
      const rebuilt = new Float64Array(n * n);
      const gram = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          for (let k = 0; k < n; k++) {
            rebuilt[i * n + j] = rebuilt[i * n + j]! + v[i * n + k]! * values[k]! * v[j * n + k]!;
            gram[i * n + j] = gram[i * n + j]! + v[k * n + i]! * v[k * n + j]!;
          }
        }
      }
      allclose(rebuilt, a, { atol: 1e-12, rtol: 1e-10 }, `V diag V^T, n = ${n}`);
      allclose(gram, diagonal(new Array<number>(n).fill(1)), { atol: 1e-12, rtol: 0 }, `V^T V, n = ${n}`);
    }
  });

  it('finds the eigenvalues of a matrix with a known spectrum (a rotated diagonal, a repeated eigenvalue)', () => {
    // R diag(3, 1, 1) R^T for a rotation R about the z axis by 0.7 rad, then about x by 0.3.
    const [c1, s1, c2, s2] = [Math.cos(0.7), Math.sin(0.7), Math.cos(0.3), Math.sin(0.3)];
    const r = [c1, -s1 * c2, s1 * s2, s1, c1 * c2, -c1 * s2, 0, s2, c2];
    const d = [3, 1, 1];
    const a = new Float64Array(9);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) a[i * 3 + j] = a[i * 3 + j]! + r[i * 3 + k]! * d[k]! * r[j * 3 + k]!;
    const values = [...symmetricEigen(a, 3).values].sort((x, y) => x - y);
    allclose(values, [1, 1, 3], { atol: 1e-12, rtol: 0 });
  });

  it('squares back: sqrt(C) sqrt(C) = C', () => {
    const n = 12;
    const c = randomCovariance(n, 3);
    const root = symmetricSqrt(c, n);
    const square = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) square[i * n + j] = square[i * n + j]! + root[i * n + k]! * root[k * n + j]!;
    allclose(square, c, { atol: 1e-12, rtol: 1e-10 });
  });
});

describe('frechetDistanceFromStatistics', () => {
  it('has the closed form |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2 for diagonal covariances', () => {
    const a = [4, 1, 0.25, 9];
    const b = [1, 1, 1, 0.01];
    const fd = frechetDistanceFromStatistics(statistics([0, 1, 2, 3], diagonal(a)), statistics([1, 1, 0, 3], diagonal(b)));
    const expected = 1 + 4 + a.reduce((sum, ai, i) => sum + (Math.sqrt(ai) - Math.sqrt(b[i]!)) ** 2, 0);
    allclose([fd], [expected], { atol: 1e-12, rtol: 1e-12 });
  });

  it('matches the 2x2 closed form tr sqrt(C1 C2) = sqrt(tr(C1 C2) + 2 sqrt(det C1 det C2)) for non-commuting covariances', () => {
    const c1 = Float64Array.from([2, 0.8, 0.8, 1]);
    const c2 = Float64Array.from([0.5, -0.3, -0.3, 3]);
    const trace = c1[0]! * c2[0]! + c1[1]! * c2[2]! + c1[2]! * c2[1]! + c1[3]! * c2[3]!;
    const det = (m: Float64Array) => m[0]! * m[3]! - m[1]! * m[2]!;
    const expectedTraceSqrt = Math.sqrt(trace + 2 * Math.sqrt(det(c1) * det(c2)));
    allclose([traceSqrtProduct(c1, c2, 2)], [expectedTraceSqrt], { atol: 1e-13, rtol: 1e-13 });
    const fd = frechetDistanceFromStatistics(statistics([0, 0], c1), statistics([0, 0], c2));
    allclose([fd], [2 + 1 + 0.5 + 3 - 2 * expectedTraceSqrt], { atol: 1e-12, rtol: 1e-12 });
  });

  it('is symmetric and zero between a distribution and itself, for a full 96-dimensional covariance', () => {
    const c1 = randomCovariance(96, 5);
    const c2 = randomCovariance(96, 6);
    const mean = Array.from({ length: 96 }, (_, i) => Math.sin(i));
    const [a, b] = [statistics(mean, c1), statistics(mean.map((m) => m + 0.1), c2)];
    allclose([frechetDistanceFromStatistics(a, b)], [frechetDistanceFromStatistics(b, a)], { atol: 1e-9, rtol: 1e-9 });
    expect(frechetDistanceFromStatistics(a, a)).toBeLessThan(1e-9);
    expect(frechetDistanceFromStatistics(a, b)).toBeGreaterThan(0.96); // at least the mean term, 96 * 0.01
  });
});

describe('frechetDistance on feature sets', () => {
  const features = (count: number, dim: number, seed: number, shift = 0) => {
    const x = randn([count, dim], seed);
    // Correlate the dimensions so the covariance is not diagonal.
    for (let n = 0; n < count; n++) for (let i = 1; i < dim; i++) x.data[n * dim + i] = x.data[n * dim + i]! + 0.5 * x.data[n * dim + i - 1]!;
    for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i]! + shift * ((i % dim) + 1);
    return x;
  };

  it('is ~0 for identical sets', () => {
    const a = features(300, 16, 1);
    expect(frechetDistance(a, a)).toBeLessThan(1e-9);
  });

  it('is |mu1 - mu2|^2 for a set and its shifted copy (equal covariances)', () => {
    const a = features(300, 16, 2);
    const b = features(300, 16, 2, 0.25);
    const expected = Array.from({ length: 16 }, (_, i) => (0.25 * (i + 1)) ** 2).reduce((s, v) => s + v, 0);
    allclose([frechetDistance(a, b)], [expected], { atol: 1e-8, rtol: 1e-8 });
  });

  it('grows with the difference between distributions, and is small for two samples of one', () => {
    const same = frechetDistance(features(2000, 8, 3), features(2000, 8, 4));
    const scaled = features(2000, 8, 5);
    scaled.data = scaled.data.map((v) => 1.5 * v);
    const different = frechetDistance(features(2000, 8, 3), scaled);
    expect(same).toBeLessThan(0.1);
    expect(different).toBeGreaterThan(10 * same);
  });

  it('handles singular covariances (fewer samples than dimensions) without NaN', () => {
    const random = mulberry32(9);
    const a = { shape: [10, 40], data: Float64Array.from({ length: 400 }, () => random()) };
    const b = { shape: [12, 40], data: Float64Array.from({ length: 480 }, () => random()) };
    const fd = frechetDistance(a, b);
    expect(Number.isFinite(fd)).toBe(true);
    expect(fd).toBeGreaterThan(0);
  });

  it('computes the unbiased covariance (divides by N - 1, as numpy.cov)', () => {
    const stats = gaussianStatistics({ shape: [3, 2], data: [1, 2, 3, 4, 5, 9] });
    allclose(stats.mean, [3, 5], { atol: 1e-15, rtol: 0 });
    allclose(stats.covariance, [4, 7, 7, 13], { atol: 1e-12, rtol: 0 });
  });

  it('refuses malformed inputs, naming them', () => {
    expect(() => frechetDistance({ shape: [3, 2], data: [1, 2, 3] }, { shape: [2, 2], data: [1, 2, 3, 4] })).toThrow('featuresA must be [N, d] with N * d values');
    expect(() => frechetDistance({ shape: [1, 2], data: [1, 2] }, { shape: [2, 2], data: [1, 2, 3, 4] })).toThrow('featuresA has 1 vector(s)');
    expect(() => frechetDistance({ shape: [2, 2], data: [1, 2, 3, 4] }, { shape: [2, 1], data: [1, 2] })).toThrow('2 and 1 dimensions');
  });
});
