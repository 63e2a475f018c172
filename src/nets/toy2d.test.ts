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
