import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from './engine';
import { randn, toF32 } from './host';
import { init, Module } from './module';
import { AdamW } from './optim';
import { clipGradNorm, cloneParameters, gradNorm, hasNonFinite, lerpParameters, parameterDistance } from './params';
import { fromArray, type Tensor, tidy } from './tensor';
import { allclose, testEngine, tolerance } from './testing';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

// Awkward sizes: nothing is a multiple of the workgroup (64) or of the reduction chunk (256).
class Head extends Module {
  readonly weight: Tensor;
  constructor(engine: Engine, seed: number, width: number) {
    super(engine);
    this.weight = this.param('weight', [width, 3], init.normal([width, 3], 1, seed));
  }
}

class Net extends Module {
  readonly embed: Tensor;
  readonly scale: Tensor;
  readonly head: Head;
  constructor(engine: Engine, seed: number, width = 67) {
    super(engine);
    this.embed = this.param('embed', [5, 67], init.normal([5, 67], 1, seed));
    this.scale = this.param('scale', [], [1.5 + seed]);
    this.head = this.child('head', new Head(engine, seed + 1, width));
  }
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const readAll = (m: Module) => Promise.all(m.parameters().map((t) => t.read()));

function withNets<T>(seeds: number[], fn: (...nets: Net[]) => Promise<T>): Promise<T> {
  const nets = seeds.map((s) => new Net(engine, s));
  return fn(...nets).finally(() => nets.forEach((n) => n.dispose()));
}

describe('cloneParameters', () => {
  it('copies every parameter by name, bit-exact', () =>
    withNets([1, 2], async (from, to) => {
      cloneParameters(from, to);
      expect((await readAll(to)).map(bits)).toEqual((await readAll(from)).map(bits));
    }));

  it('refuses a mismatched architecture naming the parameter and both shapes, and copies nothing', async () => {
    const from = new Net(engine, 1, 9);
    const to = new Net(engine, 2, 7);
    try {
      const before = await readAll(to);
      expect(() => cloneParameters(from, to)).toThrow('parameter "head.weight" has shape [9, 3] in the source but [7, 3] in the target');
      expect((await readAll(to)).map(bits)).toEqual(before.map(bits));
    } finally {
      from.dispose();
      to.dispose();
    }
  });

  it('refuses a parameter missing from one side', () =>
    withNets([1], async (net) => {
      class Bare extends Module {
        constructor(engine: Engine) {
          super(engine);
          this.param('embed', [5, 67], init.zeros([5, 67]));
        }
      }
      const bare = new Bare(engine);
      try {
        expect(() => cloneParameters(net, bare)).toThrow('parameter "scale" [] of the source is missing from the target');
        expect(() => cloneParameters(bare, net)).toThrow('parameter "head.weight" [67, 3] of the target is missing from the source');
      } finally {
        bare.dispose();
      }
    }));
});

describe('lerpParameters (IDA)', () => {
  it('lambda 1 leaves the target unchanged and lambda 0 copies the source, bit-exact', () =>
    withNets([1, 2], async (phi, theta) => {
      const phiBefore = await readAll(phi);
      const thetaBefore = await readAll(theta);
      lerpParameters(phi, theta, 1);
      expect((await readAll(phi)).map(bits)).toEqual(phiBefore.map(bits));
      lerpParameters(phi, theta, 0);
      expect((await readAll(phi)).map(bits)).toEqual(thetaBefore.map(bits));
      expect((await readAll(theta)).map(bits)).toEqual(thetaBefore.map(bits));
    }));

  it('matches lambda * phi + (1 - lambda) * theta in float64, and leaves the optimizer moments alone', () =>
    withNets([3, 4], async (phi, theta) => {
      const optimizer = new AdamW(engine, phi, { lr: 0.1 });
      for (const p of phi.parameters()) p.grad = fromArray(engine, p.shape, randn(p.shape, p.size).data);
      optimizer.step();
      optimizer.zeroGrad();
      const momentsBefore = (await optimizer.state()).moments;
      const [a, b] = [await readAll(phi), await readAll(theta)];
      lerpParameters(phi, theta, 0.97);
      const after = await readAll(phi);
      after.forEach((x, k) => {
        const expected = Float64Array.from(a[k]!, (v, i) => 0.97 * v + 0.03 * b[k]![i]!);
        allclose(x, expected, tolerance(), `parameter ${k}`);
      });
      const momentsAfter = (await optimizer.state()).moments;
      for (const [name, m] of Object.entries(momentsBefore)) expect(bits(momentsAfter[name]!.data), name).toEqual(bits(m.data));
      optimizer.dispose();
    }));

  it('refuses idaLambda outside [0, 1]', () =>
    withNets([1, 2], async (phi, theta) => {
      expect(() => lerpParameters(phi, theta, 1.5)).toThrow('idaLambda must be in [0, 1]');
      expect(() => lerpParameters(phi, theta, Number.NaN)).toThrow('got NaN');
    }));

  it('a module lerped or cloned onto itself is left as it is (no self-aliased binding or copy)', () =>
    withNets([1], async (net) => {
      const before = await readAll(net);
      lerpParameters(net, net, 0.5);
      cloneParameters(net, net);
      await engine.sync(); // would throw the validation error of a buffer bound for reading and writing
      expect((await readAll(net)).map(bits)).toEqual(before.map(bits));
    }));
});

describe('parameterDistance', () => {
  it('is ||phi - theta||_2 over all parameters, and 0 after a clone', () =>
    withNets([5, 6], async (a, b) => {
      const [x, y] = [await readAll(a), await readAll(b)];
      let squares = 0;
      x.forEach((t, k) => t.forEach((v, i) => (squares += (v - y[k]![i]!) ** 2)));
      allclose([await parameterDistance(a, b)], [Math.sqrt(squares)], tolerance(1, Math.sqrt(squares)));
      cloneParameters(a, b);
      expect(await parameterDistance(a, b)).toBe(0);
    }));
});

/** Parameters with given gradients (f32-rounded float64 copies returned for the references). */
function withGrads(shapes: number[][], seed: number, gradScale = 1): { params: Tensor[]; grads: Float64Array[] } {
  const params = shapes.map((s, i) => fromArray(engine, s, new Float32Array(s.reduce((a, b) => a * b, 1)), 'f32', `p${i}`));
  const grads = shapes.map((s, i) => toF32(randn(s, seed + i, gradScale)).data);
  params.forEach((p, i) => (p.grad = fromArray(engine, p.shape, grads[i]!, 'f32', `g${i}`)));
  return { params, grads };
}

const norm64 = (grads: Float64Array[]) => Math.sqrt(grads.reduce((s, g) => s + g.reduce((a, v) => a + v * v, 0), 0));

describe('gradNorm', () => {
  it('is the global L2 norm of all gradients, over more than one reduction pass', async () => {
    // 67 * 1031 = 69077 values: 270 partial sums after the first pass, so three passes in all.
    const { params, grads } = withGrads([[67, 1031], [5], [3, 7], []], 1);
    const noGrad = fromArray(engine, [9], new Float32Array(9).fill(1e3)); // skipped: it has no .grad
    const norm = gradNorm([...params, noGrad]);
    expect(norm.shape).toEqual([]);
    const expected = norm64(grads);
    allclose([await norm.item()], [expected], tolerance(Math.sqrt(69077), expected));
    [...params, noGrad, norm].forEach((t) => t.dispose());
  });

  it('is 0 when no parameter has a gradient', async () => {
    const p = fromArray(engine, [3], [1, 2, 3]);
    const norm = gradNorm([p]);
    expect(await norm.item()).toBe(0);
    norm.dispose();
    p.dispose();
  });
});

describe('clipGradNorm', () => {
  it('scales every gradient by maxNorm / (norm + 1e-6) when the norm is over', async () => {
    const { params, grads } = withGrads([[67, 5], [131]], 2);
    const norm = norm64(grads);
    const maxNorm = norm / 3;
    // A parameter listed twice counts once and is scaled once.
    const before = clipGradNorm([...params, params[0]!], maxNorm);
    allclose([await before.item()], [norm], tolerance(20, norm));
    for (let k = 0; k < params.length; k++) {
      allclose(await params[k]!.grad!.read(), grads[k]!.map((g) => (g * maxNorm) / (norm + 1e-6)), tolerance(20), `clipped gradient ${k}`);
    }
    const after = gradNorm(params);
    allclose([await after.item()], [maxNorm], tolerance(20, maxNorm));
    [...params, before, after].forEach((t) => t.dispose());
  });

  it('leaves the gradients bit-exact when the norm is under', async () => {
    const { params, grads } = withGrads([[67, 5], [131]], 3);
    const norm = clipGradNorm(params, norm64(grads) * 1.01);
    for (let k = 0; k < params.length; k++) expect(bits(await params[k]!.grad!.read())).toEqual(bits(Float32Array.from(grads[k]!)));
    [...params, norm].forEach((t) => t.dispose());
  });

  it('refuses a maxNorm that is not positive', () => {
    expect(() => clipGradNorm([], 0)).toThrow('maxNorm must be a positive number, got 0');
  });
});

describe('hasNonFinite', () => {
  const check = (size: number, poison: [number, number][]) =>
    tidy(engine, () => {
      const data = Float32Array.from(randn([size], size).data);
      for (const [i, v] of poison) data[i] = v;
      return hasNonFinite(fromArray(engine, [size], data));
    });

  it.each<[string, number, [number, number][], number]>([
    ['finite values', 70001, [[5, 3.4e38], [70000, -3.4e38]], 0],
    ['NaN at the last of 70001 (three passes)', 70001, [[70000, Number.NaN]], 1],
    ['+Inf at the first', 70001, [[0, Infinity]], 1],
    ['-Inf in the middle of 67', 67, [[33, -Infinity]], 1],
    ['one finite value', 1, [], 0],
    ['one NaN', 1, [[0, Number.NaN]], 1],
  ])('%s', async (_, size, poison, expected) => {
    const flag = check(size, poison);
    expect(flag.size).toBe(1);
    expect(await flag.item()).toBe(expected);
    flag.dispose();
  });

  it('is 0 for an empty tensor and refuses u32 tensors', async () => {
    const flag = tidy(engine, () => hasNonFinite(fromArray(engine, [0, 3], [])));
    expect(await flag.item()).toBe(0);
    flag.dispose();
    tidy(engine, () => {
      expect(() => hasNonFinite(fromArray(engine, [2], [1, 2], 'u32'))).toThrow('hasNonFinite: expected an f32 tensor');
    });
  });
});
