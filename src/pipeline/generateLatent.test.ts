// The pipeline's plumbing for SD-Turbo-style bundles, on a tiny stand-in built here: epsilon prediction, an int64
// timestep input, latent space with a static latent size, no pooled text or attention mask, a decoder after
// latent / scale + shift. The stand-in nets have closed forms, so the whole run is checked against a host DDIM loop:
//   text encoder  last_hidden_state[b, l, :] = input_ids[b, l]                        (4 features)
//   denoiser      eps[b] = t[b] / 1000 + 0.01 * mean(encoder_hidden_states[b])     (the same value everywhere)
//   decoder       image = the first 3 latent channels, upsampled 2x (nearest)
import * as ortModule from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCaption } from '../data/tokenizer';
import { tokenizerFiles } from '../data/tokenizerFiles';
import type { Ort } from '../onnx/exportOrt';
import { attr, DataType, GraphBuilder } from '../onnx/graph';
import type { LoadedBundle } from './bundle';
import { FORMAT_VERSION } from './bundleFields';
import { Pipeline } from './generate';
import { alphaBar } from './generatePlan';
import { fileEntry, validateManifest } from './manifest';
import { gaussianNoise } from './noise';

const ort = ortModule as unknown as Ort;
const LATENT = [4, 4, 4] as const;
const SCALE = 0.5;
const SHIFT = 0.1;

function textEncoder(): Uint8Array {
  const g = new GraphBuilder('stand-in text encoder');
  const ids = g.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  const states = g.mul(g.unsqueeze(g.cast(ids, DataType.FLOAT), [2]), g.floats([4], [1, 1, 1, 1]));
  g.output(states, 'last_hidden_state', DataType.FLOAT, ['batch', 'sequence', 4]);
  return g.encode();
}

function denoiser(): Uint8Array {
  const g = new GraphBuilder('stand-in epsilon denoiser');
  const sample = g.input('sample', DataType.FLOAT, ['batch', ...LATENT]);
  const t = g.input('timestep', DataType.INT64, ['batch']);
  const states = g.input('encoder_hidden_states', DataType.FLOAT, ['batch', 'sequence', 4]);
  const time = g.div(g.cast(t, DataType.FLOAT), g.scalar(1000));
  const text = g.mul(g.op('ReduceMean', [states], [attr.ints('axes', [1, 2]), attr.int('keepdims', 0)]), g.scalar(0.01));
  const perRow = g.reshape(g.add(time, text), [-1, 1, 1, 1]);
  g.output(g.add(g.mul(sample, g.scalar(0)), perRow), 'noise_pred', DataType.FLOAT, ['batch', ...LATENT]);
  return g.encode();
}

function decoder(): Uint8Array {
  const g = new GraphBuilder('stand-in decoder');
  const latent = g.input('latent', DataType.FLOAT, ['batch', ...LATENT]);
  const rgb = g.op('Slice', [latent, g.int64s([0]), g.int64s([3]), g.int64s([1])]);
  const image = g.op('Resize', [rgb, '', g.floats([4], [1, 1, 2, 2])], [attr.string('mode', 'nearest')]);
  g.output(image, 'image', DataType.FLOAT, ['batch', 3, 8, 8]);
  return g.encode();
}

async function standInBundle(): Promise<LoadedBundle> {
  const files = new Map<string, Uint8Array>([
    ['text_encoder.onnx', textEncoder()],
    ['unet/model.onnx', denoiser()],
    ['vae_decoder/model.onnx', decoder()],
    ...Object.entries(tokenizerFiles()).map(([name, text]): [string, Uint8Array] => [`tokenizer/${name}`, new TextEncoder().encode(text)]),
  ]);
  const manifest = await validateManifest(
    {
      formatVersion: FORMAT_VERSION,
      name: 'latent-epsilon-stand-in',
      kind: 'epsilon',
      conditioning: 'text',
      resolution: { width: 8, height: 8 },
      space: { type: 'latent', channels: 4, scale: SCALE, shift: SHIFT },
      steps: { default: 2, schedule: 'anchors', sigmas: { '1': [999], '2': [999, 499] } },
      shift: 1,
      guidance: { default: 1 },
      textEncoder: { tokenizer: 'tokenizer', onnx: 'text_encoder.onnx', maxLength: 24, hiddenSize: 4, inputs: { inputIds: 'input_ids' }, outputs: { lastHiddenState: 'last_hidden_state' } },
      denoiser: { onnx: 'unet/model.onnx', inputs: { sample: 'sample', sigma: 'timestep', encoderHiddenStates: 'encoder_hidden_states' }, outputs: { prediction: 'noise_pred' } },
      decoder: { onnx: 'vae_decoder/model.onnx', inputs: { latent: 'latent' }, outputs: { image: 'image' } },
      files: await Promise.all([...files].map(([path, bytes]) => fileEntry(path, bytes))),
      provenance: { command: 'generateLatent.test.ts', commit: 'test', date: '2026-01-01T00:00:00.000Z' },
      metrics: {},
    },
    files,
  );
  return { manifest, files };
}

