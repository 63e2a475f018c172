// The Shapes pretraining command end to end on tiny networks: it writes the teacher files under docs/NETS.md's
// names, a stopped run resumes to the weights of an uninterrupted one, and a resumed run refuses another seed.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShapesDiT } from '../nets/dit';
import type { Engine } from '../nn/engine';
import { loadModule, parseSafetensors } from '../nn/safetensors';
import { testEngine } from '../nn/testing';
import { readBytes } from './checkpoint';
import type { PretrainOptions } from './options';
import { loadTeacherRun } from './measure';
import { pretrainShapes, readInitialTeacher } from './pretrainShapes';
import { ShapesTextToImage } from './shapesModel';

let engine: Engine;
const dirs: string[] = [];
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const TINY = { textEncoder: { dim: 16, heads: 2, layers: 1 }, denoiser: { dim: 16, heads: 2, depth: 1, contextDim: 16 } };

function options(steps: number, resume = false, seed = 3): PretrainOptions {
  const out = dirs.at(-1)!;
  return { seed, steps, out, batch: 2, adapter: 'llvmpipe', resume, logEvery: 1000, checkpointEvery: 2 };
}

function temporary(): string {
  const dir = mkdtempSync(join(tmpdir(), 'senseflow-shapes-'));
  dirs.push(dir);
  return dir;
}

