// The tensor versions of the flow formulas agree with the host ones (flow/samplers.ts), per-sample noise levels
// broadcast over a sample's values, and sampleEuler keeps nothing alive but its result.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../nn/engine';
import { randn } from '../nn/host';
import { scale, sub } from '../nn/ops/elementwise';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import * as host from './samplers';
import { eulerSigmas } from './schedule';
import * as gpu from './tensors';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const tol = { atol: 1e-6, rtol: 1e-6 };

async function read(t: Tensor): Promise<Float32Array> {
  const data = await t.read();
  t.dispose();
  return data;
}

describe('flow formulas on tensors', () => {
  const shape = [2, 3, 2];
  const a = Float32Array.from(randn(shape, 1).data);
  const b = Float32Array.from(randn(shape, 2).data);

  it('match the host formulas for one noise level', async () => {
    const [noised, x0, euler, cfg, renoise] = tidy(engine, () => {
      const [x, y] = [fromArray(engine, shape, a), fromArray(engine, shape, b)];
      return [gpu.noiseTo(x, y, 0.3), gpu.x0FromVelocity(x, y, 0.3), gpu.eulerStep(x, y, 0.9, 0.75), gpu.cfgCombine(x, y, 4), gpu.renoiseStep(x, y, 0.9, 0.5, x)];
    });
    allclose(await read(noised!), host.noiseTo(a, b, 0.3), tol, 'noiseTo');
    allclose(await read(x0!), host.x0FromVelocity(a, b, 0.3), tol, 'x0FromVelocity');
    allclose(await read(euler!), host.eulerStep(a, b, 0.9, 0.75), tol, 'eulerStep');
    allclose(await read(cfg!), host.cfgCombine(a, b, 4), tol, 'cfgCombine');
    allclose(await read(renoise!), host.renoiseStep(a, b, 0.9, 0.5, a), tol, 'renoiseStep');
  });

  it('apply per-sample noise levels (and guidance weights) [B] to each sample', async () => {
    const sigmas = [0.2, 0.9];
    const [noised, euler, cfg] = tidy(engine, () => {
      const [x, y] = [fromArray(engine, shape, a), fromArray(engine, shape, b)];
      const s = fromArray(engine, [2], sigmas);
      return [gpu.noiseTo(x, y, s), gpu.eulerStep(x, y, s, fromArray(engine, [2], [0.1, 0.5])), gpu.cfgCombine(x, y, fromArray(engine, [2], [1, 4.5]))];
    });
    const half = a.length / 2;
    const expected = Float32Array.from([...host.noiseTo(a.slice(0, half), b.slice(0, half), 0.2), ...host.noiseTo(a.slice(half), b.slice(half), 0.9)]);
    allclose(await read(noised!), expected, tol, 'per-sample noiseTo');
    const expectedEuler = Float32Array.from([...host.eulerStep(a.slice(0, half), b.slice(0, half), 0.2, 0.1), ...host.eulerStep(a.slice(half), b.slice(half), 0.9, 0.5)]);
    allclose(await read(euler!), expectedEuler, tol, 'per-sample eulerStep');
    const expectedCfg = Float32Array.from([...host.cfgCombine(a.slice(0, half), b.slice(0, half), 1), ...host.cfgCombine(a.slice(half), b.slice(half), 4.5)]);
    allclose(await read(cfg!), expectedCfg, tol, 'per-sample cfgCombine');
  });

  it('refuse noise levels that do not match the batch', () => {
    tidy(engine, () => {
      const x = fromArray(engine, shape, a);
      expect(() => gpu.noiseTo(x, x, fromArray(engine, [3], [0, 0, 0]))).toThrow('do not match the batch of');
    });
  });

  it('the flow-matching loss is mean((v - (eps - x0))^2)', async () => {
    const loss = tidy(engine, () => gpu.flowMatchingLoss(fromArray(engine, [2], [1, 2]), fromArray(engine, [2], [0, 1]), fromArray(engine, [2], [3, 0])));
    // targets eps - x0 = [3, -1]; errors [-2, 3]; mean of squares 6.5
    expect(await loss.item()).toBeCloseTo(6.5, 6);
    loss.dispose();
  });

  it('sampleEuler matches the host sampler and leaves only its result alive', async () => {
    const x0 = Float32Array.from([0.3, -0.7, 0.1, 0.5]);
    const start = Float32Array.from([1, 2, -1, 0.5]);
    const expected = await host.sampleEuler((x, s) => x.map((xi, i) => 0.5 * (xi - x0[i]!) / s), start, eulerSigmas(5));
    const before = engine.stats();
    const out = noGrad(engine, () =>
      tidy(engine, () => {
        const target = fromArray(engine, [4], x0);
        return gpu.sampleEuler((x, s) => scale(sub(x, target), 0.5 / s), fromArray(engine, [4], start), eulerSigmas(5));
      }),
    );
    allclose(await out.read(), expected, tol, 'sampleEuler');
    out.dispose();
    expect(engine.stats().liveBytes).toBe(before.liveBytes);
  });
});
