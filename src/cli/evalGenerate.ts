// Generating an evaluation's images with the inference pipeline (pipeline/generate.ts) on ORT's wasm provider in Node:
// one image per caption, image i from the pipeline's noise stream of seeds[i], read back as the 8-bit RGBA the app shows
// (and a PNG holds), then mapped to [-1, 1] for the evaluator, so a score is the score of the pictures a user gets.
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
}

/** The settings every image shared (the request with the bundle's defaults filled in). */
export type SharedSettings = Pick<GenerateSettings, 'steps' | 'sampler' | 'guidance' | 'levels'>;

export interface TimingSummary {
  /** Wall time of all generate calls over the image count (pipeline creation excluded). */
  msPerImage: number;
  /** Medians over the calls (one call per image). */
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

export function summarizeTimings(timings: readonly GenerateTimings[], wallMs: number): TimingSummary {
  const sum = (f: (t: GenerateTimings) => number) => timings.reduce((a, t) => a + f(t), 0);
  return {
    msPerImage: wallMs / timings.length,
    medianTotalMs: median(timings.map((t) => t.totalMs)),
    medianTextEncoderMs: median(timings.map((t) => t.textEncoderMs)),
    medianDenoiserMs: median(timings.map((t) => t.denoiserMs.reduce((a, b) => a + b, 0))),
    medianPipelineOverheadMs: median(timings.map((t) => t.pipelineOverheadMs)),
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
    let resolved: GenerateSettings;
    try {
      resolved = pipeline.resolve({ prompt: '', seed: 0, ...request });
    } catch (error) {
      throw new UsageError(`${pipeline.manifest.name}: ${(error as Error).message}`);
    }
    const settings: SharedSettings = { steps: resolved.steps, sampler: resolved.sampler, guidance: resolved.guidance, levels: resolved.levels };
    const images = new Float32Array(captions.length * IMAGE_NUMEL);
    const timings: GenerateTimings[] = [];
    const plane = IMAGE_SIZE * IMAGE_SIZE;
    const started = performance.now();
    let lastLog = started;
    for (let i = 0; i < captions.length; i++) {
      const result = await pipeline.generate({ prompt: captions[i]!, seed: seeds[i]!, ...request });
      const { rgba } = result.images[0]!;
      const offset = i * IMAGE_NUMEL;
      for (let p = 0; p < plane; p++) for (let c = 0; c < IMAGE_CHANNELS; c++) images[offset + c * plane + p] = rgba[p * 4 + c]! / 127.5 - 1;
      timings.push(result.timings);
      const now = performance.now();
      if (now - lastLog > 10_000 || i + 1 === captions.length) {
        log(`${pipeline.manifest.name}: ${i + 1}/${captions.length} images (${((now - started) / (i + 1)).toFixed(0)} ms per image)`);
        lastLog = now;
      }
    }
    return {
      images,
      settings,
      provider: pipeline.provider,
      model: { name: pipeline.manifest.name, sha256: pipeline.modelSha256 },
      timings: summarizeTimings(timings, performance.now() - started),
      createMs,
    };
  } finally {
    await pipeline.release();
  }
}
