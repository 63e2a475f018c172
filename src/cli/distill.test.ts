// `npm run distill` on the toy: --init-from (the generator starts from a student's weights, a distill run folder or a
// student bundle; a folder that is neither, or weights of another shape, are refused), --steps 0 (measure only),
// --ema (the moving average is the run's student), --regression (the teacher pairs stored and reused), and --resume refusing a teacher whose weights changed in place.
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { parseSafetensors, saveModule, serializeSafetensors } from '../nn/safetensors';
import { testEngine } from '../nn/testing';
import { randomizeParameters } from '../onnx/exportTesting';
import { readBytes } from './checkpoint';
import { distill, initialGenerator, parseDistillOptions } from './distill';

let engine: Engine;
const root = mkdtempSync(join(tmpdir(), 'senseflow-distill-cli-'));
beforeAll(async () => {
  engine = await testEngine();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function studentFolder(name: string, config: object): Promise<string> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const net = new Toy2DTeacher(engine, config, 7);
  randomizeParameters(net, 41, 0.2);
  writeFileSync(join(dir, 'generator.safetensors'), await saveModule(net));
  net.dispose();
  return dir;
}

describe('distill --init-from', () => {
  it('starts the generator from a run folder\'s student, and refuses what is not one', { timeout: 180_000 }, async () => {
    const student = await studentFolder('student', { labels: 5, hidden: 128 });
    const out = join(root, 'run');
    // A learning rate of 1e-12 keeps one iteration's update below float32 resolution of these weights.
    const options = parseDistillOptions(['toy2d', '--steps', '1', '--batch', '16', '--lr', '1e-12', '--eval-every', '1', '--out', out, '--init-from', student, '--adapter', 'llvmpipe']);
    expect(options.initFrom).toBe(student);
    await distill(engine, options);
    const started = parseSafetensors(readBytes(join(student, 'generator.safetensors'))).tensors;
    const after = parseSafetensors(readBytes(join(out, 'generator.safetensors'))).tensors;
    for (const [name, tensor] of Object.entries(started)) {
      const values = after[name]!.data;
      tensor.data.forEach((v, i) => expect(Math.abs(values[i]! - v), name).toBeLessThan(1e-6));
    }
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).initFrom).toBe(student);

    const empty = join(root, 'empty');
    mkdirSync(empty);
    expect(() => initialGenerator(empty)).toThrow('neither a bundle (manifest.json) nor a distill run folder (generator.safetensors)');
    const wrong = await studentFolder('grid-student', { labels: 11, hidden: 256 });
    await expect(distill(engine, parseDistillOptions(['toy2d', '--steps', '1', '--batch', '16', '--out', join(root, 'run2'), '--init-from', wrong]))).rejects.toThrow(
      `--init-from ${wrong}: its generator does not fit the teacher models/toy2d/ring`,
    );
    // A student bundle: the engine checkpoint its manifest names.
    expect(initialGenerator('models/shapes-senseflow')).toEqual(readBytes('models/shapes-senseflow/denoiser.safetensors'));
    // ...read under the text encoder it was distilled with: the bundled student's is the bundled teacher's...
    expect(initialGenerator('models/shapes-senseflow', 'models/shapes-teacher')).toEqual(readBytes('models/shapes-senseflow/denoiser.safetensors'));
    // ...and a teacher trained further since (another text encoder; here its manifest with the first teacher's hash) is refused.
    const retrained = join(root, 'retrained-teacher');
    mkdirSync(retrained);
    const manifest = readFileSync('models/shapes-teacher/manifest.json', 'utf8');
    expect(manifest).toContain('98d493e9d3781e21');
    writeFileSync(join(retrained, 'manifest.json'), manifest.replace(/98d493e9d3781e21[0-9a-f]{48}/, '8183c8dd485dadc02dbf37f91649c2b18f249abfb651f395bc521468791743af'));
    expect(() => initialGenerator('models/shapes-senseflow', retrained)).toThrow(
      new RegExp(`^--init-from models/shapes-senseflow: its text encoder \\(sha256 98d493e9d378\\.\\.\\.\\) is not the one of the teacher ${retrained} \\(8183c8dd485d\\.\\.\\.\\).*drop --init-from`),
    );
  });
});