describe('pretrainShapes', () => {
  it('writes the EMA teacher and text encoder, and resumes exactly', async () => {
    temporary();
    const straight = await pretrainShapes(engine, options(4), { config: TINY, sampleCaptions: ['a red circle'] });
    const straightOut = dirs.at(-1)!;
    for (const file of ['teacher.safetensors', 'text-encoder.safetensors', 'config.json', 'loss.csv', 'samples.png', 'checkpoint/state.json']) {
      expect(existsSync(join(straightOut, file)), file).toBe(true);
    }
    const teacher = parseSafetensors(readBytes(join(straightOut, 'teacher.safetensors')));
    expect(teacher.tensors['blocks.0.crossAttn.kv.weight']!.shape).toEqual([16, 32]);
    const dit = new ShapesDiT(engine, TINY.denoiser);
    loadModule(dit, readBytes(join(straightOut, 'teacher.safetensors')));
    const config = JSON.parse(readFileSync(join(straightOut, 'config.json'), 'utf8'));
    expect(config.denoiser.dim).toBe(16);
    expect(config.training).toMatchObject({ batch: 2, training: { batch: 2 } }); // the run's batch, not the default's

    temporary();
    const first = await pretrainShapes(engine, options(2), { config: TINY, sampleCaptions: [] });
    first.model.dispose();
    first.ema.dispose();
    // A checkpoint from before the fix (training.batch was always the default's 32) still resumes.
    const statePath = join(dirs.at(-1)!, 'checkpoint', 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    writeFileSync(statePath, JSON.stringify({ ...state, training: { ...state.training, batch: 32 } }));
    const resumed = await pretrainShapes(engine, options(4, true), { config: TINY, sampleCaptions: [] });
    expect(resumed.summary.steps).toBe(2);
    const [a, b] = [await straight.ema.parameters()[5]!.read(), await resumed.ema.parameters()[5]!.read()];
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(readBytes(join(dirs.at(-1)!, 'teacher.safetensors'))).toEqual(readBytes(join(straightOut, 'teacher.safetensors')));

    await expect(pretrainShapes(engine, options(6, true, 4), { config: TINY, sampleCaptions: [] })).rejects.toThrow(
      'seed: the checkpoint has 3, this command gives 4',
    );
    for (const run of [straight, resumed]) {
      run.model.dispose();
      run.ema.dispose();
    }
    dit.dispose();
  }, 300_000); // three short runs and 50 sampling steps: ~30 s on llvmpipe, several times that on SwiftShader

  it('--repa trains a projector beside the teacher, checkpoints it, leaves it out of the teacher\'s files, and keys resume on it', async () => {
    const out = temporary();
    const repa = { weight: 0.5, depth: 1 };
    const run = await pretrainShapes(engine, { ...options(2), repa }, { config: TINY, sampleCaptions: [] });
    const checkpoint = parseSafetensors(readBytes(join(out, 'checkpoint', 'model.safetensors'))).tensors;
    expect(checkpoint['repaProjector.mlp.fc1.weight']!.shape).toEqual([16, 32]);
    expect(checkpoint['repaProjector.mlp.fc2.weight']!.shape).toEqual([32, 96]); // the evaluator's width
    const teacher = parseSafetensors(readBytes(join(out, 'teacher.safetensors'))).tensors;
    expect(Object.keys(teacher).some((name) => name.includes('repa'))).toBe(false);
    // `npm run measure -- --checkpoint` samples a REPA run's checkpoint: the teacher's networks, the projector ignored.
    const measured = loadTeacherRun(engine, out, 'ema');
    expect(Array.from(await measured.denoiser.final.linear.weight.read())).toEqual(Array.from(await run.ema.denoiser.final.linear.weight.read()));
    measured.dispose();
    const written = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).training;
    expect(written.training.repa).toEqual({ weight: 0.5, depth: 1, evaluator: { path: 'models/evaluator/evaluator.safetensors', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    // The projector learned (its last layer starts random and moves) and the loss holds both terms: on step 0 the
    // flow-matching term is the plain run's (same seed, same initial DiT), so the difference is 0.5 * L_REPA in (0, 1).
    const lossRows = (dir: string) => readFileSync(join(dir, 'loss.csv'), 'utf8').trim().split('\n').slice(1).map((row) => Number(row.split(',')[1]));
    temporary();
    const plain = await pretrainShapes(engine, options(2), { config: TINY, sampleCaptions: [] });
    const difference = lossRows(out)[0]! - lossRows(dirs.at(-1)!)[0]!;
    expect(difference).toBeGreaterThan(0);
    expect(difference).toBeLessThan(1);
    // loss.csv logs the two terms: step 0's fm is the plain run's loss, and loss = fm + 0.5 repa on every row.
    const [header, ...rows] = readFileSync(join(out, 'loss.csv'), 'utf8').trim().split('\n');
    expect(header).toBe('step,loss,lr,fm,repa');
    const [, loss, , fm, alignment] = rows[0]!.split(',').map(Number);
    expect(fm).toBeCloseTo(lossRows(dirs.at(-1)!)[0]!, 5);
    for (const row of rows) {
      const [, l, , f, r] = row.split(',').map(Number);
      expect(l).toBeCloseTo(f! + 0.5 * r!, 5);
    }
    expect(loss! - fm!).toBeCloseTo(difference, 5);
    expect(alignment).toBeGreaterThan(0);
    const initial = new ShapesTextToImage(engine, TINY, 3);
    initial.addRepaProjector(96, 2 * 3 + 7);
    expect(Array.from(await run.model.repaProjector!.mlp.fc2.weight.read())).not.toEqual(Array.from(await initial.repaProjector!.mlp.fc2.weight.read()));

    await expect(pretrainShapes(engine, { ...options(4, true), out, repa: { weight: 1, depth: 1 } }, { config: TINY, sampleCaptions: [] })).rejects.toThrow('training');
    await expect(pretrainShapes(engine, { ...options(4), repa: { weight: 0.5, depth: 2 } }, { config: TINY, sampleCaptions: [] })).rejects.toThrow('--repa-depth 2: the DiT has 1 blocks');
    for (const m of [run.model, run.ema, plain.model, plain.ema, initial]) m.dispose();
  }, 300_000);

  it('--init-from starts from a run\'s or a bundle\'s weights, counts its steps, and refuses a misfit', async () => {
    const source = temporary();
    const first = await pretrainShapes(engine, options(2), { config: TINY, sampleCaptions: [] });
    temporary();
    // A learning rate of 1e-20 leaves the weights where they start: the new run's EMA is the source's.
    const next = await pretrainShapes(engine, { ...options(1), lr: 1e-20, initFrom: source }, { config: TINY, sampleCaptions: [] });
    const written = JSON.parse(readFileSync(join(dirs.at(-1)!, 'config.json'), 'utf8')).training;
    expect(written.steps).toBe(3);
    expect(written.initialisedFrom).toMatchObject({ path: source, steps: 2 });
    const [a, b] = [await first.ema.parameters()[5]!.read(), await next.ema.parameters()[5]!.read()];
    Array.from(b).forEach((value, i) => expect(value).toBeCloseTo(a[i]!, 6));
    for (const run of [first, next]) {
      run.model.dispose();
      run.ema.dispose();
    }

    const other = new ShapesTextToImage(engine, { ...TINY, denoiser: { ...TINY.denoiser, dim: 32 } });
    expect(() => readInitialTeacher(source, other)).toThrow(`--init-from ${source}: its denoiser is`);
    expect(() => readInitialTeacher(temporary(), other)).toThrow('no manifest.json (a bundle), config.json (a finished pretraining run) or checkpoint/ (a stopped one) there');

    // A run stopped before its end (no config.json yet): its checkpoint's EMA, and its steps counted.
    rmSync(join(source, 'config.json'));
    expect(() => readInitialTeacher(source, other)).toThrow(`--init-from ${source}: its checkpoint's denoiser is`);
    const fromCheckpoint = new ShapesTextToImage(engine, TINY);
    const stopped = readInitialTeacher(source, fromCheckpoint);
    expect(stopped.from.steps).toBe(2);
    stopped.load(fromCheckpoint);
    const [saved, restored] = [parseSafetensors(readBytes(join(source, 'checkpoint', 'ema.safetensors'))).tensors['denoiser.final.linear.weight']!, fromCheckpoint.denoiser.final.linear.weight];
    expect(Array.from(await restored.read())).toEqual(Array.from(saved.data));
    fromCheckpoint.dispose();
    other.dispose();

    // A REPA run's stopped checkpoint also holds its projector: a run without REPA takes the teacher's networks alone.
    temporary();
    const aligned = await pretrainShapes(engine, { ...options(2), repa: { weight: 0.5, depth: 1 } }, { config: TINY, sampleCaptions: [] });
    rmSync(join(dirs.at(-1)!, 'config.json'));
    const plain = new ShapesTextToImage(engine, TINY);
    readInitialTeacher(dirs.at(-1)!, plain).load(plain);
    expect(Array.from(await plain.denoiser.final.linear.weight.read())).toEqual(Array.from(await aligned.ema.denoiser.final.linear.weight.read()));
    for (const m of [plain, aligned.model, aligned.ema]) m.dispose();

    // The bundled teacher: its checkpoints load into a default-sized model, byte for byte.
    const model = new ShapesTextToImage(engine);
    const initial = readInitialTeacher('models/shapes-teacher', model);
    expect(initial.from.steps).toBe(13184);
    initial.load(model);
    const bundled = parseSafetensors(readBytes('models/shapes-teacher/denoiser.safetensors')).tensors['final.linear.weight']!;
    const loaded = await model.denoiser.namedParameters().find(([name]) => name === 'final.linear.weight')![1].read();
    expect(Array.from(loaded)).toEqual(Array.from(bundled.data));
    model.dispose();
  }, 300_000);
});
