// Generating an evaluation's images with the inference pipeline (pipeline/generate.ts) on ORT's wasm provider in Node:
// one image per caption, image i from the pipeline's noise stream of seeds[i], read back as the 8-bit RGBA the app shows
// (and a PNG holds), then mapped to [-1, 1] for the evaluator, so a score is the score of the pictures a user gets.
// `batch` captions go through one Pipeline.generateEach call (one denoiser call per step for all of them); image i is
// the image its caption and seed give alone, to float rounding, whatever the batch.
import { IMAGE_CHANNELS, IMAGE_NUMEL, IMAGE_SIZE } from '../data/render';
import type { Ort } from '../onnx/exportOrt';
import type { LoadedBundle } from '../pipeline/bundle';
import { type GenerateSettings, type GenerateTimings, Pipeline } from '../pipeline/generate';
import type { SamplerName } from '../pipeline/generatePlan';
import { UsageError } from './options';

export interface SamplingRequest {
  steps: number;
  sampler?: SamplerName;
  guidance?: number;
  /** Captions per pipeline call (default 1). */
  batch?: number;
}

/** The settings every image shared (the request with the bundle's defaults filled in). */
export type SharedSettings = Pick<GenerateSettings, 'steps' | 'sampler' | 'guidance' | 'levels'>;

export interface TimingSummary {
  /** Wall time of all generate calls over the image count (pipeline creation excluded). */
  msPerImage: number;
  /** Images per generate call (the last call may have fewer). */
  imagesPerCall: number;
  /** Medians over the calls of each call's time per image. */
  medianTotalMs: number;
  medianTextEncoderMs: number;
  medianDenoiserMs: number;
  medianPipelineOverheadMs: number;
  /** Sum of pipelineOverheadMs over sum of totalMs: the pipeline's share outside the models. */
  overheadFraction: number;
}

export interface GeneratedSet {
  /** [N, 3, 32, 32] in [-1, 1]: the RGBA bytes of each image as (v / 127.5 - 1). */
  images: Float32Array;
  settings: SharedSettings;
  provider: string;
  model: { name: string; sha256: string };
  timings: TimingSummary;
  /** Session creation (all ORT sessions of the bundle). */
  createMs: number;
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One generate call's timings and how many images it made. */
export interface CallTimings {
  timings: GenerateTimings;
  images: number;
}

export function summarizeTimings(calls: readonly CallTimings[], wallMs: number): TimingSummary {
  const sum = (f: (t: GenerateTimings) => number) => calls.reduce((a, c) => a + f(c.timings), 0);
  const perImage = (f: (t: GenerateTimings) => number) => median(calls.map((c) => f(c.timings) / c.images));
  return {
    msPerImage: wallMs / calls.reduce((a, c) => a + c.images, 0),
    imagesPerCall: Math.max(...calls.map((c) => c.images)),
    medianTotalMs: perImage((t) => t.totalMs),
    medianTextEncoderMs: perImage((t) => t.textEncoderMs),
    medianDenoiserMs: perImage((t) => t.denoiserMs.reduce((a, b) => a + b, 0)),
    medianPipelineOverheadMs: perImage((t) => t.pipelineOverheadMs),
    overheadFraction: sum((t) => t.pipelineOverheadMs) / sum((t) => t.totalMs),
  };
}

/**
 * One image per caption (image i from seeds[i]) by a wasm pipeline over `bundle`. The pipeline is released before
 * this returns. Refuses a model whose images the evaluator cannot read (it reads 3x32x32).
 */
export async function generateForCaptions(
  ort: Ort,
  bundle: LoadedBundle,
  captions: readonly string[],
  seeds: readonly number[],
  request: SamplingRequest,
  log: (line: string) => void,
): Promise<GeneratedSet> {
  if (seeds.length !== captions.length) throw new Error(`generateForCaptions: ${seeds.length} seeds for ${captions.length} captions`);
  const created = performance.now();
  const pipeline = await Pipeline.create(ort, bundle, { provider: 'wasm' });
  const createMs = performance.now() - created;
  try {
    const [channels, height, width] = pipeline.sampleShape;
    if (channels !== IMAGE_CHANNELS || height !== IMAGE_SIZE || width !== IMAGE_SIZE) {
      throw new Error(`${pipeline.manifest.name} makes ${channels}x${height}x${width} images; the attribute evaluator reads ${IMAGE_CHANNELS}x${IMAGE_SIZE}x${IMAGE_SIZE}`);
    }
    const { batch = 1, ...shared } = request;
    let resolved: GenerateSettings;
    try {
      resolved = pipeline.resolve({ prompt: '', seed: 0, ...shared, batch });
    } catch (error) {
      throw new UsageError(`${pipeline.manifest.name}: ${(error as Error).message}`);
    }
    const settings: SharedSettings = { steps: resolved.steps, sampler: resolved.sampler, guidance: resolved.guidance, levels: resolved.levels };
    const images = new Float32Array(captions.length * IMAGE_NUMEL);
    const calls: CallTimings[] = [];
    const plane = IMAGE_SIZE * IMAGE_SIZE;
    const started = performance.now();
    let lastLog = started;
    for (let start = 0; start < captions.length; start += batch) {
      const items = captions.slice(start, start + batch).map((prompt, k) => ({ prompt, seed: seeds[start + k]! }));
      const result = await pipeline.generateEach(items, shared);
      result.images.forEach(({ rgba }, k) => {
        const offset = (start + k) * IMAGE_NUMEL;
        for (let p = 0; p < plane; p++) for (let c = 0; c < IMAGE_CHANNELS; c++) images[offset + c * plane + p] = rgba[p * 4 + c]! / 127.5 - 1;
      });
      calls.push({ timings: result.timings, images: items.length });
      const done = start + items.length;
      const now = performance.now();
      if (now - lastLog > 10_000 || done === captions.length) {
        log(`${pipeline.manifest.name}: ${done}/${captions.length} images (${((now - started) / done).toFixed(0)} ms per image)`);
        lastLog = now;
      }
    }
    return {
      images,
      settings,
      provider: pipeline.provider,
      model: { name: pipeline.manifest.name, sha256: pipeline.modelSha256 },
      timings: summarizeTimings(calls, performance.now() - started),
      createMs,
    };
  } finally {
    await pipeline.release();
  }
}