describe('distill --steps 0', () => {
  it("measures the starting generator without training: eval.json at iteration 0, the student's weights unchanged", { timeout: 180_000 }, async () => {
    const student = await studentFolder('measured-student', { labels: 5, hidden: 128 });
    const out = join(root, 'measure');
    const { iterations, evaluation } = await distill(engine, parseDistillOptions(['toy2d', '--steps', '0', '--batch', '16', '--out', out, '--init-from', student, '--adapter', 'llvmpipe']));
    expect(iterations).toBe(0);
    const written = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect(written.iteration).toBe(0);
    expect(written.steps).toEqual(evaluation.steps);
    expect(Object.keys(written.steps).sort()).toEqual(['1', '2', '4']);
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.kind)).toEqual(['eval']);
    expect(readBytes(join(out, 'generator.safetensors'))).toEqual(readBytes(join(student, 'generator.safetensors')));
    expect(() => parseDistillOptions(['toy2d', '--steps', '-1', '--out', out])).toThrow('--steps');
  });
});

describe('distill --ema', () => {
  it('keeps a moving average of the generator, checkpointed, and writes it as the run\'s student', { timeout: 180_000 }, async () => {
    expect(parseDistillOptions(['toy2d', '--out', 'x', '--ema', '0.99']).config.emaDecay).toBe(0.99);
    // Off (or 0) leaves the setting out, so such a run's settings are those of a run made before the option.
    expect('emaDecay' in parseDistillOptions(['toy2d', '--out', 'x', '--ema', 'off']).config).toBe(false);
    expect('emaDecay' in parseDistillOptions(['toy2d', '--out', 'x', '--ema', '0']).config).toBe(false);
    expect(() => parseDistillOptions(['toy2d', '--out', 'x', '--ema', '1'])).toThrow('--ema must be a decay in [0, 1) or "off"');

    const out = join(root, 'ema');
    await distill(engine, parseDistillOptions(['toy2d', '--steps', '3', '--batch', '16', '--eval-every', '100', '--ema', '0.5', '--out', out, '--adapter', 'llvmpipe']));
    const student = readBytes(join(out, 'generator.safetensors'));
    expect(student).toEqual(readBytes(join(out, 'checkpoint', 'ema.safetensors')));
    expect(student).not.toEqual(readBytes(join(out, 'checkpoint', 'generator.safetensors')));
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).distill.emaDecay).toBe(0.5);

    // A run made without the average resumes with one added (the trajectory is the same); other changes are refused.
    const plain = join(root, 'ema-added');
    await distill(engine, parseDistillOptions(['toy2d', '--steps', '2', '--batch', '16', '--eval-every', '100', '--ttur', '1', '--checkpoint-every', '1', '--out', plain, '--adapter', 'llvmpipe']));
    const live = readBytes(join(plain, 'checkpoint', 'generator.safetensors'));
    await distill(engine, parseDistillOptions(['toy2d', '--steps', '4', '--batch', '16', '--eval-every', '100', '--ttur', '1', '--checkpoint-every', '1', '--out', plain, '--resume', '--ema', '0.9', '--adapter', 'llvmpipe']));
    expect(readBytes(join(plain, 'generator.safetensors'))).toEqual(readBytes(join(plain, 'checkpoint', 'ema.safetensors')));
    expect(readBytes(join(plain, 'checkpoint', 'generator.safetensors'))).not.toEqual(live);
    await expect(distill(engine, parseDistillOptions(['toy2d', '--steps', '6', '--batch', '32', '--ttur', '1', '--out', plain, '--resume', '--ema', '0.9']))).rejects.toThrow('distill: the checkpoint has');
  });
});

