import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { randn } from '../host';
import { allclose, checkOp, testEngine, tolerance } from '../testing';
import { backward, fromArray, noGrad, tidy } from '../tensor';
import { type Activation, activationReference, linear, linearReference } from './linear';
import { MATMUL_VARIANTS, type MatmulVariant, setMatmulVariant } from './matmul';
import { sum } from './reduce';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});
afterEach(() => setMatmulVariant(null));

const ACTIVATIONS: Activation[] = ['none', 'gelu', 'silu'];

// x[B, T, IN] @ w[IN, OUT]: odd sizes for the general kernels; multiples of 4 (not of the 8x8 block or
// the workgroup) for the vec4 one, which would otherwise fall back to the scalar kernel.
const SHAPES: Record<MatmulVariant, { x: number[]; out: number }> = {
  register: { x: [3, 5, 7], out: 9 },
  'register-vec4': { x: [2, 6, 8], out: 12 },
  tiled: { x: [3, 13, 7], out: 37 },
};

describe.each(MATMUL_VARIANTS)('variant %s', (variant) => {
  const cases = ACTIVATIONS.flatMap((activation) => [true, false].map((hasBias) => [activation, hasBias] as const));
  it.each(cases)('activation %s, bias %s: fused forward, backward through z', async (activation, hasBias) => {
    setMatmulVariant(variant);
    const { x, out } = SHAPES[variant];
    const IN = x.at(-1)!;
    await checkOp(engine, {
      inputs: [randn(x, 1), randn([IN, out], 2, 0.5), ...(hasBias ? [randn([out], 3)] : [])],
      gpu: ([x, w, b]) => linear(x!, w!, b ?? null, activation),
      reference: linearReference(activation, hasBias),
      k: Math.max(IN, x.slice(0, -1).reduce((a, b) => a * b, 1)),
    });
  });
});

it('takes a single row x[IN]', async () => {
  await checkOp(engine, {
    inputs: [randn([6], 4), randn([6, 5], 5), randn([5], 6)],
    gpu: ([x, w, b]) => linear(x!, w!, b!, 'gelu'),
    reference: linearReference('gelu', true),
    k: 6,
  });
});

it('GELU and SiLU saturate without NaN at large |z|', async () => {
  const z = [-200, -30, -10, 0, 10, 30, 200];
  for (const activation of ['gelu', 'silu'] as const) {
    const { y, grad } = tidy(engine, () => {
      const x = fromArray(engine, [z.length, 1], z, 'f32', 'x');
      x.requiresGrad = true;
      const w = fromArray(engine, [1, 1], [1], 'f32', 'w');
      const y = linear(x, w, null, activation);
      const grads = backward(sum(y));
      return { y, grad: grads.get(x)! };
    });
    allclose(await y.read(), z.map((v) => activationReference(activation, v)[0]), tolerance(1), `${activation}(z)`);
    allclose(await grad.read(), z.map((v) => activationReference(activation, v)[1]), tolerance(1), `${activation}'(z)`);
    y.dispose();
    grad.dispose();
  }
});

it('saves the pre-activation only when a gradient is recorded', () => {
  tidy(engine, () => {
    const x = fromArray(engine, [4, 8], new Float32Array(32), 'f32', 'x');
    const w = fromArray(engine, [8, 4], new Float32Array(32), 'f32', 'w');
    w.requiresGrad = true;
    const live = () => engine.stats().liveBuffers;
    let before = live();
    linear(x, w, null, 'gelu');
    expect(live() - before).toBe(2); // y and z
    before = live();
    noGrad(engine, () => linear(x, w, null, 'gelu'));
    expect(live() - before).toBe(1); // y only
    before = live();
    linear(x, w, null, 'none');
    expect(live() - before).toBe(1);
  });
});

describe('errors', () => {
  const shaped = (shape: number[], label: string) => fromArray(engine, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)), 'f32', label);
  it('names the weight and the bias and the shapes they must have', () => {
    tidy(engine, () => {
      expect(() => linear(shaped([2, 5], 'x'), shaped([4, 3], 'w'))).toThrow('linear: weight must be [5, OUT] for x x[2, 5], got w[4, 3]');
      expect(() => linear(shaped([2, 5], 'x'), shaped([5], 'w'))).toThrow('linear: weight must be [5, OUT]');
      expect(() => linear(shaped([2, 5], 'x'), shaped([5, 3], 'w'), shaped([4], 'b'))).toThrow('linear: bias must be [3] for weight w[5, 3], got b[4]');
      expect(() => linear(shaped([2, 5], 'x'), shaped([5, 3], 'w'), null, 'relu' as Activation)).toThrow('linear: activation must be one of none, gelu, silu, got relu');
    });
  });
});
