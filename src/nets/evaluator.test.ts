import { beforeAll, describe, expect, it } from 'vitest';
import { makeBatch } from '../data/dataset';
import { POSITIONS, type Scene } from '../data/shapes';
import type { Engine } from '../nn/engine';
import { host } from '../nn/host';
import { softmaxCrossEntropyReference } from '../nn/ops/crossEntropy';
import { AdamW } from '../nn/optim';
import { backward, fromArray, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import {
  AttributeEvaluator,
  decodePredictions,
  type EvaluatorConfig,
  evaluatorLoss,
  HEAD_CLASSES,
  HEAD_NAMES,
  type HeadLogits,
  loadEvaluator,
  predictionOfScene,
  SLOT_COUNT,
  targetsOf,
} from './evaluator';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const TINY: Partial<EvaluatorConfig> = { dim: 16, heads: 2, layers: 1, mlpRatio: 2 };

const twoObjects: Scene = {
  background: 'white',
  objects: [
    { color: 'blue', shape: 'cross', size: 'large', position: 'bottom right', centerX: 24, centerY: 24 },
    { color: 'gray', shape: 'triangle', size: 'small', position: 'top left', centerX: 8, centerY: 8 },
  ],
};

describe('AttributeEvaluator', () => {
  it('has the parameters docs/NETS.md names, 169,241 of them (0.68 MB of f32)', () => {
    const model = new AttributeEvaluator(engine);
    const shapes = Object.fromEntries(model.namedParameters().map(([name, t]) => [name, t.shape]));
    expect(shapes).toMatchObject({
      'patchEmbed.weight': [48, 96],
      positionEmbedding: [64, 96],
      'layers.0.norm1.weight': [96],
      'layers.0.attn.qkv.weight': [96, 288],
      'layers.1.mlp.fc2.weight': [192, 96],
      'finalNorm.weight': [96],
      'background.weight': [96, 9],
      'present.weight': [96, 10],
      'color.weight': [96, 40],
      'shape.weight': [96, 20],
      'size.weight': [96, 10],
    });
    expect(Object.keys(shapes).some((name) => name.startsWith('layers.2'))).toBe(false);
    expect(model.parameterCount()).toBe(169_241);
    model.dispose();
  });

  it('reads an image batch into features [B, 96] and per-slot logits', () => {
    const model = new AttributeEvaluator(engine);
    const images = makeBatch(1, 3).images;
    const shapes = tidy(engine, () => {
      const output = model.forward(fromArray(engine, [3, 3, 32, 32], images));
      return Object.fromEntries(Object.entries(output).map(([name, t]) => [name, [...t.shape]]));
    });
    expect(shapes).toEqual({ features: [3, 96], background: [3, 9], present: [3, 5, 2], color: [3, 5, 8], shape: [3, 5, 4], size: [3, 5, 2] });
    tidy(engine, () => expect(() => model.forward(fromArray(engine, [1, 3, 16, 16], new Float32Array(768), 'f32', 'small'))).toThrow('image must be [batch, 3, 32, 32], got small[1, 3, 16, 16]'));
    model.dispose();
  });
});

describe('targetsOf', () => {
  it('puts each object in the slot of its position and masks the empty slots', () => {
    const t = targetsOf([twoObjects]);
    const slot = (position: (typeof POSITIONS)[number]) => POSITIONS.indexOf(position);
    expect(t.background[0]).toBe(6); // white
    expect([...t.present]).toEqual(POSITIONS.map((p) => Number(p === 'bottom right' || p === 'top left')));
    expect([...t.slotMask]).toEqual([...t.present]);
    expect([t.color[slot('bottom right')], t.shape[slot('bottom right')], t.size[slot('bottom right')]]).toEqual([2, 3, 1]); // blue cross large
    expect([t.color[slot('top left')], t.shape[slot('top left')], t.size[slot('top left')]]).toEqual([7, 2, 0]); // gray triangle small
  });

  it('refuses a scene with two objects in one slot', () => {
    const clash = { ...twoObjects, objects: twoObjects.objects.map((o) => ({ ...o, position: 'center' as const })) };
    expect(() => targetsOf([clash])).toThrow('scene 0 has two objects at the center');
  });
});

describe('decodePredictions', () => {
  it('reads one-hot logits of a scene back as that scene', () => {
    const scenes = makeBatch(2, 6).scenes;
    const t = targetsOf(scenes);
    const oneHot = (indices: Uint32Array, classes: number) => {
      const out = new Float32Array(indices.length * classes);
      indices.forEach((k, i) => (out[i * classes + k] = 1));
      return out;
    };
    const logits = Object.fromEntries(HEAD_NAMES.map((name) => [name, oneHot(t[name], HEAD_CLASSES[name])])) as unknown as HeadLogits;
    const predictions = decodePredictions(logits, scenes.length);
    predictions.forEach((p, b) => {
      const expected = predictionOfScene(scenes[b]!);
      expect(p.background).toBe(expected.background);
      p.slots.forEach((slot, s) => {
        expect(slot.present).toBe(expected.slots[s]!.present);
        if (slot.present) expect(slot).toEqual(expected.slots[s]);
      });
    });
  });
});

describe('evaluatorLoss', () => {
  it('is the sum of the heads cross-entropies, colour/shape/size over occupied slots only, with no gradient to empty slots', async () => {
    const model = new AttributeEvaluator(engine, TINY, 3);
    const data = makeBatch(4, 5);
    const targets = targetsOf(data.scenes);
    const kept = tidy(engine, () => {
      const output = model.forward(fromArray(engine, [5, 3, 32, 32], data.images));
      const loss = evaluatorLoss(output, targets);
      const grads = backward(loss.total);
      return { total: loss.total, logits: HEAD_NAMES.map((name) => output[name]), colorGrad: grads.get(output.color)! };
    });
    const logits = await Promise.all(kept.logits.map((t) => t.read()));
    const total = await kept.total.item();
    const colorGrad = await kept.colorGrad.read();
    for (const t of [kept.total, kept.colorGrad, ...kept.logits]) t.dispose();

    const reference = softmaxCrossEntropyReference();
    let expected = 0;
    HEAD_NAMES.forEach((name, i) => {
      const classes = HEAD_CLASSES[name];
      const rows = name === 'background' ? 5 : 5 * SLOT_COUNT;
      const inputs = [host([rows, classes], logits[i]!), host([rows], targets[name])];
      if (name === 'color' || name === 'shape' || name === 'size') inputs.push(host([rows], targets.slotMask));
      expected += reference.forward(inputs).data[0]!;
    });
    allclose([total], [expected], { atol: 1e-5, rtol: 1e-5 }, 'total loss');
    for (let row = 0; row < 5 * SLOT_COUNT; row++) {
      const rowGrad = colorGrad.slice(row * 8, row * 8 + 8);
      if (targets.slotMask[row]) expect(rowGrad.some((g) => g !== 0)).toBe(true);
      else expect(rowGrad.every((g) => g === 0), `empty slot ${row}`).toBe(true);
    }
    model.dispose();
  });

  it('trains: a tiny evaluator fits a fixed batch of 16 renders (loss falls by more than half in 60 AdamW steps)', async () => {
    const model = new AttributeEvaluator(engine, TINY, 4);
    const optimizer = new AdamW(engine, model, { lr: 3e-3, weightDecay: 0 });
    const data = makeBatch(5, 16);
    const targets = targetsOf(data.scenes);
    const images = fromArray(engine, [16, 3, 32, 32], data.images);
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) {
      const loss = tidy(engine, () => {
        const total = evaluatorLoss(model.forward(images), targets).total;
        backward(total);
        return total;
      });
      optimizer.step();
      optimizer.zeroGrad();
      if (step === 0 || step === 59) losses.push(await loss.item());
      loss.dispose();
    }
    expect(losses[1]!).toBeLessThan(0.5 * losses[0]!);
    images.dispose();
    optimizer.dispose();
    model.dispose();
  });
});

describe('loadEvaluator', () => {
  it('rebuilds a saved evaluator with the config its metadata records, from a Node Buffer too', async () => {
    const { saveModule } = await import('../nn/safetensors');
    const model = new AttributeEvaluator(engine, TINY, 9);
    const bytes = Buffer.from(await saveModule(model, { config: JSON.stringify(model.config) }));
    const loaded = loadEvaluator(engine, bytes);
    expect(loaded.config).toEqual(model.config);
    const images = makeBatch(6, 2).images;
    const [a, b] = tidy(engine, () => [model, loaded].map((m) => m.forward(fromArray(engine, [2, 3, 32, 32], images)).features));
    allclose(await b!.read(), await a!.read(), { atol: 0, rtol: 0 }, 'features after the round trip');
    for (const t of [a!, b!]) t.dispose();
    expect(() => loadEvaluator(engine, bytes.subarray(0, 100))).toThrow();
    model.dispose();
    loaded.dispose();
  });
});
