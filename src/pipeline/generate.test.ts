// The inference pipeline on the bundled Shapes teacher (models/shapes-teacher), on ORT's wasm provider in Node:
// reproducible seeds, batches equal to single runs, the same numbers as a plain host-side sampler over the same ONNX
// files, an image that shows the caption's colours, cancellation, and "latest wins". A few steps each, so the file
// stays well under a minute on two busy cores.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortModule from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colorValue, toRGBA } from '../data/render';
import { encodeCaption, encodeCaptionBatch } from '../data/tokenizer';
import { cfgCombine, eulerStep, x0FromVelocity } from '../flow/samplers';
import { eulerSigmas } from '../flow/schedule';
import type { Ort } from '../onnx/exportOrt';
import { type LoadedBundle, loadBundle } from './bundle';
import { directorySource } from './bundleWrite';
import { denoiserSha256, type GenerateResult, LatestWins, Pipeline, webGpuAvailability } from './generate';
import { loadBundleTokenizer } from './generateText';
import { gaussianNoise } from './noise';

const ort = ortModule as unknown as Ort;
const SHAPES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'shapes-teacher');
const PROMPT = 'a red circle at the top left on a blue background';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe.skipIf(!existsSync(join(SHAPES_DIR, 'manifest.json')))('the pipeline on models/shapes-teacher (wasm)', () => {
  let bundle: LoadedBundle;
  let pipeline: Pipeline;
  /** 4 guided Euler steps of PROMPT from seed 11: the reference several tests compare against. */
  let reference: GenerateResult;
  beforeAll(async () => {
    ort.env.wasm.numThreads = 1;
    bundle = await loadBundle(directorySource(SHAPES_DIR));
    pipeline = await Pipeline.create(ort, bundle, { provider: 'wasm' });
    reference = await pipeline.generate({ prompt: PROMPT, seed: 11, steps: 4, previews: true });
  });
  afterAll(() => pipeline?.release());

  it('says what it ran: provider, model, settings with the defaults filled in, timings', () => {
    expect(pipeline.provider).toBe('wasm');
    expect(reference.provider).toBe('wasm');
    expect(reference.model).toEqual({ name: 'shapes-teacher', sha256: denoiserSha256(bundle.manifest) });
    expect(reference.model.sha256).toBe(bundle.manifest.files.find((f) => f.path === 'denoiser.onnx')!.sha256);
    expect(reference.settings).toEqual({ prompt: PROMPT, seed: 11, steps: 4, sampler: 'euler', guidance: 4, batch: 1, levels: [1, 0.75, 0.5, 0.25] });
    const [image] = reference.images;
    expect(image).toMatchObject({ seed: 11, width: 32, height: 32, channels: 3 });
    expect(image!.chw.length).toBe(3 * 32 * 32);
    expect(image!.rgba).toEqual(toRGBA(image!.chw, 3, 32, 32));
    expect(image!.previews.length).toBe(4);
    expect(image!.previews[3]).toEqual(image!.chw); // the last x0 estimate is the image
    const t = reference.timings;
    expect(t.stepMs.length).toBe(4);
    expect(t.denoiserMs.length).toBe(4);
    for (const value of [t.tokenizeMs, t.textEncoderMs, t.decodeMs, t.totalMs, ...t.stepMs, ...t.denoiserMs]) expect(value).toBeGreaterThanOrEqual(0);
    const models = t.textEncoderMs + t.denoiserMs.reduce((a, b) => a + b, 0);
    expect(t.pipelineOverheadMs).toBeCloseTo(t.totalMs - models, 6);
    console.info(`4 guided steps on wasm: ${JSON.stringify(t, (_, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);
  });

  it('warms up with a one-step generation', async () => {
    await expect(pipeline.warmUp()).resolves.toBeUndefined();
  });

  it('tokenizes with AutoTokenizer from the bundle bytes exactly as the pure-TS encoder', async () => {
    const tokenizer = await loadBundleTokenizer(ort, bundle, bundle.manifest.textEncoder!);
    for (const text of [PROMPT, '', 'A Large BLUE square, please!']) {
      const encoded = tokenizer(text, { padding: 'max_length', truncation: true, max_length: 24, return_tensor: false }) as { input_ids: number[]; attention_mask: number[] };
      expect(encoded.input_ids, text).toEqual(encodeCaption(text).ids);
      expect(encoded.attention_mask, text).toEqual(encodeCaption(text).attentionMask);
    }
  });

  it('computes what a plain host-side sampler over the same ONNX files computes (tokens, guidance rows, Euler)', async () => {
    const options = { executionProviders: ['wasm'] };
    const textSession = await ort.InferenceSession.create(bundle.files.get('text_encoder.onnx')!, options);
    const denoiser = await ort.InferenceSession.create(bundle.files.get('denoiser.onnx')!, options);
    try {
      const tokens = encodeCaptionBatch([PROMPT, '']);
      const int64 = (values: ArrayLike<number>) => new ort.Tensor('int64', BigInt64Array.from(Array.from(values, BigInt)), [2, 24]);
      const text = await textSession.run({ input_ids: int64(tokens.ids), attention_mask: int64(tokens.attentionMask) });
      const sigmas = eulerSigmas(4);
      let x = gaussianNoise(11, 3072);
      for (let i = 0; i < 4; i++) {
        const s = sigmas[i]!;
        const out = await denoiser.run({
          sample: new ort.Tensor('float32', Float32Array.of(...x, ...x), [2, 3, 32, 32]),
          sigma: new ort.Tensor('float32', Float32Array.of(s, s), [2]),
          encoder_hidden_states: text.last_hidden_state!,
          encoder_attention_mask: new ort.Tensor('float32', tokens.attentionMask, [2, 24]),
          pooled_text: text.pooler_output!,
        });
        const v2 = out.velocity!.data as Float32Array;
        const v = cfgCombine(v2.slice(3072), v2.slice(0, 3072), 4);
        expect(maxAbsDiff(reference.images[0]!.previews[i]!, x0FromVelocity(x, v, s)), `x0 after step ${i}`).toBeLessThan(1e-4);
        x = eulerStep(x, v, s, sigmas[i + 1]!);
      }
      expect(maxAbsDiff(reference.images[0]!.chw, x)).toBeLessThan(1e-4);
    } finally {
      await textSession.release();
      await denoiser.release();
    }
  });

  it('gives the identical image for the same seed and settings, and another for another seed', async () => {
    const again = await pipeline.generate({ prompt: PROMPT, seed: 11, steps: 4 });
    expect(maxAbsDiff(again.images[0]!.chw, reference.images[0]!.chw)).toBe(0);
    const other = await pipeline.generate({ prompt: PROMPT, seed: 12, steps: 4 });
    expect(maxAbsDiff(other.images[0]!.chw, reference.images[0]!.chw)).toBeGreaterThan(0.1);
  });

  it('makes a batch of N from seeds seed .. seed + N - 1 equal to N single runs', async () => {
    for (const sampler of ['euler', 'x0'] as const) {
      const batch = await pipeline.generate({ prompt: PROMPT, seed: 11, steps: 3, sampler, batch: 2 });
      expect(batch.images.map((i) => i.seed)).toEqual([11, 12]);
      expect(batch.timings.denoiserMs.length).toBe(3); // one denoiser call per step for the batch
      for (let b = 0; b < 2; b++) {
        const single = await pipeline.generate({ prompt: PROMPT, seed: 11 + b, steps: 3, sampler });
        expect(maxAbsDiff(batch.images[b]!.chw, single.images[0]!.chw), `${sampler}, image ${b}`).toBeLessThan(1e-5);
      }
    }
  });

  it('batches different prompts and seeds (generateEach): each image is the one its prompt and seed give alone', async () => {
    const items = [
      { prompt: 'a green square on a red background', seed: 40 },
      { prompt: PROMPT, seed: 11 },
      { prompt: 'a large yellow cross', seed: 7 },
    ];
    for (const sampler of ['euler', 'x0'] as const) {
      const batch = await pipeline.generateEach(items, { steps: 3, sampler });
      expect(batch.images.map(({ prompt, seed }) => ({ prompt, seed }))).toEqual(items);
      expect(batch.settings).toMatchObject({ prompt: items[0]!.prompt, seed: 40, batch: 3, steps: 3, sampler });
      expect(batch.timings.denoiserMs.length).toBe(3); // one denoiser call per step for all three
      for (const [i, item] of items.entries()) {
        const single = await pipeline.generate({ ...item, steps: 3, sampler });
        expect(maxAbsDiff(batch.images[i]!.chw, single.images[0]!.chw), `${sampler}, image ${i}`).toBeLessThan(1e-5);
      }
    }
    await expect(pipeline.generateEach([])).rejects.toThrow('generateEach takes 1 to 64 images, got 0');
    await expect(pipeline.generateEach([{ prompt: PROMPT, seed: 1 }, { prompt: PROMPT, seed: 1.5 }])).rejects.toThrow('image 1: seed must be an integer in [0, 2^32), got 1.5');
  });

  it('draws the caption: a blue background and a red object at the top left (10 guided Euler steps)', async () => {
    const result = await pipeline.generate({ prompt: PROMPT, seed: 1, steps: 10, batch: 2 });
    const blue = colorValue('blue');
    const red = colorValue('red');
    const near = (v: number[], c: number[]) => Math.max(...v.map((x, k) => Math.abs(x - c[k]!))) < 0.35;
    for (const image of result.images) {
      const pixel = (x: number, y: number) => [0, 1, 2].map((c) => image.chw[c * 1024 + y * 32 + x]!);
      let border = 0;
      let borderBlue = 0;
      let redCount = 0;
      let redTopLeft = 0;
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const v = pixel(x, y);
          if (x === 0 || y === 0 || x === 31 || y === 31) {
            border++;
            if (near(v, blue)) borderBlue++;
          }
          if (near(v, red)) {
            redCount++;
            if (x < 16 && y < 16) redTopLeft++;
          }
        }
      }
      console.info(`seed ${image.seed}: border blue ${borderBlue}/${border}, red ${redCount} (${redTopLeft} top left)`);
      expect(borderBlue / border, `seed ${image.seed}: blue border`).toBeGreaterThan(0.8);
      expect(redCount, `seed ${image.seed}: red pixels`).toBeGreaterThanOrEqual(20);
      expect(redTopLeft / redCount, `seed ${image.seed}: red at the top left`).toBeGreaterThan(0.8);
    }
  });

  it('rejects an aborted generation with an AbortError and stays usable', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const aborted = pipeline.generate(
      { prompt: PROMPT, seed: 11, steps: 4 },
      {
        signal: controller.signal,
        onStep: ({ step }) => {
          steps.push(step);
          if (step === 1) controller.abort();
        },
      },
    );
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual([0, 1]);
    await expect(pipeline.generate({ prompt: PROMPT, seed: 11, steps: 4 }, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const after = await pipeline.generate({ prompt: PROMPT, seed: 11, steps: 4 });
    expect(maxAbsDiff(after.images[0]!.chw, reference.images[0]!.chw)).toBe(0);
  });

  it('lets the latest request win: a new prompt replaces the running one', async () => {
    const latest = new LatestWins<GenerateResult>();
    let startedFirst!: () => void;
    const firstRunning = new Promise<void>((resolve) => (startedFirst = resolve));
    const first = latest.run((signal) => pipeline.generate({ prompt: 'a green square', seed: 5, steps: 8 }, { signal, onStep: () => startedFirst() }));
    await firstRunning;
    const second = latest.run((signal) => pipeline.generate({ prompt: PROMPT, seed: 11, steps: 4 }, { signal }));
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    expect(maxAbsDiff((await second).images[0]!.chw, reference.images[0]!.chw)).toBe(0);
  });

  it('refuses bad settings, naming them', async () => {
    await expect(pipeline.generate({ prompt: PROMPT, seed: -1 })).rejects.toThrow('seed must be an integer in [0, 2^32), got -1');
    await expect(pipeline.generate({ prompt: PROMPT, seed: 1, batch: 0 })).rejects.toThrow('batch must be an integer from 1 to 64, got 0');
    await expect(pipeline.generate({ prompt: PROMPT, seed: 1, guidance: -2 })).rejects.toThrow('guidance must be a number >= 0, got -2');
    await expect(pipeline.generate({ prompt: PROMPT, seed: 1, steps: 0 })).rejects.toThrow('steps must be an integer >= 1, got 0');
    await expect(pipeline.generate({ prompt: PROMPT, seed: 1, sampler: 'dpm' as never })).rejects.toThrow('sampler must be one of euler, x0, got "dpm"');
  });

  it('reports WebGPU as unavailable in Node, with the reason', async () => {
    expect(await webGpuAvailability()).toMatchObject({ available: false, reason: expect.stringContaining('navigator.gpu') });
  });
});
