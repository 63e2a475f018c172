// Batched matrix multiply with numpy batch broadcasting and optional transposes, and the kernel choice
// shared with linear (which adds a fused bias + activation epilogue to the same kernels).
// a[...batch, M, K] (or [..., K, M] with transA) @ b[...batch, K, N] (or [..., N, K] with transB) -> y[...batch, M, N]
//
// Kernels (src/kernels/matmul_*.wgsl, each with matmul_common.wgsl prepended):
// - 'register-vec4': one invocation per 8x8 block of C, vec4 loads, no workgroup memory; M, N, K % 4 == 0.
// - 'register':      one invocation per 4x4 block, scalar loads and clamped edges, any M, N, K.
// - 'tiled':         TF.js-style 8x8 workgroups staging 32x32 tiles of A and B in workgroup memory.
// CPU adapters (SwiftShader, llvmpipe) get the register kernels (vec4 where the dims allow): there a
// workgroup barrier is a fiber switch per invocation. GPUs get 'tiled'. setMatmulVariant() forces one
// (the tests run every kernel on every adapter that way).
//
// Measured GFLOP/s (bench/matmul.measure.test.ts: forward products, best of 3 runs of ~0.5 s each, on
// 2 CPU cores shared with other jobs, so +-30%):
//                                          SwiftShader (Subzero)         llvmpipe (LLVM 15, 256-bit)
//                                        register   vec4   tiled       register   vec4   tiled
//   qkv      256x128 @ 128x384               0.98   1.66    0.25           4.39  13.00    2.27
//   mlp up   256x128 @ 128x512               0.93   1.64    0.18           2.26  14.41    2.49
//   mlp down 256x512 @ 512x128               0.86   1.70    0.29           4.67  15.11    2.63
//   qkv dX   256x384 @ (128x384)^T           0.90   1.61    0.31           4.10   9.80    1.69
//   qkv dW   (256x128)^T @ 256x384           0.90   1.61    0.32           2.54  12.06    2.08
//   scores   8 x 80x32 @ (80x32)^T           0.74   1.07    0.09           2.03   5.34    0.95
//   values   8 x 80x80 @ 80x32               0.81   1.37    0.15           2.67   6.45    1.08
//   512^3                                    1.08   1.66    0.39           4.52  15.14    2.61
//   1024^3                                      -      -       -           3.33  12.61    2.12
//
// Backward: dA = dY @ B^T and dB = A^T @ dY through the same kernels with the transpose flags (no
// transposed copies), summed back over broadcast batch dims. When b is one matrix shared by every
// batch entry (a weight) and a is not transposed, the batch is folded into M (one [batch*M, K] @ [K, N]
// dispatch), and dB = A^T @ dY becomes one [K, batch*M] @ [batch*M, N] product instead of a batched
// product and a sum.
import commonSource from '../../kernels/matmul_common.wgsl?raw';
import registerSource from '../../kernels/matmul_register.wgsl?raw';
import registerVec4Source from '../../kernels/matmul_register_vec4.wgsl?raw';
import tiledSource from '../../kernels/matmul_tiled.wgsl?raw';
import type { Engine, Kernel, ParamType } from '../engine';
import { broadcastShapes, host, type HostTensor, stridesOf } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, isCpuAdapter, output, pad6 } from './common';
import { sumTo, sumToReference } from './reduce';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

export type MatmulVariant = 'register' | 'register-vec4' | 'tiled';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['register', 'register-vec4', 'tiled'];

const PARAMS: Record<string, ParamType> = Object.fromEntries(
  ['M', 'N', 'K', 'batch1', 'batch2', 'batch3', ...['a', 'b'].flatMap((x) => [0, 1, 2, 3].map((i) => `${x}_stride${i}`))].map((n) => [n, 'u32' as const]),
);
const KERNELS: Record<MatmulVariant, Kernel> = {
  register: { label: 'matmul_register', code: commonSource + registerSource, params: PARAMS },
  'register-vec4': { label: 'matmul_register_vec4', code: commonSource + registerVec4Source, params: PARAMS },
  tiled: { label: 'matmul_tiled', code: commonSource + tiledSource, params: PARAMS },
};
/**
 * Workgroup shape and outputs per workgroup [columns, rows] of each kernel for an N-column output. The
 * register kernels use one row of invocations (see matmul_register_vec4.wgsl for why), 16 wide, or
 * narrower when N is small so that fewer invocations idle past the last column (N = 32: 4 of 16).
 */
function geometry(variant: MatmulVariant, N: number): { constants: Record<string, number>; perWorkgroup: [number, number] } {
  if (variant === 'tiled') return { constants: {}, perWorkgroup: [32, 32] };
  const block = variant === 'register' ? 4 : 8; // rows and columns per invocation
  const width = Math.min(16, Math.max(4, 2 ** Math.ceil(Math.log2(Math.ceil(N / block)))));
  return { constants: { WG_X: width }, perWorkgroup: [block * width, block] };
}

let forcedVariant: MatmulVariant | null = null;

