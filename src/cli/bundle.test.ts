// The bundle command on tiny runs made here (random weights in the layout the pretrain command writes):
// the bundle loads back through loadBundle, its ONNX runs on ORT, and the manifest records provenance,
// metrics and the measured ONNX parity. A checkpoint that does not fit its config is refused by name.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShapesDiT } from '../nets/dit';
import { TextEncoder } from '../nets/textEncoder';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import type { Module } from '../nn/module';
import { saveModule } from '../nn/safetensors';
import { testEngine } from '../nn/testing';
import { float32, int64, runOnnx } from '../onnx/exportOrt';
import { randomizeParameters } from '../onnx/exportTesting';
import { loadBundle } from '../pipeline/bundle';
import { directorySource } from '../pipeline/bundleWrite';
import { bundleRun, main, parseBundleOptions } from './bundle';

const TEXT = { dim: 16, heads: 2, layers: 1, mlpRatio: 2 };
const DIT = { dim: 16, heads: 2, depth: 1, contextDim: 16, mlpRatio: 2, frequencyDim: 16 };

let engine: Engine;
let dir: string;
beforeAll(async () => {
  engine = await testEngine();
  dir = mkdtempSync(join(tmpdir(), 'senseflow-bundle-cli-'));
  ort.env.wasm.numThreads = 1;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function writeWeights(path: string, net: Module, seed: number): Promise<void> {
  randomizeParameters(net, seed, 0.1);
  writeFileSync(path, await saveModule(net, { format: 'pt' }));
  net.dispose();
}

/** A shapes run folder as pretrainShapes writes it, with the given configs. */
async function shapesRun(name: string, configs: { textEncoder: object; denoiser: object }): Promise<string> {
  const run = join(dir, name);
  mkdirSync(run, { recursive: true });
  await writeWeights(join(run, 'text-encoder.safetensors'), new TextEncoder(engine, TEXT, 1), 1);
  await writeWeights(join(run, 'teacher.safetensors'), new ShapesDiT(engine, DIT, 2), 2);
  writeFileSync(join(run, 'config.json'), JSON.stringify({ ...configs, training: { seed: 5, batch: 2, steps: 3 } }));
  writeFileSync(join(run, 'loss.csv'), 'step,loss,lr\n1,0.5,0.001\n2,NaN,0.001\n3,0.25,0.001\n');
  writeFileSync(join(run, 'metrics.json'), JSON.stringify({ promptAccuracy: 0.25 }));
  return run;
}

describe('npm run bundle -- --kind shapes-teacher', () => {
  it('bundles a run: the bundle loads, its denoiser runs on ORT, the manifest says how it was made', async () => {
    const run = await shapesRun('shapes', { textEncoder: TEXT, denoiser: DIT });
    const out = join(dir, 'bundles', 'shapes-teacher');
    const argv = ['--kind', 'shapes-teacher', '--run', run, '--out', out, '--steps', '8'];
    const written = await bundleRun(engine, parseBundleOptions(argv));

    const { manifest, files } = await loadBundle(directorySource(out));
    expect(manifest).toEqual(written);
    expect(manifest.name).toBe('shapes-teacher');
    expect(manifest.files.map((f) => f.path)).toEqual([
      'denoiser.onnx',
      'denoiser.safetensors',
      'text_encoder.onnx',
      'text_encoder.safetensors',
      'tokenizer/special_tokens_map.json',
      'tokenizer/tokenizer.json',
      'tokenizer/tokenizer_config.json',
    ]);
    expect(manifest.steps).toEqual({ default: 8, schedule: 'euler-grid', sigmas: { '8': [1, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125] } });
    expect(manifest.provenance).toMatchObject({ command: `npm run bundle -- ${argv.join(' ')}`, seed: 5, steps: 3, source: run });
    expect(manifest.provenance.commit).toMatch(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
    expect(manifest.metrics.finalLoss).toBeCloseTo(0.375); // the NaN row is left out
    expect(manifest.metrics.promptAccuracy).toBe(0.25);
    const parity = manifest.metrics.onnxMaxAbsDiff as { textEncoder: number; denoiser: number };
    expect(parity.textEncoder).toBeLessThan(1e-4);
    expect(parity.denoiser).toBeLessThan(1e-4);
    expect(manifest.checkpoints?.denoiser?.config).toMatchObject(DIT);

    const velocity = await runOnnx(ort, files.get('denoiser.onnx')!, {
      sample: float32([1, 3, 32, 32], new Float32Array(3072).fill(0.5)),
      sigma: float32([1], [0.5]),
      encoder_hidden_states: float32([1, 24, 16], new Float32Array(24 * 16).fill(0.1)),
      encoder_attention_mask: float32([1, 24], new Float32Array(24).fill(1)),
      pooled_text: float32([1, 16], new Float32Array(16).fill(0.1)),
    });
    expect(velocity.velocity!.dims).toEqual([1, 3, 32, 32]);
    const text = await runOnnx(ort, files.get('text_encoder.onnx')!, { input_ids: int64([1, 24], new Array(24).fill(0)), attention_mask: int64([1, 24], new Array(24).fill(0)) });
    expect(text.pooler_output!.dims).toEqual([1, 16]);
  });

  it('refuses a checkpoint that does not fit the config, naming the file and the tensor', async () => {
    const run = await shapesRun('mismatch', { textEncoder: TEXT, denoiser: { ...DIT, depth: 2 } });
    const options = parseBundleOptions(['--kind', 'shapes-teacher', '--run', run, '--out', join(dir, 'bundles', 'mismatch')]);
    await expect(bundleRun(engine, options)).rejects.toThrow(/teacher\.safetensors does not fit the net config\.json describes: .*missing tensor "blocks\.1\.adaLN\.weight"/s);
  });

  it('names a folder that is not a run', async () => {
    const options = parseBundleOptions(['--kind', 'shapes-teacher', '--run', join(dir, 'nothing'), '--out', join(dir, 'bundles', 'nothing')]);
    await expect(bundleRun(engine, options)).rejects.toThrow(/nothing\/config\.json is missing: is .* a `npm run pretrain -- shapes` output folder\?/);
  });
});

describe('npm run bundle -- --kind toy2d', () => {
  it('bundles a mixture teacher with its label names and mode coverage', async () => {
    const run = join(dir, 'toy', 'ring');
    mkdirSync(run, { recursive: true });
    const config = { labels: 5, hidden: 16, embeddingDim: 8 };
    await writeWeights(join(run, 'teacher.safetensors'), new Toy2DTeacher(engine, config, 3), 3);
    writeFileSync(join(run, 'config.json'), JSON.stringify({ ...config, training: { mixture: 'ring', seed: 1, steps: 2 } }));
    writeFileSync(join(run, 'eval.json'), JSON.stringify({ results: [{ label: 'any', covered: 8 }] }));
    const out = join(dir, 'bundles', 'toy2d-ring');
    await bundleRun(engine, parseBundleOptions(['--kind', 'toy2d', '--run', run, '--out', out]));
    const { manifest } = await loadBundle(directorySource(out));
    expect(manifest.labels).toEqual(['any', 'east-west', 'northeast-southwest', 'north-south', 'northwest-southeast']);
    expect(manifest.denoiser.inputs).toEqual({ sample: 'sample', sigma: 'sigma', label: 'label' });
    expect(manifest.metrics.modeCoverage).toEqual({ results: [{ label: 'any', covered: 8 }] });
    expect(manifest.metrics.onnxMaxAbsDiff).toBeLessThan(1e-4);
    // The run's parent folder holds one teacher per mixture: the message says which to pass.
    await expect(bundleRun(engine, parseBundleOptions(['--kind', 'toy2d', '--run', join(dir, 'toy'), '--out', join(dir, 'x')]))).rejects.toThrow(
      /holds one teacher per mixture: pass --run .*toy\/ring$/,
    );
  });
});

describe('usage', () => {
  it('refuses a bad kind or a missing flag with the usage, exit status 2', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      expect(await main(['--kind', 'student', '--run', 'r', '--out', 'o'])).toBe(2);
      expect(await main(['--kind', 'toy2d', '--out', 'o'])).toBe(2);
    } finally {
      console.error = original;
    }
    expect(errors[0]).toMatch(/^--kind must be one of shapes-teacher, toy2d, got "student"\nusage: npm run bundle/);
    expect(errors[1]).toMatch(/^--run is required/);
  });
});
