// The Frechet distance between two sets of feature vectors, each summarised as a Gaussian (mean, covariance):
// FID's formula (Heusel et al. 2017), on the attribute evaluator's features instead of Inception's.
//   FD = |mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))
// C1 C2 is not symmetric, so its square root is taken through a symmetric matrix with the same eigenvalues:
//   tr((C1 C2)^(1/2)) = tr((C1^(1/2) C2 C1^(1/2))^(1/2)) = sum_i sqrt(lambda_i(C1^(1/2) C2 C1^(1/2)))
// with C1^(1/2) = V diag(sqrt(lambda)) V^T from C1's eigendecomposition. Both eigendecompositions are cyclic Jacobi
// (symmetricEigen), in float64. Eigenvalues that rounding pushes slightly below 0 (a covariance from fewer samples
// than dimensions is singular) are clamped to 0. Covariances are unbiased (divide by N - 1), as numpy.cov and
// pytorch-fid. Cost: O(N d^2) for the covariances, ~10 Jacobi sweeps of O(d^3) each: d = 96 takes milliseconds.

/** N vectors of d values, row-major (a HostTensor [N, d], or features read back from the GPU). */
export interface FeatureMatrix {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export interface GaussianStatistics {
  dim: number;
  count: number;
  mean: Float64Array;
  /** [d, d] row-major. */
  covariance: Float64Array;
}

function dimsOf(features: FeatureMatrix, what: string): [number, number] {
  const [count, dim] = features.shape;
  if (features.shape.length !== 2 || count === undefined || dim === undefined || count * dim !== features.data.length) {
    throw new Error(`frechetDistance: ${what} must be [N, d] with N * d values, got shape [${features.shape.join(', ')}] and ${features.data.length} values`);
  }
  if (count < 2) throw new Error(`frechetDistance: ${what} has ${count} vector(s); a covariance needs at least 2`);
  return [count, dim];
}

export function gaussianStatistics(features: FeatureMatrix, what = 'features'): GaussianStatistics {
  const [count, dim] = dimsOf(features, what);
  const x = features.data;
  const mean = new Float64Array(dim);
  for (let n = 0; n < count; n++) for (let i = 0; i < dim; i++) mean[i] = mean[i]! + x[n * dim + i]!;
  for (let i = 0; i < dim; i++) mean[i] = mean[i]! / count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < dim; i++) centred[i] = x[n * dim + i]! - mean[i]!;
    for (let i = 0; i < dim; i++) {
      const ci = centred[i]!;
      for (let j = i; j < dim; j++) covariance[i * dim + j] = covariance[i * dim + j]! + ci * centred[j]!;
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const value = covariance[i * dim + j]! / (count - 1);
      covariance[i * dim + j] = value;
      covariance[j * dim + i] = value;
    }
  }
  return { dim, count, mean, covariance };
}

export interface SymmetricEigen {
  /** Eigenvalues, unsorted. */
  values: Float64Array;
  /** [n, n] row-major; column k is the unit eigenvector of values[k]. */
  vectors: Float64Array;
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix [n, n] by the cyclic Jacobi method (Golub & Van Loan, Matrix
 * Computations, 8.5): each rotation zeroes one off-diagonal pair; sweeps repeat until the off-diagonal mass is
 * below 1e-22 of the total (quadratic convergence: typically 6-10 sweeps). Only the upper triangle is read.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (matrix.length !== n * n) throw new Error(`symmetricEigen: ${matrix.length} values for a ${n}x${n} matrix`);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = matrix[i * n + j]!;
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i]! * a[i]!;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += 2 * a[p * n + q]! ** 2;
    if (off <= 1e-22 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        // The rotation angle that zeroes a[p][q]: t = tan(theta), the smaller root of t^2 + 2 tau t - 1 = 0.
        const tau = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // A <- A J (columns p, q), then J^T A (rows p, q); V <- V J.
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

/** The symmetric square root V diag(sqrt(max(lambda, 0))) V^T of a symmetric positive semi-definite matrix. */
export function symmetricSqrt(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const root = Math.sqrt(Math.max(values[k]!, 0));
    if (root === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k]! * root;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + vik * vectors[j * n + k]!;
    }
  }
  return out;
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + aik * b[k * n + j]!;
    }
  }
  return out;
}

/** tr((C1 C2)^(1/2)) through the symmetric C1^(1/2) C2 C1^(1/2) (see the header). */
export function traceSqrtProduct(c1: Float64Array, c2: Float64Array, n: number): number {
  const root = symmetricSqrt(c1, n);
  const product = multiply(multiply(root, c2, n), root, n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) product[i * n + j] = product[j * n + i] = (product[i * n + j]! + product[j * n + i]!) / 2;
  const { values } = symmetricEigen(product, n);
  return values.reduce((sum, lambda) => sum + Math.sqrt(Math.max(lambda, 0)), 0);
}

export function frechetDistanceFromStatistics(a: GaussianStatistics, b: GaussianStatistics): number {
  if (a.dim !== b.dim) throw new Error(`frechetDistance: the feature sets have ${a.dim} and ${b.dim} dimensions`);
  const n = a.dim;
  let meanTerm = 0;
  let traces = 0;
  for (let i = 0; i < n; i++) {
    meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
    traces += a.covariance[i * n + i]! + b.covariance[i * n + i]!;
  }
  // Rounding can leave a distance between a set and itself a hair below 0; a distance is not negative.
  return Math.max(0, meanTerm + traces - 2 * traceSqrtProduct(a.covariance, b.covariance, n));
}

/** The Frechet distance between the Gaussians fitted to featuresA [N, d] and featuresB [M, d]. */
export function frechetDistance(featuresA: FeatureMatrix, featuresB: FeatureMatrix): number {
  return frechetDistanceFromStatistics(gaussianStatistics(featuresA, 'featuresA'), gaussianStatistics(featuresB, 'featuresB'));
}
