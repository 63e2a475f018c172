// `npm run eval -- --model models/<bundle> --steps N --out results.json [--count N | --captions FILE] ...`
// A text-to-image bundle's quality with the attribute evaluator, the issue-5 way:
//   promptAccuracy   images showing every attribute their caption states (+ per attribute), src/eval/promptAccuracy.ts
//   fdReal           Frechet distance of the evaluator's features to `--real-count` real renders (REAL_REFERENCE_SEED)
//   fdTeacher        ... to the teacher's samples on the same captions and seeds (Euler, --teacher-steps, its default
//                    guidance; cached, see evalTeacher.ts), i.e. how far a student is from what it distils
//   msPerImage       generation wall time per image on ORT's wasm provider (pipeline creation excluded)
//   highFrequency    mean |x - box3(x)| (0-255) of the images, src/eval/texture.ts; beside the teacher's (when its
//                    cache has it) and that of the first 1,000 (at most --real-count) real renders
// Images come from the app's inference pipeline (pipeline/generate.ts, wasm EP: Node has no WebGPU for ORT-web), one
// per caption, image i from the pipeline's seed EVAL_NOISE_SEED + i, --batch captions per call (the same images); the evaluator runs on our engine (--adapter).
// results.json records what reproduces the numbers: the command, the model's name and sha256, the resolved sampler
// settings, the captions and seeds, the evaluator's and teacher's hashes, the adapter and the provider, and per image
// its caption, seed and checks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBatch } from '../data/dataset';
import { IMAGE_CHANNELS, IMAGE_SIZE } from '../data/render';
import { measureAgainstReal } from '../eval/evaluate';
import { frechetDistanceFromStatistics, gaussianStatistics } from '../eval/frechet';
import { EVAL_NOISE_SEED, REAL_REFERENCE_SEED } from '../eval/seeds';
import { highFrequency } from '../eval/texture';
import { loadEvaluator } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import type { Ort } from '../onnx/exportOrt';
import { type LoadedBundle, loadBundle } from '../pipeline/bundle';
import { directorySource } from '../pipeline/bundleWrite';
import { denoiserSha256 } from '../pipeline/generate';
import { imageSeed } from '../pipeline/noise';
import { adapterLabel, withEngine } from './engine';
import { generateForCaptions } from './evalGenerate';
import { EVAL_USAGE, type EvalOptions, loadEvalCaptions, parseEvalOptions } from './evalOptions';
import { cachedRealStatistics } from './evalReal';
import { sha256, teacherReference } from './evalTeacher';
import { UsageError } from './options';
import { writeOutput } from './output';

/** At most this many real renders (the first of the real reference's) have their high-frequency energy shown beside the model's. */
const REAL_TEXTURE_COUNT = 1000;

/** The seeds of an evaluation's images: image i from EVAL_NOISE_SEED + i. */
export const evalSeeds = (count: number): number[] => Array.from({ length: count }, (_, i) => imageSeed(EVAL_NOISE_SEED, i));

/** argv as a shell command line (single quotes where needed). */
export function commandLine(argv: readonly string[]): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);
  return ['npm', 'run', 'eval', '--', ...argv.map(quote)].join(' ');
}

async function loadModelBundle(dir: string, flag: string): Promise<LoadedBundle> {
  try {
    return await loadBundle(directorySource(dir));
  } catch (error) {
    throw new Error(`${flag} ${dir}: ${(error as Error).message}`);
  }
}

