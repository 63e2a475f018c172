// The Shapes DiT against docs/NETS.md: parameter paths and size, the patch layout, output shape, gradients to
// every parameter, and text padding that cannot change the velocity.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../nn/engine';
import { randn } from '../nn/host';
import type { Module } from '../nn/module';
import { mseLoss } from '../nn/ops/loss';
import { backward, fromArray, noGrad, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import { patchify, ShapesDiT, unpatchify } from './dit';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

// adaLN-Zero starts every block as the identity and the final projection at zero, so most gradients are zero
// at initialisation; tests of the wiring start from random weights instead.
function randomise(module: Module, seed: number): void {
  module.namedParameters().forEach(([, p], i) => {
    const values = fromArray(engine, p.shape, randn(p.shape, seed + i, 0.2).data);
    engine.copy(values.buffer, p.buffer, p.size * 4);
    values.dispose();
  });
}

const SMALL = { dim: 16, heads: 2, depth: 2, contextDim: 8 };

function inputs(batch: number, length: number, seed: number) {
  return {
    sample: randn([batch, 3, 32, 32], seed).data,
    sigma: Float32Array.from({ length: batch }, (_, i) => (i + 1) / (batch + 1)),
    states: randn([batch, length, 8], seed + 1).data,
    pooled: randn([batch, 8], seed + 2).data,
  };
}

describe('ShapesDiT', () => {
  it('has the parameter paths and the size of docs/NETS.md', () => {
    const dit = new ShapesDiT(engine, {}, 1);
    const shapes = Object.fromEntries(dit.namedParameters().map(([name, t]) => [name, t.shape]));
    expect(shapes['patchEmbed.weight']).toEqual([48, 96]);
    expect(shapes['positionEmbedding']).toEqual([64, 96]);
    expect(shapes['time.mlp.fc1.weight']).toEqual([64, 96]);
    expect(shapes['textProjection.weight']).toEqual([64, 96]);
    expect(shapes['blocks.3.attn.qkv.weight']).toEqual([96, 288]);
    expect(shapes['blocks.3.crossAttn.kv.weight']).toEqual([64, 192]);
    expect(shapes['blocks.0.adaLN.weight']).toEqual([96, 576]);
    expect(shapes['final.linear.weight']).toEqual([96, 48]);
    expect(shapes['blocks.4.attn.qkv.weight']).toBeUndefined();
    expect(dit.parameterCount()).toBe(850_416);
    dit.dispose();
  });

  it('patchifies to [B, 64, 48] with token = row-major patch and feature = (py, px, channel), and back', async () => {
    const image = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => i);
    const [tokens, back] = noGrad(engine, () =>
      tidy(engine, () => {
        const t = patchify(fromArray(engine, [2, 3, 32, 32], image), 4);
        return [t, unpatchify(t, 4, 3, 32, 32)];
      }),
    );
    expect(tokens!.shape).toEqual([2, 64, 48]);
    const t = await tokens!.read();
    // batch 1, patch (row 2, col 5), py 3, px 1, channel 2 -> pixel (y = 11, x = 21) of channel 2
    const token = 2 * 8 + 5;
    const feature = (3 * 4 + 1) * 3 + 2;
    expect(t[(1 * 64 + token) * 48 + feature]).toBe(image[((1 * 3 + 2) * 32 + 11) * 32 + 21]);
    expect(Array.from(await back!.read())).toEqual(Array.from(image));
    tokens!.dispose();
    back!.dispose();
  });

  it('outputs a velocity of the sample shape, zero at initialisation (adaLN-Zero)', async () => {
    const dit = new ShapesDiT(engine, SMALL, 2);
    const x = inputs(2, 5, 3);
    const v = noGrad(engine, () =>
      tidy(engine, () =>
        dit.forward(fromArray(engine, [2, 3, 32, 32], x.sample), fromArray(engine, [2], x.sigma), fromArray(engine, [2, 5, 8], x.states), fromArray(engine, [2, 5], new Float32Array(10).fill(1)), fromArray(engine, [2, 8], x.pooled)),
      ),
    );
    expect(v.shape).toEqual([2, 3, 32, 32]);
    expect((await v.read()).every((value) => value === 0)).toBe(true);
    v.dispose();
    dit.dispose();
  });

  it("with prediction 'x0' returns v = (x_s - x0_hat) / max(s, 0.05), x0_hat the same network's output", async () => {
    // The same weights as a velocity network output x0_hat; the x0 network must turn it into the velocity.
    const raw = new ShapesDiT(engine, SMALL, 6);
    const x0Net = new ShapesDiT(engine, { ...SMALL, prediction: 'x0' }, 6);
    randomise(raw, 30);
    randomise(x0Net, 30);
    const x = inputs(3, 5, 7);
    const sigma = [0.7, 0.05, 0.01];
    const run = (net: ShapesDiT) =>
      noGrad(engine, () =>
        tidy(engine, () =>
          net.forward(fromArray(engine, [3, 3, 32, 32], x.sample), fromArray(engine, [3], sigma), fromArray(engine, [3, 5, 8], x.states), fromArray(engine, [3, 5], new Float32Array(15).fill(1)), fromArray(engine, [3, 8], x.pooled)),
        ),
      );
    const [x0Hat, v] = [run(raw), run(x0Net)];
    const [a, b] = [await x0Hat.read(), await v.read()];
    const expected = Array.from(a, (value, i) => (x.sample[i]! - value) / Math.max(sigma[Math.floor(i / 3072)]!, 0.05));
    allclose(b, expected, { atol: 1e-5, rtol: 1e-5 }, 'velocity from x0_hat');
    x0Hat.dispose();
    v.dispose();
    raw.dispose();
    x0Net.dispose();
    expect(() => new ShapesDiT(engine, { ...SMALL, prediction: 'epsilon' as 'x0' })).toThrow(`ShapesDiT: prediction must be 'velocity' or 'x0', got "epsilon"`);
  });

  it('passes gradients to every parameter', async () => {
    const dit = new ShapesDiT(engine, SMALL, 3);
    randomise(dit, 10);
    const x = inputs(2, 5, 4);
    tidy(engine, () => {
      const v = dit.forward(fromArray(engine, [2, 3, 32, 32], x.sample), fromArray(engine, [2], x.sigma), fromArray(engine, [2, 5, 8], x.states), fromArray(engine, [2, 5], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]), fromArray(engine, [2, 8], x.pooled));
      backward(mseLoss(v, fromArray(engine, v.shape, randn(v.shape, 5).data)));
    });
    for (const [name, p] of dit.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      const g = await p.grad!.read();
      expect(g.some((value) => value !== 0), `${name} has an all-zero gradient`).toBe(true);
    }
    dit.dispose();
  });

  it('ignores the text states at padded positions (the mask works), and uses the others', async () => {
    const dit = new ShapesDiT(engine, SMALL, 4);
    randomise(dit, 20);
    const x = inputs(2, 6, 6);
    const mask = Float32Array.from([1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0]);
    const changed = (where: (b: number, l: number) => boolean) => x.states.map((value, i) => (where(Math.floor(i / 48), Math.floor(i / 8) % 6) ? value + 3 : value));
    const run = (states: ArrayLike<number>) =>
      noGrad(engine, () =>
        tidy(engine, () =>
          dit.forward(fromArray(engine, [2, 3, 32, 32], x.sample), fromArray(engine, [2], x.sigma), fromArray(engine, [2, 6, 8], states), fromArray(engine, [2, 6], mask), fromArray(engine, [2, 8], x.pooled)),
        ),
      );
    const reference = run(x.states);
    const padded = run(changed((b, l) => mask[b * 6 + l] === 0));
    const real = run(changed((b, l) => b === 0 && l === 1));
    const r = await reference.read();
    expect(Array.from(await padded.read())).toEqual(Array.from(r));
    const moved = await real.read();
    expect(moved.slice(0, 3072).some((value, i) => value !== r[i])).toBe(true);
    expect(Array.from(moved.slice(3072))).toEqual(Array.from(r.slice(3072)));
    for (const t of [reference, padded, real]) t.dispose();
    dit.dispose();
  });

  it('refuses inputs of the wrong shape, naming the input', () => {
    const dit = new ShapesDiT(engine, SMALL, 5);
    tidy(engine, () => {
      const ok = inputs(1, 4, 1);
      const call = (sampleShape: number[], sigma: number[]) =>
        dit.forward(fromArray(engine, sampleShape, new Float32Array(sampleShape.reduce((a, b) => a * b))), fromArray(engine, [sigma.length], sigma), fromArray(engine, [1, 4, 8], ok.states), fromArray(engine, [1, 4], [1, 1, 1, 1]), fromArray(engine, [1, 8], ok.pooled));
      expect(() => call([1, 3, 16, 16], [0.5])).toThrow('ShapesDiT: sample must be f32 [1, 3, 32, 32], got f32');
      expect(() => call([1, 3, 32, 32], [0.5, 0.5])).toThrow('ShapesDiT: sigma must be f32 [1]');
    });
    dit.dispose();
  });
});
