// REPA (nets/repa.ts) against float64: the loss is 1 - the mean per-token Pearson correlation, with its gradient,
// on awkward shapes; the hooks it reads (the DiT's hidden tokens, the evaluator's token features) are the states the
// networks' own forwards compute.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../nn/engine';
import { host, type HostTensor, randn } from '../nn/host';
import type { Module } from '../nn/module';
import { add } from '../nn/ops/elementwise';
import { mean } from '../nn/ops/reduce';
import { fromArray, noGrad, tidy } from '../nn/tensor';
import { allclose, checkOp, type Reference, testEngine } from '../nn/testing';
import { patchify, ShapesDiT } from './dit';
import { AttributeEvaluator } from './evaluator';
import { RepaProjector, repaLoss } from './repa';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

/** Per token n of [B, T, E]: u_n, v_n the centred, unit-length vectors; loss = 1 - mean_n u_n . v_n. */
function repaReference(): Reference {
  const unit = (x: HostTensor, n: number, e: number) => {
    const row = Array.from(x.data.subarray(n * e, (n + 1) * e));
    const m = row.reduce((s, v) => s + v, 0) / e;
    const c = row.map((v) => v - m);
    const norm = Math.hypot(...c);
    return { u: c.map((v) => v / norm), norm };
  };
  const tokens = (x: HostTensor) => x.data.length / x.shape[2]!;
  return {
    forward([a, b]) {
      const e = a!.shape[2]!;
      let sum = 0;
      for (let n = 0; n < tokens(a!); n++) {
        const [u, v] = [unit(a!, n, e).u, unit(b!, n, e).u];
        sum += u.reduce((s, x, i) => s + x * v[i]!, 0);
      }
      return host([], [1 - sum / tokens(a!)]);
    },
    backward([a, b], dy) {
      const e = a!.shape[2]!;
      const count = tokens(a!);
      const [ga, gb] = [host(a!.shape), host(b!.shape)];
      for (let n = 0; n < count; n++) {
        const [ua, ub] = [unit(a!, n, e), unit(b!, n, e)];
        const corr = ua.u.reduce((s, x, i) => s + x * ub.u[i]!, 0);
        for (let i = 0; i < e; i++) {
          // d corr / d a = (v - corr u) / |a_c| (the centring's projection leaves this zero-mean vector as it is).
          ga.data[n * e + i] = (-dy.data[0]! / count) * ((ub.u[i]! - corr * ua.u[i]!) / ua.norm);
          gb.data[n * e + i] = (-dy.data[0]! / count) * ((ua.u[i]! - corr * ub.u[i]!) / ub.norm);
        }
      }
      return [ga, gb];
    },
  };
}

function randomise(module: Module, seed: number): void {
  module.namedParameters().forEach(([, p], i) => {
    const values = fromArray(engine, p.shape, randn(p.shape, seed + i, 0.2).data);
    engine.copy(values.buffer, p.buffer, p.size * 4);
    values.dispose();
  });
}

describe('repaLoss', () => {
  it('is 1 - the mean per-token Pearson correlation, with its gradient, on awkward shapes', async () => {
    for (const [shape, seed] of [[[2, 5, 7], 1], [[3, 1, 13], 2], [[1, 3, 96], 3]] as const) {
      await checkOp(engine, {
        inputs: [randn(shape, seed), randn(shape, seed + 10)],
        gpu: ([a, b]) => repaLoss(a!, b!),
        reference: repaReference(),
        k: shape[0] * shape[1] * shape[2],
        backwardTolerance: { atol: 2e-5, rtol: 2e-3 },
        seed,
      });
    }
  });

  it('is 0 for a per-token affine copy of the target, 2 for its negation, and refuses mismatched shapes', async () => {
    const target = randn([2, 4, 6], 5).data;
    const values = await noGrad(engine, () =>
      tidy(engine, () => {
        const b = fromArray(engine, [2, 4, 6], target);
        const scaled = fromArray(engine, [2, 4, 6], target.map((v) => 3 * v + 2));
        const negated = fromArray(engine, [2, 4, 6], target.map((v) => -v));
        return [repaLoss(scaled, b), repaLoss(negated, b)];
      }),
    );
    const [same, opposed] = [(await values[0]!.read())[0]!, (await values[1]!.read())[0]!];
    values.forEach((t) => t.dispose());
    expect(same).toBeCloseTo(0, 5);
    expect(opposed).toBeCloseTo(2, 5);
    const [a, b] = [fromArray(engine, [2, 4, 6], target), fromArray(engine, [2, 4, 5], new Float32Array(40))];
    expect(() => repaLoss(a, b)).toThrow(/repaLoss: projected .*\[2, 4, 6\] and target .*\[2, 4, 5\] must both be/);
    a.dispose();
    b.dispose();
  });
});