/** Runs an evaluation on `engine` and returns results.json's content. */
export async function runEval(engine: Engine, options: EvalOptions, log: (line: string) => void = (line) => console.log(`[eval] ${line}`)): Promise<Record<string, unknown>> {
  const { captions, statements, source } = loadEvalCaptions(options);
  const seeds = evalSeeds(captions.length);
  const evaluatorFile = join(options.evaluator, 'evaluator.safetensors');
  let evaluatorBytes: Uint8Array;
  try {
    evaluatorBytes = new Uint8Array(readFileSync(evaluatorFile));
  } catch (error) {
    throw new Error(`--evaluator ${options.evaluator}: ${(error as Error).message}`);
  }
  const evaluatorSha256 = sha256(evaluatorBytes);
  const model = await loadModelBundle(options.model, '--model');
  const teacher = await loadModelBundle(options.teacher, '--teacher');
  const ort = (await import('onnxruntime-web')) as Ort;
  ort.env.wasm.numThreads = 1;
  const evaluator = loadEvaluator(engine, evaluatorBytes);
  try {
    log(`${captions.length} captions; ${model.manifest.name} at ${options.steps} steps on wasm`);
    const request = { steps: options.steps, batch: options.batch, ...(options.sampler ? { sampler: options.sampler } : {}), ...(options.guidance !== undefined ? { guidance: options.guidance } : {}) };
    const generated = await generateForCaptions(ort, model, captions, seeds, request, log);
    const { reference, cache } = await teacherReference(
      engine,
      evaluator,
      ort,
      teacher,
      { captions, statements, seeds, steps: options.teacherSteps, batch: options.batch, evaluatorSha256, cacheDir: options.cacheDir, ...(options.teacherCache ? { cachePath: options.teacherCache } : {}) },
      log,
    );
    const realKey = { evaluatorSha256, seed: REAL_REFERENCE_SEED, count: options.realCount };
    const { statistics: real, path: realCache, hit: realHit } = await cachedRealStatistics(engine, evaluator, realKey, options.cacheDir);
    log(`real reference: ${options.realCount} renders (${realHit ? 'from' : 'cached in'} ${realCache})`);
    const measured = await measureAgainstReal(engine, evaluator, generated.images, statements, { real });
    const teacherStatistics = gaussianStatistics({ shape: [captions.length, reference.dim], data: reference.features }, 'teacher features');
    const modelStatistics = gaussianStatistics({ shape: [captions.length, measured.dim], data: measured.features }, 'generated features');
    const fdTeacher = frechetDistanceFromStatistics(modelStatistics, teacherStatistics);
    const teacherFdReal = frechetDistanceFromStatistics(teacherStatistics, real);
    const texture = highFrequency(generated.images, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE);
    const realTextureCount = Math.min(options.realCount, REAL_TEXTURE_COUNT);
    const realTexture = highFrequency(makeBatch(REAL_REFERENCE_SEED, realTextureCount).images, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE);
    const teacherTexture = reference.highFrequency === undefined ? 'not in its cache' : reference.highFrequency.toFixed(2);
    log(
      `prompt accuracy ${(100 * measured.promptAccuracy).toFixed(1)}%, FD to real ${measured.frechetDistance.toFixed(3)}, FD to teacher ${fdTeacher.toFixed(3)}, ` +
        `high frequency ${texture.toFixed(2)}, ${generated.timings.msPerImage.toFixed(1)} ms per image ` +
        `(teacher: ${(100 * reference.promptAccuracy).toFixed(1)}%, FD to real ${teacherFdReal.toFixed(3)}, high frequency ${teacherTexture}; real renders' high frequency ${realTexture.toFixed(2)})`,
    );
    return {
      command: commandLine(options.argv),
      date: new Date().toISOString(),
      model: { dir: options.model, name: model.manifest.name, sha256: denoiserSha256(model.manifest), kind: model.manifest.kind, schedule: model.manifest.steps.schedule },
      sampling: { ...generated.settings, provider: generated.provider, imagesPerCall: generated.timings.imagesPerCall },
      metrics: {
        promptAccuracy: measured.promptAccuracy,
        perAttribute: measured.perAttribute,
        countErrors: measured.countErrors,
        fdReal: measured.frechetDistance,
        fdTeacher,
        highFrequency: texture,
        msPerImage: generated.timings.msPerImage,
      },
      timings: { ...generated.timings, pipelineCreateMs: generated.createMs },
      captions: { count: captions.length, source },
      seeds: { rule: 'image i: pipeline seed EVAL_NOISE_SEED + i (src/eval/seeds.ts)', first: seeds[0], last: seeds.at(-1) },
      teacher: {
        dir: options.teacher,
        name: reference.key.teacher.name,
        sha256: reference.key.teacher.denoiserSha256,
        sampling: { ...reference.settings, provider: 'wasm' },
        promptAccuracy: reference.promptAccuracy,
        perAttribute: reference.perAttribute,
        ...(reference.countErrors === undefined ? {} : { countErrors: reference.countErrors }),
        fdReal: teacherFdReal,
        ...(reference.highFrequency === undefined ? {} : { highFrequency: reference.highFrequency }),
        msPerImage: reference.timings.msPerImage,
        cache: { ...cache, key: reference.key },
      },
      reference: {
        real: {
          count: real.count,
          seed: REAL_REFERENCE_SEED,
          how: 'makeBatch(REAL_REFERENCE_SEED, count) renders (src/eval/evaluate.ts realFeatureStatistics)',
          cache: { path: realCache, status: realHit ? 'hit' : 'miss' },
          highFrequency: { value: realTexture, count: realTextureCount },
        },
      },
      evaluator: { dir: options.evaluator, sha256: evaluatorSha256, pixels: 'each image as its 8-bit RGBA (what the app shows), v / 127.5 - 1' },
      adapter: { kind: options.adapter, description: adapterLabel(engine) },
      images: captions.map((caption, i) => ({ caption, seed: seeds[i], passed: measured.checks[i]!.passed, attributes: measured.checks[i]!.attributes, objects: measured.checks[i]!.objects })),
    };
  } finally {
    evaluator.dispose();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: EvalOptions;
  try {
    options = parseEvalOptions(argv);
    loadEvalCaptions(options); // a bad caption file is refused before the GPU and the models are loaded
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${EVAL_USAGE}`);
    return 2;
  }
  try {
    const results = await withEngine(options.adapter, (engine) => runEval(engine, options));
    writeOutput(options.out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`[eval] wrote ${options.out}`);
    return 0;
  } catch (error) {
    console.error(`eval: ${(error as Error).message}${error instanceof UsageError ? `\n${EVAL_USAGE}` : ''}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