describe('distill --regression', () => {
  it('stores the teacher pairs in the run folder and a resumed run reads them instead of integrating the teacher again', { timeout: 180_000 }, async () => {
    const options = parseDistillOptions(['toy2d', '--out', 'x', '--regression', '0.5', '--regression-pairs', '64']).config;
    expect([options.regressionWeight, options.regressionPairs]).toEqual([0.5, 64]);
    // Off (or 0) leaves the settings out, so such a run's resume key is that of a run made before the option.
    expect('regressionWeight' in parseDistillOptions(['toy2d', '--out', 'x', '--regression', 'off']).config).toBe(false);
    expect('regressionWeight' in parseDistillOptions(['toy2d', '--out', 'x', '--regression', '0']).config).toBe(false);
    expect(() => parseDistillOptions(['toy2d', '--out', 'x', '--regression-pairs', '64'])).toThrow('--regression-pairs needs --regression W');
    expect(() => parseDistillOptions(['toy2d', '--out', 'x', '--regression', 'lots'])).toThrow('--regression must be a weight >= 0 or "off"');
    expect(parseDistillOptions(['toy2d', '--out', 'x', '--regression', '1', '--regression-anchors', 'all']).config.regressionAnchors).toBe('all');
    expect('regressionAnchors' in parseDistillOptions(['toy2d', '--out', 'x', '--regression', '1', '--regression-anchors', 'first']).config).toBe(false);
    expect(() => parseDistillOptions(['toy2d', '--out', 'x', '--regression-anchors', 'all'])).toThrow('--regression-anchors needs --regression W');
    expect(() => parseDistillOptions(['toy2d', '--out', 'x', '--regression', '1', '--regression-anchors', 'last'])).toThrow('--regression-anchors must be first or all, got "last"');
    expect(parseDistillOptions(['shapes', '--out', 'x', '--regression', '1', '--guidance', '2:4', '--regression-guidance', '4']).config).toMatchObject({ guidance: [2, 4], regressionGuidance: 4 });
    expect('regressionGuidance' in parseDistillOptions(['shapes', '--out', 'x', '--regression', '1']).config).toBe(false);
    expect(() => parseDistillOptions(['toy2d', '--out', 'x', '--regression-guidance', '4'])).toThrow('--regression-guidance needs --regression W');
    expect(parseDistillOptions(['shapes', '--out', 'x', '--dmd-guidance-max', '0.75']).config.dmdGuidanceMaxSigma).toBe(0.75);
    expect('dmdGuidanceMaxSigma' in parseDistillOptions(['shapes', '--out', 'x']).config).toBe(false);
    expect(() => parseDistillOptions(['shapes', '--out', 'x', '--dmd-guidance-max', '1.5'])).toThrow('--dmd-guidance-max must be a noise level in (0, 1]');

    const out = join(root, 'regression');
    const args = (steps: number) => ['toy2d', '--steps', String(steps), '--batch', '16', '--eval-every', '100', '--ttur', '1', '--checkpoint-every', '1', '--regression', '1', '--regression-pairs', '32', '--out', out, '--resume', '--adapter', 'llvmpipe'];
    await distill(engine, parseDistillOptions(args(2)));
    const path = join(out, 'regression-pairs.safetensors');
    const stored = readBytes(path);
    expect(Object.keys(parseSafetensors(stored).tensors).sort()).toEqual(['noise.0', 'noise.1', 'sample.0', 'sample.1']);
    const train = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line)).filter((r) => r.kind === 'train');
    expect(train.every((r) => Number.isFinite(r.regressionLoss))).toBe(true);
    // A resumed run reads the stored pairs: a marked copy is still there afterwards (integrating again would replace it).
    const marked = parseSafetensors(stored);
    marked.tensors['sample.0']!.data.fill(0);
    writeFileSync(path, serializeSafetensors(marked.tensors, marked.metadata));
    await distill(engine, parseDistillOptions(args(3)));
    expect(readBytes(path)).toEqual(serializeSafetensors(marked.tensors, marked.metadata));
    // Pairs of another seed are refused, naming the file and what to do.
    const otherSeed = args(4).filter((a) => a !== '--resume').concat('--seed', '2');
    await expect(distill(engine, parseDistillOptions(otherSeed))).rejects.toThrow(/regression-pairs\.safetensors: the stored teacher pairs were made with seed 1, this run needs 2/);
    // A new run asking for more pairs in a folder that holds fewer (or a run stopped while integrating) keeps the
    // stored chunks and integrates only the rest.
    const more = join(root, 'regression-more');
    mkdirSync(more, { recursive: true });
    writeFileSync(join(more, 'regression-pairs.safetensors'), serializeSafetensors(marked.tensors, marked.metadata));
    const moreArgs = args(1).map((a) => (a === out ? more : a === '32' ? '48' : a)).filter((a) => a !== '--resume');
    await distill(engine, parseDistillOptions(moreArgs));
    const grown = parseSafetensors(readBytes(join(more, 'regression-pairs.safetensors'))).tensors;
    expect(Object.keys(grown).sort()).toEqual(['noise.0', 'noise.1', 'noise.2', 'sample.0', 'sample.1', 'sample.2']);
    expect(grown['sample.0']!.data.every((v) => v === 0)).toBe(true); // the marked chunk kept, not integrated again
    expect(grown['sample.1']!.data).toEqual(parseSafetensors(stored).tensors['sample.1']!.data);
    expect(grown['sample.2']!.data.some((v) => v !== 0)).toBe(true);
  });
});

