import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../nn/engine';
import { mseLoss } from '../nn/ops/loss';
import { backward, fromArray, noGrad, tidy } from '../nn/tensor';
import { testEngine } from '../nn/testing';
import { Toy2DTeacher } from './toy2d';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('Toy2DTeacher', () => {
  it('has the parameter paths and shapes of docs/NETS.md', () => {
    const model = new Toy2DTeacher(engine, { labels: 11 }, 1);
    expect(model.namedParameters().map(([name, t]) => `${name} [${t.shape.join(', ')}]`)).toEqual([
      'labelEmbedding.weight [11, 64]',
      'mlp.layers.0.weight [130, 128]',
      'mlp.layers.0.bias [128]',
      'mlp.layers.1.weight [128, 128]',
      'mlp.layers.1.bias [128]',
      'mlp.layers.2.weight [128, 2]',
      'mlp.layers.2.bias [2]',
    ]);
    model.dispose();
  });

  it('outputs [B, 2], depends on the label, and passes gradients to every parameter', async () => {
    const model = new Toy2DTeacher(engine, { labels: 5 }, 2);
    const sample = [0.5, -1, 0.5, -1, 2, 0];
    const [byLabel] = noGrad(engine, () =>
      tidy(engine, () => [model.forward(fromArray(engine, [3, 2], sample), fromArray(engine, [3], [0.5, 0.5, 0.1]), fromArray(engine, [3], [1, 3, 0], 'u32'))]),
    );
    expect(byLabel!.shape).toEqual([3, 2]);
    const v = await byLabel!.read();
    expect([v[0], v[1]]).not.toEqual([v[2], v[3]]); // same point and sigma, labels 1 and 3
    byLabel!.dispose();
    tidy(engine, () => {
      const out = model.forward(fromArray(engine, [3, 2], sample), fromArray(engine, [3], [0.5, 0.5, 0.1]), fromArray(engine, [3], [1, 3, 0], 'u32'));
      backward(mseLoss(out, fromArray(engine, [3, 2], [1, 2, 3, 4, 5, 6])));
    });
    for (const [name, p] of model.namedParameters()) {
      expect((await p.grad!.read()).some((g) => g !== 0), `${name} has an all-zero gradient`).toBe(true);
    }
    model.dispose();
  });

  it('with coordinate features: sin/cos of each coordinate widen the first layer, and the sample gets its gradient', async () => {
    const config = { labels: 11, hidden: 32, coordinateFeatures: 6, coordinateScale: 16, coordinatePeriod: 32 };
    const model = new Toy2DTeacher(engine, config, 4);
    expect(model.namedParameters().find(([name]) => name === 'mlp.layers.0.weight')![1].shape).toEqual([2 + 2 * 6 + 2 * 64, 32]);
    // d(mean v^2)/d sample from the tape against central differences of the forward (f32, so a loose tolerance).
    const points = [0.31, -1.7, 2.05, 0.4, -0.93, 1.12];
    const sigma = [0.05, 0.5, 0.9];
    const labels = [1, 6, 0];
    const total = async (xs: number[]) => {
      const [out] = noGrad(engine, () => tidy(engine, () => [model.forward(fromArray(engine, [3, 2], xs), fromArray(engine, [3], sigma), fromArray(engine, [3], labels, 'u32'))]));
      const v = await out!.read();
      out!.dispose();
      return v.reduce((a, b) => a + b * b, 0) / v.length;
    };
    const [dSample] = tidy(engine, () => {
      const sample = fromArray(engine, [3, 2], points);
      sample.requiresGrad = true;
      const loss = mseLoss(model.forward(sample, fromArray(engine, [3], sigma), fromArray(engine, [3], labels, 'u32')), fromArray(engine, [3, 2], new Array<number>(6).fill(0)));
      return [backward(loss).get(sample)!];
    });
    const grad = await dSample!.read();
    dSample!.dispose();
    const h = 1e-2;
    for (let i = 0; i < points.length; i++) {
      const up = [...points];
      const down = [...points];
      up[i]! += h;
      down[i]! -= h;
      const numeric = ((await total(up)) - (await total(down))) / (2 * h);
      expect(grad[i], `d/d sample[${i}]`).toBeCloseTo(numeric, 1);
    }
    expect(grad.some((g) => Math.abs(g) > 1e-3)).toBe(true);
    model.dispose();
    expect(() => new Toy2DTeacher(engine, { coordinateFeatures: 1.5 })).toThrow('coordinateFeatures must be an integer >= 0, got 1.5');
    expect(() => new Toy2DTeacher(engine, { coordinateFeatures: 4 })).toThrow('needs a positive coordinateScale and coordinatePeriod');
  });

  it('refuses float labels and mismatched batches, naming the input', () => {
    const model = new Toy2DTeacher(engine, {}, 3);
    tidy(engine, () => {
      const x = fromArray(engine, [2, 2], [0, 0, 0, 0]);
      const s = fromArray(engine, [2], [0.5, 0.5]);
      expect(() => model.forward(x, s, fromArray(engine, [2], [0, 1]))).toThrow('Toy2DTeacher: label must be u32 [2], got f32');
      expect(() => model.forward(x, fromArray(engine, [3], [0, 0, 0]), fromArray(engine, [2], [0, 1], 'u32'))).toThrow('Toy2DTeacher: sigma must be f32 [2]');
    });
    expect(() => new Toy2DTeacher(engine, { labels: 0 })).toThrow('labels must be an integer >= 1, got 0');
    model.dispose();
  });
});