/** Forces one kernel for every matmul and linear (null: choose per adapter). 'register-vec4' still falls back to 'register' on dims that are not multiples of 4. */
export function setMatmulVariant(variant: MatmulVariant | null): void {
  forcedVariant = variant;
}

export { isCpuAdapter };

/** The kernel a problem gets: the forced one or the adapter's, then 'register' where vec4 loads do not fit. */
export function chooseMatmulVariant(engine: Engine, M: number, N: number, K: number, requested: MatmulVariant | null = forcedVariant): MatmulVariant {
  const variant = requested ?? (isCpuAdapter(engine) ? 'register-vec4' : 'tiled');
  return variant === 'register-vec4' && (M % 4 !== 0 || N % 4 !== 0 || K % 4 !== 0) ? 'register' : variant;
}

export interface Epilogue {
  bias: Tensor | null;
  activation: number; // 0 none, 1 GELU, 2 SiLU (matmul_common.wgsl)
  /** Where to write Z = A @ B + bias (before the activation), or null. */
  preactivation: Tensor | null;
}

/** One matmul dispatch, with the geometry already worked out. Batch dims: at most 4. */
export interface MatmulProblem {
  a: Tensor;
  b: Tensor;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  /** The output's batch dims (C is dense [...batch, M, N]), and A's and B's element strides along them (0: broadcast). */
  batch: readonly number[];
  aStrides: readonly number[];
  bStrides: readonly number[];
}

const unusedOutputs = new WeakMap<Engine, GPUBuffer>();

/** Encodes C = op(A) @ op(B) (+ the epilogue) into `out`, which must hold batch*M*N values. */
export function encodeMatmul(problem: MatmulProblem, out: Tensor, epilogue: Epilogue | null = null, variant: MatmulVariant | null = forcedVariant): void {
  const { a, b, M, N, K, batch } = problem;
  const engine = a.engine;
  const count = batch.reduce((x, y) => x * y, 1);
  if (M === 0 || N === 0 || count === 0) return;
  if (batch.length > 4) throw new Error(`matmul: at most 4 batch dims, got [${batch.join(', ')}]`);
  const chosen = chooseMatmulVariant(engine, M, N, K, variant);
  const dims = pad6(batch, 1).slice(2);
  const aStrides = pad6(problem.aStrides, 0).slice(2);
  const bStrides = pad6(problem.bStrides, 0).slice(2);
  const params: Record<string, number> = { M, N, K, batch1: dims[1]!, batch2: dims[2]!, batch3: dims[3]! };
  for (let i = 0; i < 4; i++) {
    params[`a_stride${i}`] = aStrides[i]!;
    params[`b_stride${i}`] = bStrides[i]!;
  }
  let unused = unusedOutputs.get(engine);
  if (!unused) {
    // Outside the pool, so that pool accounting (leak checks) does not see it.
    unused = engine.device.createBuffer({ label: 'matmul.unused', size: 16, usage: GPUBufferUsage.STORAGE });
    unusedOutputs.set(engine, unused);
  }
  const shape = geometry(chosen, N);
  const constants: Record<string, number> = {
    TRANS_A: problem.transA ? 1 : 0,
    TRANS_B: problem.transB ? 1 : 0,
    HAS_BIAS: epilogue?.bias ? 1 : 0,
    SAVE_PREACTIVATION: epilogue?.preactivation ? 1 : 0,
    ACTIVATION: epilogue?.activation ?? 0,
    ...shape.constants,
  };
  const [perX, perY] = shape.perWorkgroup;
  engine.dispatch(KERNELS[chosen], {
    // An absent bias binds B (read-only, never read); an absent preactivation a scratch buffer (never written).
    bindings: [a.buffer, b.buffer, epilogue?.bias?.buffer ?? b.buffer, out.buffer, epilogue?.preactivation?.buffer ?? unused],
    params,
    workgroups: [Math.ceil(N / perX), Math.ceil(M / perY), count],
    constants,
  });
}

/** "a must be [..., M, K]" (or "[..., K, M]" when transposed), for error messages. */
function expected(name: string, transposed: boolean, rows: string, cols: string): string {
  return `${name}${transposed ? ' (transposed)' : ''} must be [..., ${transposed ? cols : rows}, ${transposed ? rows : cols}]`;
}

