// The export command on tiny distillation runs made here (random student weights in the teacher's layout, a
// config.json as `npm run distill` writes it, pointing at the bundled teachers): the bundle loads back through
// loadBundle as a few-step model, its ONNX computes what the engine computes with the student's weights, and the
// shapes student carries the teacher's text encoder byte for byte. Broken runs are refused by file and by tensor.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ShapesDiT } from '../nets/dit';
import { Toy2DTeacher } from '../nets/toy2d';
import { randn } from '../nn/host';
import type { Engine } from '../nn/engine';
import type { Module } from '../nn/module';
import { loadModule, parseSafetensors, saveModule, serializeSafetensors } from '../nn/safetensors';
import { fromArray, noGrad, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import { float32, int64, runOnnx } from '../onnx/exportOrt';
import { randomizeParameters } from '../onnx/exportTesting';
import { loadBundle } from '../pipeline/bundle';
import { directorySource } from '../pipeline/bundleWrite';
import { parseManifest } from '../pipeline/manifest';
import { defaultSampler, usesGuidance } from '../pipeline/modelInfo';
import { exportRun, main, parseExportOptions } from './export';

const ANCHORS = { '1': [1], '2': [1, 0.75], '4': [1, 0.9, 0.75, 0.5] };
const DISTILL = { batch: 4, generatorLr: 1e-5, fakeScoreLr: 1e-5, fakeStepsPerGeneratorStep: 5, idaLambda: 0.97 };
const RING_TEACHER = 'models/toy2d/ring';
const SHAPES_TEACHER = 'models/shapes-teacher';

let engine: Engine;
let dir: string;
beforeAll(async () => {
  engine = await testEngine();
  dir = mkdtempSync(join(tmpdir(), 'senseflow-export-cli-'));
  ort.env.wasm.numThreads = 1;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const teacherConfig = (teacher: string) => JSON.parse(readFileSync(join(teacher, 'manifest.json'), 'utf8')).checkpoints.denoiser.config;

async function randomWeights(net: Module, seed: number): Promise<Uint8Array> {
  randomizeParameters(net, seed, 0.1);
  const bytes = await saveModule(net);
  net.dispose();
  return bytes;
}

/** A run folder as `npm run distill` writes it. */
function distillRun(name: string, weights: Uint8Array | null, config: object): string {
  const run = join(dir, name);
  mkdirSync(run, { recursive: true });
  if (weights) writeFileSync(join(run, 'generator.safetensors'), weights);
  const common = { anchors: ANCHORS, shift: 3, arm: 'senseflow', seed: 7, iterations: 20, wallSeconds: 12.5, adapter: 'test adapter', command: 'npm run distill -- test' };
  writeFileSync(join(run, 'config.json'), JSON.stringify({ ...common, ...config, distill: DISTILL }));
  return run;
}

const toyRun = async (name: string, weights?: Uint8Array) =>
  distillRun(name, weights ?? (await randomWeights(new Toy2DTeacher(engine, teacherConfig(RING_TEACHER)), 3)), { task: 'toy2d', mixture: 'ring', teacher: RING_TEACHER });

describe('npm run export -- a toy2d run', () => {
  it('writes a few-step bundle whose ONNX computes the student the engine computes', async () => {
    const weights = await randomWeights(new Toy2DTeacher(engine, teacherConfig(RING_TEACHER)), 3);
    const run = await toyRun('toy', weights);
    writeFileSync(join(run, 'eval.json'), JSON.stringify({ steps: { '1': { offMode: 0.25 }, '4': { offMode: 0.125 } } }));
    const out = join(dir, 'bundles', 'toy-student');
    const argv = [run, '--out', out, '--name', 'toy2d-ring-student'];
    const written = await exportRun(engine, parseExportOptions(argv));

    const { manifest, files } = await loadBundle(directorySource(out));
    expect(manifest).toEqual(written);
    expect(manifest).toMatchObject({ name: 'toy2d-ring-student', kind: 'flow', conditioning: 'label', architecture: 'Toy2DTeacher', shift: 3, guidance: { default: 1 } });
    expect(manifest.steps).toEqual({ default: 4, schedule: 'anchors', sigmas: ANCHORS });
    expect(defaultSampler(manifest)).toBe('x0');
    expect(usesGuidance(manifest)).toBe(false);
    const teacher = parseManifest(readFileSync(join(RING_TEACHER, 'manifest.json')));
    expect(manifest.labels).toEqual(teacher.labels);
    expect(manifest.files.map((f) => f.path)).toEqual(['denoiser.onnx', 'denoiser.safetensors']);
    expect(files.get('denoiser.safetensors')).toEqual(weights);
    const teacherOnnx = teacher.files.find((f) => f.path === 'denoiser.onnx')!.sha256;
    expect(manifest.provenance).toMatchObject({
      command: `npm run export -- ${argv.join(' ')}`,
      seed: 7,
      steps: 20,
      wallSeconds: 12.5,
      adapter: 'test adapter',
      training: 'npm run distill -- test',
      source: `distilled from toy2d-ring (denoiser.onnx sha256 ${teacherOnnx}) in ${run}`,
    });
    expect(manifest.metrics.runEvaluation).toMatchObject({ steps: { '1': { offMode: 0.25 }, '4': { offMode: 0.125 } } });
    expect(manifest.metrics.steps).toBeUndefined();
    expect(manifest.metrics.distillation).toEqual({ arm: 'senseflow', ...DISTILL });
    expect(manifest.metrics.onnxMaxAbsDiff).toBeLessThan(1e-3);

    // ORT on the bundle's ONNX against the engine forward of a net loaded from the bundle's checkpoint.
    const net = new Toy2DTeacher(engine, manifest.checkpoints!.denoiser!.config);
    loadModule(net, files.get('denoiser.safetensors')!);
    const labels = [0, 1, 2, 3, 4, 0];
    const sigmas = [1, 0.9, 0.75, 0.5, 0.2, 0.05];
    const sample = Float32Array.from(randn([labels.length, 2], 5).data);
    const [engineOut] = tidy(engine, () =>
      noGrad(engine, () => [net.forward(fromArray(engine, [labels.length, 2], sample), fromArray(engine, [labels.length], sigmas), fromArray(engine, [labels.length], labels, 'u32'))]),
    );
    const expected = await engineOut!.read();
    engineOut!.dispose();
    net.dispose();
    const feeds = { sample: float32([labels.length, 2], sample), sigma: float32([labels.length], sigmas), label: int64([labels.length], labels) };
    const got = (await runOnnx(ort, files.get('denoiser.onnx')!, feeds)).velocity!.data as Float32Array;
    allclose(got, expected, { atol: 1e-4, rtol: 1e-4 }, 'ORT vs engine');
    // ... and it is the student's, not the teacher's.
    const fromTeacher = (await runOnnx(ort, new Uint8Array(readFileSync(join(RING_TEACHER, 'denoiser.onnx'))), feeds)).velocity!.data as Float32Array;
    expect(Math.max(...got.map((v, i) => Math.abs(v - fromTeacher[i]!)))).toBeGreaterThan(1e-2);
  });

  it("leaves out an eval.json of an earlier iteration than the generator's (a run stopped between evaluations)", async () => {
    const run = await toyRun('toy-stale-eval');
    writeFileSync(join(run, 'eval.json'), JSON.stringify({ steps: { '1': { offMode: 0.25 } }, iteration: 10 })); // the run is at 20
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const stale = await exportRun(engine, parseExportOptions([run, '--out', join(dir, 'bundles', 'toy-stale'), '--no-verify']));
    expect(stale.metrics.runEvaluation).toBeUndefined();
    expect(warned.mock.calls.flat().join('\n')).toContain('measured iteration 10, but the generator is of iteration 20');
    warned.mockRestore();
    writeFileSync(join(run, 'eval.json'), JSON.stringify({ steps: { '1': { offMode: 0.25 } }, iteration: 20 }));
    const current = await exportRun(engine, parseExportOptions([run, '--out', join(dir, 'bundles', 'toy-current'), '--no-verify']));
    expect(current.metrics.runEvaluation).toEqual({ steps: { '1': { offMode: 0.25 } }, iteration: 20 });
  });

  it('refuses a run without generator.safetensors, naming the file', async () => {
    const run = distillRun('no-generator', null, { task: 'toy2d', mixture: 'ring', teacher: RING_TEACHER });
    await expect(exportRun(engine, parseExportOptions([run, '--out', join(dir, 'x')]))).rejects.toThrow(/no-generator\/generator\.safetensors is missing: is .* a `npm run distill` output folder\?/);
  });

  it('refuses a run without config.json', async () => {
    mkdirSync(join(dir, 'empty'));
    await expect(exportRun(engine, parseExportOptions([join(dir, 'empty'), '--out', join(dir, 'x')]))).rejects.toThrow(/empty\/config\.json is missing/);
  });

  it('refuses weights whose tensor names are not the teacher architecture, naming the tensor', async () => {
    const good = parseSafetensors(await randomWeights(new Toy2DTeacher(engine, teacherConfig(RING_TEACHER)), 4)).tensors;
    const renamed = Object.fromEntries(Object.entries(good).map(([name, t]) => [name === 'mlp.layers.0.weight' ? 'mlp.layer0.weight' : name, t]));
    const run = await toyRun('renamed', serializeSafetensors(renamed));
    await expect(exportRun(engine, parseExportOptions([run, '--out', join(dir, 'x')]))).rejects.toThrow(
      /renamed\/generator\.safetensors does not fit the architecture of the teacher models\/toy2d\/ring .*missing tensor "mlp\.layers\.0\.weight".*unexpected tensor "mlp\.layer0\.weight"/s,
    );
  });

  it('refuses a teacher bundle that is not there, and anchors that are not a schedule', async () => {
    const weights = await randomWeights(new Toy2DTeacher(engine, teacherConfig(RING_TEACHER)), 5);
    const run = distillRun('no-teacher', weights, { task: 'toy2d', mixture: 'ring', teacher: 'models/toy2d/circle' });
    await expect(exportRun(engine, parseExportOptions([run, '--out', join(dir, 'x')]))).rejects.toThrow(/config\.json: teacher is "models\/toy2d\/circle", but models\/toy2d\/circle\/manifest\.json is missing/);
    const badAnchors = distillRun('bad-anchors', weights, { task: 'toy2d', mixture: 'ring', teacher: RING_TEACHER, anchors: { '2': [0.5, 1] } });
    await expect(exportRun(engine, parseExportOptions([badAnchors, '--out', join(dir, 'x')]))).rejects.toThrow(/config\.json: anchors\.2\[1\] is 1; the levels must decrease/);
  });
});

describe('npm run export -- a shapes run', () => {
  it('exports the student denoiser and copies the teacher text encoder byte for byte', async () => {
    const run = distillRun('shapes', await randomWeights(new ShapesDiT(engine, teacherConfig(SHAPES_TEACHER)), 6), { task: 'shapes', teacher: SHAPES_TEACHER });
    const out = join(dir, 'bundles', 'shapes-student');
    await exportRun(engine, parseExportOptions([run, '--out', out]));
    const { manifest } = await loadBundle(directorySource(out));
    const teacher = parseManifest(readFileSync(join(SHAPES_TEACHER, 'manifest.json')));
    expect(manifest.name).toBe('shapes-student');
    expect(manifest.steps).toEqual({ default: 4, schedule: 'anchors', sigmas: ANCHORS });
    expect(manifest.textEncoder).toEqual(teacher.textEncoder);
    expect(manifest.checkpoints?.textEncoder).toEqual(teacher.checkpoints?.textEncoder);
    const copied = ['text_encoder.onnx', 'text_encoder.safetensors', 'tokenizer/special_tokens_map.json', 'tokenizer/tokenizer.json', 'tokenizer/tokenizer_config.json'];
    for (const path of copied) expect(manifest.files.find((f) => f.path === path)).toEqual(teacher.files.find((f) => f.path === path));
    const denoiserHash = (m: typeof manifest) => m.files.find((f) => f.path === 'denoiser.onnx')!.sha256;
    expect(denoiserHash(manifest)).not.toBe(denoiserHash(teacher));
    const parity = manifest.metrics.onnxMaxAbsDiff as { textEncoder: number; denoiser: number };
    expect(parity.textEncoder).toBeLessThan(1e-3);
    expect(parity.denoiser).toBeLessThan(1e-3);
  });

  it('refuses a teacher whose text encoder differs from its manifest, naming the file', async () => {
    const teacher = join(dir, 'changed-teacher');
    cpSync(SHAPES_TEACHER, teacher, { recursive: true });
    const onnx = readFileSync(join(teacher, 'text_encoder.onnx'));
    onnx[onnx.length - 1] = onnx[onnx.length - 1]! ^ 1;
    writeFileSync(join(teacher, 'text_encoder.onnx'), onnx);
    const run = distillRun('changed', await randomWeights(new ShapesDiT(engine, teacherConfig(SHAPES_TEACHER)), 6), { task: 'shapes', teacher });
    await expect(exportRun(engine, parseExportOptions([run, '--out', join(dir, 'x'), '--no-verify']))).rejects.toThrow(/changed-teacher\/text_encoder\.onnx: sha256 [0-9a-f]{64} differs from the [0-9a-f]{64} that .*manifest\.json lists/);
  });
});

describe('usage', () => {
  it('refuses a missing run folder or --out with the usage, exit status 2', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      expect(await main(['--out', 'o'])).toBe(2);
      expect(await main(['runs/a'])).toBe(2);
    } finally {
      console.error = original;
    }
    expect(errors[0]).toMatch(/^the run folder is required .*\nusage: npm run export/);
    expect(errors[1]).toMatch(/^--out is required/);
  });
});
