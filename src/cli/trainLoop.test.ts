// The training loop: a stopped run resumes to bit-identical weights, a non-finite loss skips the update, and the
// toy teacher's flow-matching loss falls.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RING } from '../data/toy2d';
import { flowMatchingLoss, noiseTo } from '../flow/tensors';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { add, scale } from '../nn/ops/elementwise';
import { AdamW } from '../nn/optim';
import { cloneParameters } from '../nn/params';
import { fromArray } from '../nn/tensor';
import { testEngine } from '../nn/testing';
import { readCheckpointState, restoreCheckpoint } from './checkpoint';
import { toyBatch } from './pretrainToy2d';
import { streamSeed, trainLoop } from './trainLoop';

let engine: Engine;
const dirs: string[] = [];
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function temporary(): string {
  const dir = mkdtempSync(join(tmpdir(), 'senseflow-train-'));
  dirs.push(dir);
  return dir;
}

const CONFIG = { labels: RING.labels.length, hidden: 16, embeddingDim: 8 };
const SCHEDULE = { lr: 3e-3, warmupSteps: 2, emaDecay: 0.999 };

function setup() {
  const model = new Toy2DTeacher(engine, CONFIG, 1);
  const ema = new Toy2DTeacher(engine, CONFIG, 1);
  cloneParameters(model, ema);
  return { model, ema, optimizer: new AdamW(engine, model, { lr: SCHEDULE.lr, weightDecay: 0 }) };
}

function lossOf(model: Toy2DTeacher, poison = -1) {
  return (step: number) => {
    const data = toyBatch(RING, 32, streamSeed(9, step, 0));
    const x0 = fromArray(engine, [32, 2], data.x0);
    const eps = fromArray(engine, [32, 2], data.eps);
    const sigma = fromArray(engine, [32], data.sigmas);
    const loss = flowMatchingLoss(model.forward(noiseTo(x0, eps, sigma), sigma, fromArray(engine, [32], data.labels, 'u32')), x0, eps);
    return step === poison ? scale(loss, NaN) : loss;
  };
}

async function train(out: string, steps: number, startStep: number, run = setup(), poison = -1) {
  if (startStep > 0) expect(restoreCheckpoint(out, run).step).toBe(startStep);
  const summary = await trainLoop(engine, run, { name: 'test', out, steps, startStep, logEvery: 1000, checkpointEvery: 3, state: { what: 'test' }, ...SCHEDULE }, lossOf(run.model, poison));
  return { run, summary };
}

async function weights(run: ReturnType<typeof setup>): Promise<number[][]> {
  return Promise.all([...run.model.parameters(), ...run.ema.parameters()].map(async (p) => Array.from(await p.read())));
}

function dispose(run: ReturnType<typeof setup>): void {
  run.model.dispose();
  run.ema.dispose();
  run.optimizer.dispose();
}

describe('trainLoop', () => {
  it('resumes a stopped run exactly: 3 steps + 3 resumed steps = 6 steps', async () => {
    const straight = await train(temporary(), 6, 0);
    const out = temporary();
    const first = await train(out, 3, 0);
    expect(readCheckpointState(out)).toMatchObject({ what: 'test', step: 3 });
    dispose(first.run);
    const resumed = await train(out, 6, 3);
    expect(await weights(resumed.run)).toEqual(await weights(straight.run));
    expect(readFileSync(join(out, 'loss.csv'), 'utf8').trim().split('\n')).toHaveLength(7);
    dispose(straight.run);
    dispose(resumed.run);
  });

  it('stops at its time budget with a checkpoint of the step it reached', async () => {
    const out = temporary();
    const run = setup();
    const summary = await trainLoop(engine, run, { name: 'test', out, steps: 50, startStep: 0, logEvery: 1000, checkpointEvery: 100, state: { what: 'test' }, ...SCHEDULE, maxSeconds: 0 }, lossOf(run.model));
    expect(summary).toMatchObject({ steps: 1, reached: 1 });
    expect(readCheckpointState(out)).toMatchObject({ what: 'test', step: 1 });
    dispose(run);
  });

  it('skips the update of a step whose loss is not finite, and counts it', async () => {
    const run = setup();
    const before = await weights(run);
    const { summary } = await train(temporary(), 1, 0, run, 0);
    expect(summary.skipped).toBe(1);
    expect(await weights(run)).toEqual(before);
    expect(run.optimizer.stepCount).toBe(0);
    dispose(run);
  });

  it('logs the named parts of a loss beside it, and keeps the rows of a run resumed from before its parts were logged', async () => {
    const out = temporary();
    const run = setup();
    const options = { name: 'test', out, steps: 3, startStep: 0, logEvery: 1000, checkpointEvery: 100, state: { what: 'test' }, ...SCHEDULE };
    const parted = (step: number) => {
      const fm = lossOf(run.model)(step);
      const half = scale(fm, 0.5);
      return { loss: add(fm, half), parts: { fm, half } };
    };
    await trainLoop(engine, run, { ...options, lossParts: ['fm', 'half'] }, parted);
    const rows = readFileSync(join(out, 'loss.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('step,loss,lr,fm,half');
    for (const row of rows.slice(1)) {
      const [, loss, , fm, half] = row.split(',').map(Number);
      expect(half).toBeCloseTo(fm! / 2, 6);
      expect(loss).toBeCloseTo(fm! + half!, 6);
    }
    // A step whose parts are not the ones the loop logs is refused before any update.
    await expect(trainLoop(engine, run, { ...options, startStep: 3, steps: 4, lossParts: ['fm'] }, parted)).rejects.toThrow('the step\'s loss has parts [fm, half], the loop logs [fm]');
    // A run resumed from a log without the parts: the header is the new one, the earlier rows are kept.
    writeFileSync(join(out, 'loss.csv'), 'step,loss,lr\n1,0.5,0.001\n2,0.4,0.002\n3,0.3,0.003\n');
    await trainLoop(engine, run, { ...options, startStep: 2, steps: 3, lossParts: ['fm', 'half'] }, parted);
    const resumed = readFileSync(join(out, 'loss.csv'), 'utf8').trim().split('\n');
    expect(resumed.slice(0, 3)).toEqual(['step,loss,lr,fm,half', '1,0.5,0.001', '2,0.4,0.002']);
    expect(resumed[3]!.split(',')).toHaveLength(5);
    expect(resumed).toHaveLength(4);
    dispose(run);
  });

  it('lowers the flow-matching loss of the toy teacher', async () => {
    const out = temporary();
    const { run } = await train(out, 150, 0);
    const losses = readFileSync(join(out, 'loss.csv'), 'utf8').trim().split('\n').slice(1).map((line) => Number(line.split(',')[1]));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Much of a 2D flow-matching loss is irreducible (eps - x0 is uncertain given x_s); 150 steps take off ~15%.
    expect(mean(losses.slice(-30))).toBeLessThan(0.9 * mean(losses.slice(0, 10)));
    dispose(run);
  }, 180_000);
});
