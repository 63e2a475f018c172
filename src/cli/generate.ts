// `npm run generate -- --model models/shapes-teacher --prompt "a red circle on a blue background" --seed 7 --out red.png`
// Text to image (or, for a 2D point model such as models/toy2d/ring, --prompt names a label and the PNG is a scatter of
// its points) with the app's inference pipeline (src/pipeline/generate.ts) on onnxruntime-web's wasm execution
// provider (Node has no WebGPU for ORT-web). The PNG carries the settings as the app writes them (pipeline/pngMeta.ts:
// text chunks prompt, seed, steps, sampler, guidance, model, model_sha256 = the sha256 of the denoiser ONNX file,
// plus the `senseflow` format key), so dropping it on the app restores them.
// --batch N writes N files, OUT with -0, -1, ... before .png, image i from seed S + i, each with its own seed in its
// chunks: every file is reproduced on its own by its settings with --batch 1.
import { parseArgs } from 'node:util';
import type { Ort } from '../onnx/exportOrt';
import { loadBundle } from '../pipeline/bundle';
import { directorySource } from '../pipeline/bundleWrite';
import { type GenerateRequest, type GenerateResult, MAX_BATCH, Pipeline } from '../pipeline/generate';
import { SAMPLER_NAMES, type SamplerName } from '../pipeline/generatePlan';
import { isSeed } from '../pipeline/noise';
import { encodePngWithSettings } from '../pipeline/pngMeta';
import { guidanceFlag, integerFlag, UsageError } from './options';
import { writeOutput } from './output';

export const GENERATE_USAGE = `usage: npm run generate -- --model BUNDLE_DIR --prompt "..." (a 2D point model: a label) --out FILE.png
         [--steps N (default: the model's)] [--seed S (default 0)] [--sampler ${SAMPLER_NAMES.join('|')}] [--guidance W]
         [--batch N (files FILE-0.png ...)] [--provider wasm] [--zoom K (pixels per image pixel, default 1)]
         [--repeat R (run R times, report each; the last is written)]`;

export interface GenerateCliOptions {
  model: string;
  out: string;
  request: GenerateRequest & { batch: number };
  zoom: number;
  repeat: number;
}

export function parseGenerateOptions(argv: readonly string[]): GenerateCliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        model: { type: 'string' },
        prompt: { type: 'string' },
        out: { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string' },
        sampler: { type: 'string' },
        guidance: { type: 'string' },
        batch: { type: 'string' },
        provider: { type: 'string', default: 'wasm' },
        zoom: { type: 'string' },
        repeat: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!values.model) throw new UsageError('--model is required (a bundle folder, e.g. models/shapes-teacher)');
  if (values.prompt === undefined) throw new UsageError('--prompt is required ("" for the unconditional image)');
  if (!values.out) throw new UsageError('--out is required (a .png file)');
  if (!values.out.toLowerCase().endsWith('.png')) throw new UsageError(`--out must name a .png file, got "${values.out}"`);
  if (values.provider !== 'wasm') {
    throw new UsageError(`--provider must be wasm in Node (onnxruntime-web's WebGPU provider needs a browser), got "${values.provider}"`);
  }
  const request: GenerateRequest & { batch: number } = { prompt: values.prompt, seed: 0, batch: integerFlag(values.batch, 'batch', 1, MAX_BATCH) ?? 1 };
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (values.seed.trim() === '' || !isSeed(seed)) throw new UsageError(`--seed must be an integer from 0 to ${0xffffffff}, got "${values.seed}"`);
    request.seed = seed;
  }
  const steps = integerFlag(values.steps, 'steps', 1, 1000);
  if (steps !== undefined) request.steps = steps;
  if (values.sampler !== undefined) {
    if (!(SAMPLER_NAMES as readonly string[]).includes(values.sampler)) throw new UsageError(`--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got "${values.sampler}"`);
    request.sampler = values.sampler as SamplerName;
  }
  const guidance = guidanceFlag(values.guidance);
  if (guidance !== undefined) request.guidance = guidance;
  return { model: values.model, out: values.out, request, zoom: integerFlag(values.zoom, 'zoom', 1, 64) ?? 1, repeat: integerFlag(values.repeat, 'repeat', 1, 1000) ?? 1 };
}

