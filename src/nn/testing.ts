// Test helpers shared by every op and module test: one allclose, a finite-difference check of the
// float64 references, and checkOp, which runs an op's GPU forward and backward against its reference.
// They run the same in Node (Dawn) and in the browser (navigator.gpu).
import { acquireBrowserGpu } from '../gpu/device';
import { Engine } from './engine';
import { host, type HostTensor, toF32 } from './host';
import { backward, type DType, fromArray, type Tensor, tidy } from './tensor';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export class AllcloseError extends Error {}

/** Throws unless |actual - expected| <= atol + rtol * |expected| everywhere; the message names the worst index. */
export function allclose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, label = 'values'): void {
  if (actual.length !== expected.length) throw new AllcloseError(`${label}: ${actual.length} values, expected ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0)) {
      bad++;
      // NaN compares false everywhere: count it as infinitely bad.
      const size = Number.isNaN(excess) ? Infinity : excess;
      if (worst < 0 || size > worstExcess) {
        worst = i;
        worstExcess = size;
      }
    }
  }
  if (worst >= 0) {
    throw new AllcloseError(
      `${label}: ${bad} of ${actual.length} values differ; worst at index ${worst}: got ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

/**
 * GPU-vs-float64 tolerance for a value that sums `k` float32 products: the rounding error of a sum grows
 * like sqrt(k) (measured: ~1e-5 at k = 256 for unit-variance inputs), so atol does too.
 */
export function tolerance(k = 1, scale = 1): Tolerance {
  return { atol: 4e-6 * Math.sqrt(k) * scale, rtol: 2e-4 };
}

/** A float64 reference of an op: forward, and the gradient of every input given the output's. */
export interface Reference {
  forward(inputs: readonly HostTensor[]): HostTensor;
  backward(inputs: readonly HostTensor[], gradOutput: HostTensor): readonly (HostTensor | null)[];
}

/**
 * Checks a reference's backward against central finite differences of its forward, in float64:
 * L(x) = sum(dy * f(x)) for a fixed random dy, dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h.
 */
export function checkReferenceGradient(reference: Reference, inputs: readonly HostTensor[], gradOutput: HostTensor, differentiable: readonly boolean[]): void {
  const loss = (xs: readonly HostTensor[]) => {
    const y = reference.forward(xs);
    let sum = 0;
    for (let i = 0; i < y.data.length; i++) sum += y.data[i]! * gradOutput.data[i]!;
    return sum;
  };
  const analytic = reference.backward(inputs, gradOutput);
  inputs.forEach((input, k) => {
    if (!differentiable[k]) return;
    const grad = analytic[k];
    if (!grad) throw new Error(`reference backward returned no gradient for input ${k}`);
    const numeric = new Float64Array(input.data.length);
    for (let i = 0; i < input.data.length; i++) {
      const h = 1e-6 * Math.max(1, Math.abs(input.data[i]!));
      const shifted = (delta: number) => inputs.map((t, j) => (j === k ? { shape: t.shape, data: Float64Array.from(t.data, (v, m) => (m === i ? v + delta : v)) } : t));
      numeric[i] = (loss(shifted(h)) - loss(shifted(-h))) / (2 * h);
    }
    allclose(grad.data, numeric, { atol: 1e-6, rtol: 1e-5 }, `reference gradient of input ${k} vs finite differences`);
  });
}

export interface OpCheck {
  inputs: readonly HostTensor[];
  /** Per input: false for inputs without a gradient (indices, masks). Default: all true. */
  differentiable?: readonly boolean[];
  dtypes?: readonly DType[];
  gpu: (inputs: readonly Tensor[]) => Tensor;
  reference: Reference;
  /** Length of the longest sum behind one output (e.g. K of a matmul), for the tolerance. */
  k?: number;
  forwardTolerance?: Tolerance;
  backwardTolerance?: Tolerance;
  /** The seed of the random upstream gradient. */
  seed?: number;
}

/** Reference vs finite differences; GPU forward vs reference; GPU backward vs reference backward. */
export async function checkOp(engine: Engine, check: OpCheck): Promise<void> {
  const differentiable = check.differentiable ?? check.inputs.map(() => true);
  const inputs = check.inputs.map((t, i) => ((check.dtypes?.[i] ?? 'f32') === 'f32' ? toF32(t) : t));
  const expected = check.reference.forward(inputs);
  const gradOutput = toF32(randnLike(expected.shape, check.seed ?? 7));
  if (differentiable.some(Boolean)) checkReferenceGradient(check.reference, inputs, gradOutput, differentiable);
  const expectedGrads = differentiable.some(Boolean) ? check.reference.backward(inputs, gradOutput) : [];

  const kept = tidy(engine, () => {
    const tensors = inputs.map((t, i) => {
      const tensor = fromArray(engine, t.shape, t.data, check.dtypes?.[i] ?? 'f32', `input${i}`);
      tensor.requiresGrad = differentiable[i]!;
      return tensor;
    });
    const y = check.gpu(tensors);
    if (!differentiable.some(Boolean)) return { y, grads: [] as (Tensor | null)[] };
    const grads = backward(y, fromArray(engine, gradOutput.shape, gradOutput.data, 'f32', 'dy'));
    return { y, grads: tensors.map((t, i) => (differentiable[i] ? (grads.get(t) ?? null) : null)) };
  });
  try {
    const forwardTol = check.forwardTolerance ?? tolerance(check.k);
    if (kept.y.shape.join(',') !== expected.shape.join(',')) {
      throw new AllcloseError(`forward: shape [${kept.y.shape.join(', ')}], expected [${expected.shape.join(', ')}]`);
    }
    allclose(await kept.y.read(), expected.data, forwardTol, 'GPU forward vs reference');
    for (let i = 0; i < inputs.length; i++) {
      if (!differentiable[i]) continue;
      const g = kept.grads[i];
      if (!g) throw new AllcloseError(`GPU backward produced no gradient for input ${i}`);
      allclose(await g.read(), expectedGrads[i]!.data, check.backwardTolerance ?? forwardTol, `GPU gradient of input ${i} vs reference`);
    }
  } finally {
    kept.y.dispose();
    for (const g of kept.grads) g?.dispose();
  }
}

function randnLike(shape: readonly number[], seed: number): HostTensor {
  const t = host(shape);
  let s = seed * 2654435761;
  for (let i = 0; i < t.data.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 2246822519) + 3266489917) >>> 0;
    t.data[i] = (s / 4294967296) * 2 - 1;
  }
  return t;
}

let shared: Promise<Engine> | undefined;

/** One engine per test process: Dawn in Node (adapter from SENSEFLOW_ADAPTER), navigator.gpu in a browser. */
export function testEngine(): Promise<Engine> {
  shared ??= (async () => {
    const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
    if (isNode) {
      const { acquireNodeGpu } = await import('../gpu/node');
      return new Engine(await acquireNodeGpu());
    }
    return new Engine(await acquireBrowserGpu({ label: 'test' }));
  })();
  return shared;
}
