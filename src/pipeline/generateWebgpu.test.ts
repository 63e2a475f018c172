// The inference pipeline on ORT's WebGPU execution provider, in headless chromium (vitest browser mode; SwiftShader
// here): the bundle fetched over HTTP, the web build of transformers.js for the tokenizer, tensors kept in GPU
// buffers between steps. Same seed and settings as on the wasm provider give the same image within float32 noise.
// Skipped in Node (no navigator.gpu); generate.test.ts covers the wasm provider there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ort } from '../onnx/exportOrt';
import { fetchSource, type LoadedBundle, loadBundle } from './bundle';
import { type GenerateResult, Pipeline, webGpuAvailability } from './generate';

const isBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';
const PROMPT = 'a red circle at the top left on a blue background';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

// SwiftShader runs ORT's kernels slowly (~2 s per guided step of this DiT, first use ~15 s of shader compilation), so
// this file makes three WebGPU generations of two steps each.
describe.skipIf(!isBrowser)('the pipeline on WebGPU (browser)', () => {
  let ort: Ort;
  let bundle: LoadedBundle;
  let webgpu: Pipeline;
  let wasm: Pipeline;
  let onGpu: GenerateResult;
  beforeAll(async () => {
    ort = (await import('onnxruntime-web/webgpu')) as unknown as Ort;
    ort.env.wasm.wasmPaths = new URL('/ort/', location.href).href; // served by vite.config.ts
    ort.env.wasm.numThreads = 1;
    bundle = await loadBundle(fetchSource(new URL('/models/shapes-teacher/', location.href)));
    webgpu = await Pipeline.create(ort, bundle, { provider: 'webgpu' });
    wasm = await Pipeline.create(ort, bundle, { provider: 'wasm' });
    onGpu = await webgpu.generate({ prompt: PROMPT, seed: 11, steps: 2, previews: true });
  });
  afterAll(async () => {
    await webgpu?.release();
    await wasm?.release();
  });

  it('finds WebGPU available and runs every session on it', async () => {
    expect(await webGpuAvailability()).toEqual({ available: true });
    expect(webgpu.provider).toBe('webgpu');
    expect(onGpu.provider).toBe('webgpu');
    console.info(`2 guided steps on webgpu (first use): ${JSON.stringify(onGpu.timings, (_, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);
  });

  it('gives the wasm provider image (and previews) for the same seed and settings', async () => {
    const onCpu = await wasm.generate({ prompt: PROMPT, seed: 11, steps: 2, previews: true });
    expect(onCpu.provider).toBe('wasm');
    const buffers = webgpu.outputBuffersCreated;
    expect(buffers).toBe(4); // prediction, x0 and the two x buffers of one shape
    const again = await webgpu.generate({ prompt: PROMPT, seed: 11, steps: 2, previews: true });
    expect(webgpu.outputBuffersCreated).toBe(buffers); // the same shape reuses them
    expect(maxAbsDiff(again.images[0]!.chw, onGpu.images[0]!.chw)).toBe(0);
    const diff = maxAbsDiff(onGpu.images[0]!.chw, onCpu.images[0]!.chw);
    console.info(`webgpu vs wasm, 2 guided steps: max abs diff ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
    onGpu.images[0]!.previews.forEach((p, i) => expect(maxAbsDiff(p, onCpu.images[0]!.previews[i]!)).toBeLessThan(1e-4));
  });

  it('rejects an aborted run with an AbortError, then makes a batch equal to single runs', async () => {
    const controller = new AbortController();
    const aborted = webgpu.generate({ prompt: PROMPT, seed: 11, steps: 2 }, { signal: controller.signal, onStep: () => controller.abort() });
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    const batch = await webgpu.generate({ prompt: PROMPT, seed: 11, steps: 2, batch: 2 });
    expect(batch.provider).toBe('webgpu');
    expect(maxAbsDiff(batch.images[0]!.chw, onGpu.images[0]!.chw)).toBeLessThan(1e-5);
    const second = await wasm.generate({ prompt: PROMPT, seed: 12, steps: 2 });
    expect(maxAbsDiff(batch.images[1]!.chw, second.images[0]!.chw)).toBeLessThan(1e-4);
    console.info(`batch of 2, 2 guided steps on webgpu (warm): ${Math.round(batch.timings.totalMs)} ms`);
  });
});