/** The file of image i of a batch: OUT itself for one image, OUT with -i before .png for several. */
export function batchFileName(out: string, index: number, batch: number): string {
  return batch === 1 ? out : `${out.slice(0, -'.png'.length)}-${index}.png`;
}

/** One image of a result as PNG bytes (nearest-neighbour zoom) with its settings in text chunks (pipeline/pngMeta.ts). */
export function imagePng(result: GenerateResult, index: number, zoom = 1): Uint8Array {
  const image = result.images[index]!;
  const { width, height, rgba } = image;
  const [w, h] = [width * zoom, height * zoom];
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (Math.floor(y / zoom) * width + Math.floor(x / zoom)) * 4;
      data.set(rgba.subarray(from, from + 4), (y * w + x) * 4);
    }
  }
  const { settings, model } = result;
  return encodePngWithSettings(
    { width: w, height: h, data },
    { prompt: settings.prompt, seed: image.seed, steps: settings.steps, sampler: settings.sampler, guidance: settings.guidance, model: model.name, modelSha256: model.sha256 },
    { Software: 'senseflow-web npm run generate' },
  );
}

const round = (ms: number) => ms.toFixed(1);

export async function main(argv: readonly string[]): Promise<number> {
  let options: GenerateCliOptions;
  try {
    options = parseGenerateOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${GENERATE_USAGE}`);
    return 2;
  }
  const ort = (await import('onnxruntime-web')) as Ort;
  ort.env.wasm.numThreads = 1;
  let pipeline: Pipeline;
  try {
    const started = performance.now();
    pipeline = await Pipeline.create(ort, await loadBundle(directorySource(options.model)), { provider: 'wasm' });
    console.log(`[generate] ${pipeline.manifest.name} on ${pipeline.provider} (loaded in ${round(performance.now() - started)} ms)`);
  } catch (error) {
    // The loader's message names the file and the field; a stack trace would bury it.
    console.error(`generate: ${(error as Error).message}`);
    return 1;
  }
  try {
    let settings;
    try {
      settings = pipeline.resolve(options.request);
    } catch (error) {
      console.error(`generate: ${(error as Error).message}\n${GENERATE_USAGE}`);
      return 2;
    }
    let result: GenerateResult | undefined;
    const totals: number[] = [];
    for (let run = 0; run < options.repeat; run++) {
      result = await pipeline.generate(options.request);
      const t = result.timings;
      totals.push(t.totalMs);
      const steps = t.denoiserMs.reduce((a, b) => a + b, 0);
      console.log(
        `[generate] run ${run + 1}/${options.repeat}: ${round(t.totalMs)} ms for ${settings.batch} image${settings.batch > 1 ? 's' : ''} ` +
          `(${round(t.totalMs / settings.batch)} ms per image): tokenize ${round(t.tokenizeMs)}, text encoder ${round(t.textEncoderMs)}, ` +
          `denoiser ${round(steps)} over ${t.denoiserMs.length} steps (${round(steps / t.denoiserMs.length)} per step), decode ${round(t.decodeMs)}, ` +
          `outside the models ${round(t.pipelineOverheadMs)} (${((100 * t.pipelineOverheadMs) / t.totalMs).toFixed(1)}%)`,
      );
    }
    if (options.repeat > 1) {
      const sorted = [...totals].sort((a, b) => a - b);
      console.log(`[generate] median of ${options.repeat} runs: ${round(sorted[sorted.length >> 1]!)} ms (${round(sorted[sorted.length >> 1]! / settings.batch)} ms per image)`);
    }
    for (let i = 0; i < result!.images.length; i++) {
      const file = batchFileName(options.out, i, settings.batch);
      writeOutput(file, imagePng(result!, i, options.zoom));
      console.log(`[generate] wrote ${file}: seed ${result!.images[i]!.seed}, ${settings.steps} ${settings.sampler} steps, guidance ${settings.guidance}`);
    }
    return 0;
  } catch (error) {
    console.error(`generate: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  } finally {
    await pipeline.release();
  }
}