/** The host DDIM (Euler) or x0-renoise run of the stand-in, decoded. */
function expectedImage(prompt: string, seed: number, timesteps: number[], guidance: number): Float32Array {
  const mean = (text: string) => encodeCaption(text).ids.reduce((a, b) => a + b, 0) / 24;
  const size = LATENT[0] * LATENT[1] * LATENT[2];
  let x = Float64Array.from(gaussianNoise(seed, size), (e) => Math.sqrt(1 - alphaBar(timesteps[0]!)) * e);
  let x0 = x;
  timesteps.forEach((t, i) => {
    const eps = (text: string) => t / 1000 + 0.01 * mean(text);
    const e = eps('') + guidance * (eps(prompt) - eps(''));
    const ab = alphaBar(t);
    const abNext = i + 1 < timesteps.length ? alphaBar(timesteps[i + 1]!) : 1;
    x0 = x.map((v) => (v - Math.sqrt(1 - ab) * e) / Math.sqrt(ab));
    x = x0.map((v) => Math.sqrt(abNext) * v + Math.sqrt(1 - abNext) * e);
  });
  const image = new Float32Array(3 * 64);
  for (let c = 0; c < 3; c++) for (let y = 0; y < 8; y++) for (let xx = 0; xx < 8; xx++) image[c * 64 + y * 8 + xx] = x0[c * 16 + (y >> 1) * 4 + (xx >> 1)]! / SCALE + SHIFT;
  return image;
}

describe('an epsilon-prediction latent bundle (stand-in nets)', () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    ort.env.wasm.numThreads = 1;
    pipeline = await Pipeline.create(ort, await standInBundle(), { provider: 'wasm' });
  });

  it('reads the latent size from the denoiser input and decodes to the image size', () => {
    expect(pipeline.sampleShape).toEqual(LATENT);
  });

  it('runs DDIM with guidance, feeding int64 timesteps and the text states, then decodes latent / scale + shift', async () => {
    const result = await pipeline.generate({ prompt: 'a red circle', seed: 3, sampler: 'euler', guidance: 3 });
    expect(result.settings).toMatchObject({ steps: 2, sampler: 'euler', levels: [999, 499] });
    const [image] = result.images;
    expect(image).toMatchObject({ width: 8, height: 8, channels: 3, previews: [] });
    const expected = expectedImage('a red circle', 3, [999, 499], 3);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(image!.chw[i]! - expected[i]!));
    console.info(`worst |pipeline - host| ${worst.toExponential(2)} of max |image| ${Math.max(...expected.map(Math.abs)).toFixed(2)}`);
    expect(worst).toBeLessThan(1e-5 * Math.max(...expected.map(Math.abs)));
  });

  it('defaults to x0-renoise for a few-step bundle and refuses step counts it has no timesteps for', async () => {
    const result = await pipeline.generate({ prompt: 'a red circle', seed: 3, steps: 1 });
    expect(result.settings).toMatchObject({ sampler: 'x0', guidance: 1, levels: [999] });
    const expected = expectedImage('a red circle', 3, [999], 1); // one step: x0 of the first step, no renoise
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(result.images[0]!.chw[i]! - expected[i]!));
    console.info(`worst |pipeline - host| ${worst.toExponential(2)} of max |image| ${Math.max(...expected.map(Math.abs)).toFixed(2)}`);
    expect(worst).toBeLessThan(1e-5 * Math.max(...expected.map(Math.abs)));
    await expect(pipeline.generate({ prompt: 'a', seed: 1, steps: 4 })).rejects.toThrow('latent-epsilon-stand-in is a few-step model: it runs at 1, 2 steps, not 4');
  });
});
