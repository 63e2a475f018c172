// The trained evaluator shipped in models/evaluator/: it loads on our engine and reads held-out renders as its
// evaluator.json says it does (on a 250-image slice of the held-out set, to stay quick).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBatch } from '../data/dataset';
import { type AttributeEvaluator, loadEvaluator } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import { testEngine } from '../nn/testing';
import { evaluateImages, sceneAccuracy } from './evaluate';
import { HELD_OUT_SEED } from './seeds';

const folder = fileURLToPath(new URL('../../models/evaluator/', import.meta.url));
let engine: Engine;
let evaluator: AttributeEvaluator;
beforeAll(async () => {
  engine = await testEngine();
  evaluator = loadEvaluator(engine, readFileSync(join(folder, 'evaluator.safetensors')));
});

describe('models/evaluator', () => {
  it('reads held-out renders right on every attribute, and passes their own captions', async () => {
    const data = makeBatch(HELD_OUT_SEED, 250);
    const result = await evaluateImages(engine, evaluator, data.images, data.statements);
    const accuracy = sceneAccuracy(result.predictions, data.scenes);
    for (const key of ['background', 'presence', 'position', 'color', 'shape', 'size'] as const) expect(accuracy[key], key).toBeGreaterThanOrEqual(0.97);
    expect(result.promptAccuracy).toBeGreaterThanOrEqual(0.95);
  });

  it('is described by evaluator.json: the same parameter count, and >= 98% on every attribute of 2,000 held-out renders', () => {
    const report = JSON.parse(readFileSync(join(folder, 'evaluator.json'), 'utf8'));
    expect(report.parameters).toBe(evaluator.parameterCount());
    expect(report.heldOut).toMatchObject({ seed: HELD_OUT_SEED, images: 2000 });
    for (const key of ['background', 'presence', 'position', 'color', 'shape', 'size']) expect(report.heldOut.accuracy[key], key).toBeGreaterThanOrEqual(0.98);
  });
});