describe('the states REPA reads', () => {
  const SMALL = { dim: 16, heads: 2, depth: 3, contextDim: 8 };

  it("ShapesDiT.forwardWithHidden: forward's velocity, and the tokens after the asked block", async () => {
    const dit = new ShapesDiT(engine, SMALL, 4);
    randomise(dit, 40);
    const batch = 2;
    const results = noGrad(engine, () =>
      tidy(engine, () => {
        const sample = fromArray(engine, [batch, 3, 32, 32], randn([batch, 3, 32, 32], 1).data);
        const sigma = fromArray(engine, [batch], [0.3, 0.8]);
        const states = fromArray(engine, [batch, 5, 8], randn([batch, 5, 8], 2).data);
        const mask = fromArray(engine, [batch, 5], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        const pooled = fromArray(engine, [batch, 8], randn([batch, 8], 3).data);
        const c = add(dit.time.forward(sigma), dit.textProjection.forward(pooled));
        const embedded = add(dit.patchEmbed.forward(patchify(sample, 4)), dit.positionEmbedding);
        const afterTwo = dit.blocks[1]!.forward(dit.blocks[0]!.forward(embedded, c, states, mask), c, states, mask);
        const at0 = dit.forwardWithHidden(sample, sigma, states, mask, pooled, 0);
        const at2 = dit.forwardWithHidden(sample, sigma, states, mask, pooled, 2);
        return [dit.forward(sample, sigma, states, mask, pooled), at2.velocity, embedded, at0.hidden, afterTwo, at2.hidden];
      }),
    );
    const [velocity, velocity2, embedded, hidden0, afterTwo, hidden2] = await Promise.all(results.map((t) => t.read()));
    expect(Array.from(velocity2!)).toEqual(Array.from(velocity!));
    expect(Array.from(hidden0!)).toEqual(Array.from(embedded!));
    allclose(hidden2!, afterTwo!, { atol: 1e-5, rtol: 1e-5 }, 'tokens after 2 blocks');
    results.forEach((t) => t.dispose());
    const any = fromArray(engine, [1, 3, 32, 32], new Float32Array(3072));
    expect(() => dit.forwardWithHidden(any, any, any, any, any, 4)).toThrow('afterBlock must be an integer in 0..3, got 4');
    any.dispose();
    dit.dispose();
  });

  it("AttributeEvaluator.tokenFeatures: per-patch states whose mean is forward's features", async () => {
    const evaluator = new AttributeEvaluator(engine, {}, 2);
    randomise(evaluator, 50);
    const [tokens, pooled, features] = noGrad(engine, () =>
      tidy(engine, () => {
        const image = fromArray(engine, [3, 3, 32, 32], randn([3, 3, 32, 32], 6).data);
        const t = evaluator.tokenFeatures(image);
        return [t, mean(t, 1), evaluator.forward(image).features];
      }),
    );
    expect(tokens!.shape).toEqual([3, 64, 96]);
    allclose(await pooled!.read(), await features!.read(), { atol: 1e-6, rtol: 1e-5 }, 'mean of the tokens');
    [tokens, pooled, features].forEach((t) => t!.dispose());
    evaluator.dispose();
  });

  it('RepaProjector maps [B, T, dim] to [B, T, targetDim] with parameters under mlp.*', () => {
    const projector = new RepaProjector(engine, 16, 96, 1, 32);
    expect(projector.namedParameters().map(([name, t]) => `${name} ${t.shape.join('x')}`)).toEqual([
      'mlp.fc1.weight 16x32',
      'mlp.fc1.bias 32',
      'mlp.fc2.weight 32x96',
      'mlp.fc2.bias 96',
    ]);
    const out = noGrad(engine, () => tidy(engine, () => projector.forward(fromArray(engine, [2, 3, 16], new Float32Array(96)))));
    expect(out.shape).toEqual([2, 3, 96]);
    out.dispose();
    projector.dispose();
  });
});