/** Shapes, batch broadcasting and strides of a @ b; folds a's batch into M when b is a shared matrix. */
export function planMatmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): { problem: MatmulProblem; outShape: number[] } {
  assertF32(a, 'matmul: a');
  assertF32(b, 'matmul: b');
  if (a.rank < 2) throw new Error(`matmul: ${expected('a', transA, 'M', 'K')}, got ${a.describe()}`);
  if (b.rank < 2) throw new Error(`matmul: ${expected('b', transB, 'K', 'N')}, got ${b.describe()}`);
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [a1, a0] : [a0, a1];
  const [Kb, N] = transB ? [b1, b0] : [b0, b1];
  if (Kb !== K) throw new Error(`matmul: ${expected('b', transB, String(K), 'N')} to match a ${a.describe()}${transA ? ' (transposed)' : ''}, got ${b.describe()}`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes(aBatch, bBatch);
  } catch {
    throw new Error(`matmul: batch dims of a ${a.describe()} and b ${b.describe()} do not broadcast`);
  }
  const outShape = [...batch, M, N];
  const size = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  const bShared = size(bBatch) === 1;
  if (bShared && !transA && size(aBatch) === size(batch)) {
    // Every batch entry of a times the same matrix: one [batch*M, K] @ [K, N] product.
    return { problem: { a, b, M: size(batch) * M, N, K, transA, transB, batch: [], aStrides: [], bStrides: [] }, outShape };
  }
  if (batch.length > 4) throw new Error(`matmul: at most 4 batch dims, got a ${a.describe()} and b ${b.describe()}`);
  const strides = (shape: readonly number[], matrix: number) => {
    const padded = [...new Array<number>(batch.length - shape.length).fill(1), ...shape];
    const s = stridesOf(padded);
    return padded.map((d, i) => (d === 1 ? 0 : s[i]! * matrix));
  };
  return { problem: { a, b, M, N, K, transA, transB, batch, aStrides: strides(aBatch, M * K), bStrides: strides(bBatch, K * N) }, outShape };
}

export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const { problem, outShape } = planMatmul(a, b, transA, transB);
  const y = output(a.engine, outShape, 'matmul');
  encodeMatmul(problem, y, null);
  return record(y, [a, b], (dy) => [a.requiresGrad ? matmulGradA(a, b, dy, transA, transB) : null, b.requiresGrad ? matmulGradB(a, b, dy, transA, transB) : null]);
}

/** dA = dY @ B^T, stored like a (transposed when transA), summed over a's broadcast batch dims. */
function matmulGradA(a: Tensor, b: Tensor, dy: Tensor, transA: boolean, transB: boolean): Tensor {
  const g = transA ? matmul(b, dy, { transA: transB, transB: true }) : matmul(dy, b, { transB: !transB });
  return sumTo(g, a.shape);
}

/** dB = A^T @ dY, stored like b (transposed when transB), summed over b's broadcast batch dims. */
function matmulGradB(a: Tensor, b: Tensor, dy: Tensor, transA: boolean, transB: boolean): Tensor {
  const batchOf = (t: Tensor) => t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  if (b.rank === 2 && !transA && batchOf(a) > 1 && batchOf(a) === batchOf(dy)) {
    // b shared by the batch: fold the batch into the contraction, one [K, batch*M] @ [batch*M, N] product.
    const K = a.shape.at(-1)!;
    const N = dy.shape.at(-1)!;
    const a2 = a.view([a.size / K, K]);
    const dy2 = dy.view([dy.size / N, N]);
    try {
      return transB ? matmul(dy2, a2, { transA: true }) : matmul(a2, dy2, { transA: true });
    } finally {
      a2.dispose();
      dy2.dispose();
    }
  }
  const g = transB ? matmul(dy, a, { transA: true, transB: transA }) : matmul(a, dy, { transA: !transA });
  return sumTo(g, b.shape);
}

// ---- float64 reference ----

/** op(a) @ op(b) with batch broadcasting, in float64. */
export function matmulHost(a: HostTensor, b: HostTensor, transA = false, transB = false): HostTensor {
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [a1, a0] : [a0, a1];
  const N = transB ? b0 : b1;
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = host([...batch, M, N]);
  const count = batch.reduce((x, y) => x * y, 1);
  const batchStrides = stridesOf(batch);
  const offset = (shape: readonly number[], z: number, matrix: number) => {
    let o = 0;
    const rank = shape.length - 2;
    for (let d = 0; d < rank; d++) {
      const c = Math.floor(z / batchStrides[batch.length - rank + d]!) % batch[batch.length - rank + d]!;
      o += (shape[d] === 1 ? 0 : c) * stridesOf(shape.slice(0, -2))[d]! * matrix;
    }
    return o;
  };
  for (let z = 0; z < count; z++) {
    const ao = offset(a.shape, z, M * K);
    const bo = offset(b.shape, z, K * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[ao + (transA ? k * M + m : m * K + k)]! * b.data[bo + (transB ? n * K + k : k * N + n)]!;
        out.data[(z * M + m) * N + n] = s;
      }
    }
  }
  return out;
}

export function matmulReference(options: MatmulOptions = {}): Reference {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  return {
    forward: ([a, b]) => matmulHost(a!, b!, transA, transB),
    backward: ([a, b], dy) => [
      sumToReference(transA ? matmulHost(b!, dy, transB, true) : matmulHost(dy, b!, false, !transB), a!.shape),
      sumToReference(transB ? matmulHost(dy, a!, true, transA) : matmulHost(a!, dy, !transA, false), b!.shape),
    ],
  };
}

// linear (nn/ops/linear.ts) shares these kernels; re-exported for callers that import the matmul family from here.
export { type Activation, linear, linearReference } from './linear';