describe('distill --resume', () => {
  it('refuses a teacher retrained in place (same folder, other weights), naming both hashes', { timeout: 180_000 }, async () => {
    const teacherDir = join(root, 'ring-teacher');
    cpSync('models/toy2d/ring', teacherDir, { recursive: true });
    const manifestText = readFileSync(join(teacherDir, 'manifest.json'), 'utf8');
    const bundled = createHash('sha256').update(readBytes(join(teacherDir, 'denoiser.safetensors'))).digest('hex');
    const out = join(root, 'resumed');
    const args = (steps: number) => ['toy2d', '--teacher', teacherDir, '--steps', String(steps), '--batch', '16', '--eval-every', '100', '--checkpoint-every', '1', '--out', out, '--resume', '--adapter', 'llvmpipe'];
    await distill(engine, parseDistillOptions(args(1)));
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).teacherWeights).toEqual({ denoiser: bundled });
    expect(JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).teacherWeights).toEqual({ denoiser: bundled });

    // The same folder, other weights (a valid bundle: its manifest lists their hash).
    const config = (JSON.parse(manifestText) as { checkpoints: { denoiser: { config: object } } }).checkpoints.denoiser.config;
    const other = new Toy2DTeacher(engine, config, 3);
    randomizeParameters(other, 5, 0.2);
    const weights = await saveModule(other);
    other.dispose();
    const retrained = createHash('sha256').update(weights).digest('hex');
    writeFileSync(join(teacherDir, 'denoiser.safetensors'), weights);
    writeFileSync(join(teacherDir, 'manifest.json'), manifestText.replace(bundled, retrained));
    await expect(distill(engine, parseDistillOptions(args(2)))).rejects.toThrow(`teacherWeights: the checkpoint has {"denoiser":"${bundled}"}, this command gives {"denoiser":"${retrained}"}`);

    // A checkpoint from before the weights were recorded is matched on the rest (path, settings), as it was then.
    const statePath = join(out, 'checkpoint', 'state.json');
    const { teacherWeights: _, ...older } = JSON.parse(readFileSync(statePath, 'utf8')) as Record<string, unknown>;
    writeFileSync(statePath, JSON.stringify(older));
    const { iterations } = await distill(engine, parseDistillOptions(args(2)));
    expect(iterations).toBe(2);
  });
});
