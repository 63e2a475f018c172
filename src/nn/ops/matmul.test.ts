import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { fromArray, tidy } from '../tensor';
import { chooseMatmulVariant, isCpuAdapter, matmul, matmulReference, MATMUL_VARIANTS, type MatmulVariant, setMatmulVariant } from './matmul';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterEach(() => setMatmulVariant(null));

/** Stored shapes of a and b for logical [M, K] @ [K, N] under the transposes. */
function operands(batchA: number[], batchB: number[], M: number, K: number, N: number, transA: boolean, transB: boolean): [number[], number[]] {
  return [
    [...batchA, ...(transA ? [K, M] : [M, K])],
    [...batchB, ...(transB ? [N, K] : [K, N])],
  ];
}

const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

/** checkOp of matmul; k: the longest sum behind an output or a gradient (max of M, K, N), for the tolerance. */
async function check(variant: MatmulVariant | null, shapes: [number[], number[]], transA: boolean, transB: boolean, k: number, seed = 1) {
  setMatmulVariant(variant);
  await checkOp(engine, {
    inputs: [randn(shapes[0], seed), randn(shapes[1], seed + 1)],
    gpu: ([a, b]) => matmul(a!, b!, { transA, transB }),
    reference: matmulReference({ transA, transB }),
    k,
  });
}

// Every kernel on this adapter (run the file with SENSEFLOW_ADAPTER=llvmpipe for the other one), per
// kernel a tall shape [M, K, N] past one workgroup's rows (register: 4, vec4: 8 with a last block of 4,
// tiled: 32 and one 32-deep K stage) and a wide one past one workgroup's columns (register: 64, vec4:
// 128 with a last block of 4, tiled: 32). Odd dims for the general kernels; multiples of 4 for the vec4
// one, which otherwise falls back to 'register'. Kept small: checkOp's finite-difference check of the
// reference costs (MK + KN) * 2MNK flops in JS.
const SHAPES: Record<MatmulVariant, [number, number, number][]> = {
  register: [[21, 9, 7], [3, 5, 67]],
  'register-vec4': [[20, 8, 4], [4, 12, 132]],
  tiled: [[35, 33, 6], [3, 5, 67]],
};
describe.each(MATMUL_VARIANTS)('variant %s', (variant) => {
  const cases = SHAPES[variant].flatMap((shape) => TRANSPOSES.map(([transA, transB]) => [shape, transA, transB] as const));
  it.each(cases)('%j transA %s transB %s, forward and backward', async ([M, K, N], transA, transB) => {
    await check(variant, operands([], [], M, K, N, transA, transB), transA, transB, Math.max(M, K, N));
  });
  it('batched with a shared weight (folded into M), transB', async () => {
    await check(variant, operands([2, 3], [], variant === 'register-vec4' ? 8 : 5, 12, 4, false, true), false, true, 48, 3);
  });
  it('batched on both sides (attention-like [B, H, T, D] @ [B, H, D, T])', async () => {
    await check(variant, operands([2, 3], [2, 3], 8, 4, 8, false, false), false, false, 8, 5);
  });
});

describe('batch broadcasting', () => {
  const CASES: [string, number[], number[], boolean, boolean][] = [
    ['a shared by a batched b', [], [3], false, false],
    ['a shared, transA', [], [2], true, false],
    ['batched a, transA, shared b (not folded)', [3], [], true, false],
    ['both broadcast on different dims', [2, 1], [1, 3], false, true],
    ['b with a leading 1 dim', [2, 2], [1], false, false],
    ['rank 6', [2, 1, 2, 1], [1, 2, 1, 2], true, true],
  ];
  it.each(CASES)('%s', async (_, batchA, batchB, transA, transB) => {
    await check(null, operands(batchA, batchB, 5, 3, 7, transA, transB), transA, transB, 7 * 6, 9);
  });
});

it('gives zeros for an empty inner dim, and empty outputs for empty outer dims', async () => {
  await check(null, operands([], [], 2, 0, 3, false, false), false, false, 3);
  await check(null, operands([2], [], 0, 3, 4, false, false), false, false, 4);
});

describe('kernel choice', () => {
  it('picks register kernels on CPU adapters and the tiled kernel on GPUs', () => {
    expect(chooseMatmulVariant(engine, 64, 64, 64, null)).toBe(isCpuAdapter(engine) ? 'register-vec4' : 'tiled');
    // Every test machine here is a CPU adapter (SwiftShader or llvmpipe).
    expect(isCpuAdapter(engine)).toBe(true);
  });
  it('falls back from vec4 loads when a dim is not a multiple of 4', () => {
    expect(chooseMatmulVariant(engine, 8, 8, 8, 'register-vec4')).toBe('register-vec4');
    for (const [M, N, K] of [[7, 8, 8], [8, 6, 8], [8, 8, 5]] as const) expect(chooseMatmulVariant(engine, M, N, K, 'register-vec4')).toBe('register');
    expect(chooseMatmulVariant(engine, 7, 7, 7, 'tiled')).toBe('tiled');
  });
});

describe('errors', () => {
  const shaped = (shape: number[], label: string) => fromArray(engine, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)), 'f32', label);
  it('names b and the inner dim it must have', () => {
    tidy(engine, () => {
      expect(() => matmul(shaped([2, 3, 5], 'x'), shaped([4, 7], 'w'))).toThrow('matmul: b must be [..., 5, N] to match a x[2, 3, 5], got w[4, 7]');
      expect(() => matmul(shaped([3, 5], 'x'), shaped([7, 4], 'w'), { transB: true })).toThrow('matmul: b (transposed) must be [..., N, 5] to match a x[3, 5], got w[7, 4]');
      expect(() => matmul(shaped([5, 3], 'x'), shaped([4, 7], 'w'), { transA: true })).toThrow('matmul: b must be [..., 5, N] to match a x[5, 3] (transposed), got w[4, 7]');
    });
  });
  it('refuses vectors and batch dims that do not broadcast', () => {
    tidy(engine, () => {
      expect(() => matmul(shaped([5], 'v'), shaped([5, 2], 'w'))).toThrow('matmul: a must be [..., M, K], got v[5]');
      expect(() => matmul(shaped([2, 3, 4], 'x'), shaped([3, 4, 5], 'y'))).toThrow('matmul: batch dims of a x[2, 3, 4] and b y[3, 4, 5] do not broadcast');
      const u = fromArray(engine, [2, 2], [1, 2, 3, 4], 'u32', 'idx');
      expect(() => matmul(u, shaped([2, 2], 'w'))).toThrow('matmul: a: expected an f32 tensor');
    });
  });
});
