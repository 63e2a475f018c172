import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../nn/safetensors';
import type { Engine } from '../nn/engine';
import { allclose, testEngine } from '../nn/testing';
import { EVALUATOR_TRAINING, evaluatorLearningRate, pretrainEvaluator } from './evaluator';

let engine: Engine;
const dirs: string[] = [];
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'evaluator-'));
  dirs.push(dir);
  return dir;
}

// Tiny runs: 4 images per step, 16 held-out images. They check the bookkeeping, not the accuracy.
const small = { seed: 3, batch: 4, heldOut: 16, validateEvery: 1000, logEvery: 1000, checkpointEvery: 2, command: 'test' };

describe('evaluatorLearningRate (warmup-stable-decay)', () => {
  it('warms up linearly, holds, then decays linearly to 0 over the last 20%', () => {
    const lr = (step: number) => evaluatorLearningRate(step, 1000);
    expect(lr(0)).toBeCloseTo(EVALUATOR_TRAINING.lr / 200, 12);
    expect(lr(199)).toBe(EVALUATOR_TRAINING.lr);
    expect(lr(799)).toBe(EVALUATOR_TRAINING.lr);
    expect(lr(900)).toBeCloseTo(EVALUATOR_TRAINING.lr / 2, 12);
    expect(lr(999)).toBeCloseTo(EVALUATOR_TRAINING.lr / 200, 12);
  });
});

describe('pretrainEvaluator', () => {
  it('trains, writes the weights, the report and the loss log, and a resumed run ends where an uninterrupted one does', async () => {
    const lines: string[] = [];
    const straight = scratch();
    const report = await pretrainEvaluator({ ...small, steps: 6, out: straight, engine, log: (line) => lines.push(line) });

    const resumed = scratch();
    await pretrainEvaluator({ ...small, steps: 4, out: resumed, engine, log: () => {} });
    const resumedLines: string[] = [];
    await pretrainEvaluator({ ...small, steps: 6, out: resumed, engine, resume: true, log: (line) => resumedLines.push(line) });

    expect(resumedLines[0]).toBe(`[evaluator] resumed from step 4 in ${resumed}`);
    const weights = (dir: string) => parseSafetensors(new Uint8Array(readFileSync(join(dir, 'evaluator.safetensors'))));
    const [a, b] = [weights(straight), weights(resumed)];
    expect(Object.keys(a.tensors)).toContain('positionEmbedding');
    expect(a.metadata).toMatchObject({ steps: '6', seed: '3' });
    for (const name of Object.keys(a.tensors)) allclose(b.tensors[name]!.data, a.tensors[name]!.data, { atol: 1e-6, rtol: 1e-5 }, name);

    const json = JSON.parse(readFileSync(join(straight, 'evaluator.json'), 'utf8'));
    expect(json).toMatchObject({ parameters: 169_241, command: 'test', training: { seed: 3, steps: 6, batch: 4 } });
    expect(json.heldOut.images).toBe(16);
    for (const key of ['background', 'presence', 'position', 'color', 'shape', 'size', 'exact']) expect(json.heldOut.accuracy[key]).toBeGreaterThanOrEqual(0);
    expect(report.heldOut.accuracy).toEqual(json.heldOut.accuracy);
    expect(lines.some((line) => line.startsWith('[evaluator] held-out (16 renders'))).toBe(true);

    const csv = readFileSync(join(resumed, 'loss.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('step,lr,total,background,present,color,shape,size');
    expect(csv.slice(1).map((line) => Number(line.split(',')[0]))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses to resume a different run', async () => {
    const out = scratch();
    await pretrainEvaluator({ ...small, steps: 2, out, engine, log: () => {} });
    await expect(pretrainEvaluator({ ...small, batch: 5, steps: 4, out, engine, resume: true, log: () => {} })).rejects.toThrow(
      'batch: the checkpoint has 4, this command gives 5',
    );
  });
});
