// `npm run measure -- --run runs/<teacher> [--evaluator models/evaluator] [--count 1000] [--steps 50] [--guidance 4]
//   [--batch 250] [--adapter llvmpipe|swiftshader|default]`
// The teacher's quality as issue 4 defines it, on our engine: `count` random captions from the grammar (seed
// TEACHER_CAPTIONS_SEED, src/eval/seeds.ts), one image each by Euler over `steps` steps with classifier-free guidance
// (noise seed = TEACHER_NOISE_SEED + chunk index), read by the attribute evaluator:
//   promptAccuracy  fraction of images showing every attribute their caption states (our GenEval analogue)
//   fdReal          Frechet distance of the evaluator's features to 2,000 real renders (REAL_REFERENCE_SEED)
// Several guidance weights (--guidance 2,3,4) are measured on the same captions and noise; the first is the one
// written as the run's metrics (bundle.ts merges <run>/metrics.json into the manifest), all are kept under
// `guidanceSweep`. Costs count * steps * 2 denoiser forwards: about 45 minutes on 2 CPU cores, seconds on a GPU.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeBatch } from '../data/dataset';
import { type RealComparison, measureAgainstReal, realFeatureStatistics } from '../eval/evaluate';
import { TEACHER_CAPTIONS_SEED, TEACHER_NOISE_SEED } from '../eval/seeds';
import type { NodeAdapterKind } from '../gpu/node';
import { loadEvaluator } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import { loadModule } from '../nn/safetensors';
import { readBytes } from './checkpoint';
import { adapterLabel, withEngine } from './engine';
import { adapterFlag, integerAtLeast, numberFlag, positiveNumberFlag, UsageError } from './options';
import { writeOutput } from './output';
import { sampleShapes, type ShapesModelConfig, ShapesTextToImage } from './shapesModel';

/** The command that reproduces a measurement: every flag that changes the numbers (the batch sets the noise seeds). */
export function measureCommand(options: MeasureOptions): string {
  const flags = [`--run ${options.run}`, `--count ${options.count}`, `--steps ${options.steps}`];
  if (options.shift !== 1) flags.push(`--shift ${options.shift}`);
  flags.push(`--guidance ${options.guidance.join(',')}`, `--batch ${options.batch}`);
  if (options.adapter !== 'llvmpipe') flags.push(`--adapter ${options.adapter}`);
  if (options.checkpoint) flags.push(options.checkpoint === 'raw' ? '--checkpoint --raw' : '--checkpoint');
  return `npm run measure -- ${flags.join(' ')}`;
}

export const MEASURE_USAGE = `usage: npm run measure -- --run RUN_DIR [--evaluator DIR (default models/evaluator)] [--count N (default 1000)]
         [--steps N (default 50)] [--shift K (default 1)] [--guidance W[,W...] (default 4)] [--batch N (default 250)] [--adapter KIND] [--out FILE]
         [--checkpoint [--raw] (the run's latest checkpoint: its EMA, or its current weights)]`;

export interface MeasureOptions {
  run: string;
  /** Measure the run's latest checkpoint (its EMA, or with `raw` its current weights) instead of its final weights. */
  checkpoint?: 'ema' | 'raw';
  evaluator: string;
  count: number;
  steps: number;
  /** The Euler grid's timestep shift (1: uniform, the protocol of issue 4; > 1 spends more steps at high noise). */
  shift: number;
  guidance: number[];
  batch: number;
  adapter: NodeAdapterKind;
  out: string;
}

export function parseMeasureOptions(argv: readonly string[]): MeasureOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        run: { type: 'string' },
        evaluator: { type: 'string', default: 'models/evaluator' },
        count: { type: 'string', default: '1000' },
        steps: { type: 'string', default: '50' },
        shift: { type: 'string', default: '1' },
        guidance: { type: 'string', default: '4' },
        batch: { type: 'string', default: '250' },
        adapter: { type: 'string', default: 'llvmpipe' },
        out: { type: 'string' },
        checkpoint: { type: 'boolean', default: false },
        raw: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!values.run) throw new UsageError('--run is required');
  if (values.raw && !values.checkpoint) throw new UsageError('--raw reads the checkpoint\'s current weights: give it with --checkpoint');
  const guidance = values.guidance!.split(',').map((w) => numberFlag(w, 'guidance', (n) => n > 0, 'positive numbers separated by commas')!);
  return {
    run: values.run,
    evaluator: values.evaluator!,
    count: integerAtLeast(values.count!, 'count', 1)!,
    steps: integerAtLeast(values.steps!, 'steps', 1)!,
    shift: positiveNumberFlag(values.shift, 'shift')!,
    guidance,
    batch: integerAtLeast(values.batch!, 'batch', 1)!,
    adapter: adapterFlag(values.adapter!),
    out: values.out ?? join(values.run, values.checkpoint ? `metrics-checkpoint${values.raw ? '-raw' : ''}.json` : 'metrics.json'),
    ...(values.checkpoint ? { checkpoint: values.raw ? ('raw' as const) : ('ema' as const) } : {}),
  };
}

/**
 * The teacher of a pretraining run folder (config.json + the EMA weights it wrote), or of its latest checkpoint
 * (checkpoint/state.json + the EMA, or the current weights with 'raw'), so a run can be measured while it trains.
 */
export function loadTeacherRun(engine: Engine, run: string, checkpoint?: 'ema' | 'raw'): ShapesTextToImage {
  if (checkpoint) {
    const state = JSON.parse(readFileSync(join(run, 'checkpoint', 'state.json'), 'utf8')) as { config: ShapesModelConfig; step: number };
    const model = new ShapesTextToImage(engine, state.config);
    // The teacher's networks only: a --repa run's checkpoint also holds REPA's projector, which sampling does not use.
    loadModule(model.teacherNetworks(), readBytes(join(run, 'checkpoint', checkpoint === 'raw' ? 'model.safetensors' : 'ema.safetensors')), { strict: false });
    console.log(`[measure] ${run}: checkpoint of step ${state.step} (${checkpoint === 'raw' ? 'current weights' : 'EMA'})`);
    return model;
  }
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const modelConfig: ShapesModelConfig = { textEncoder: config.textEncoder, denoiser: config.denoiser };
  const model = new ShapesTextToImage(engine, modelConfig);
  loadModule(model.denoiser, readBytes(join(run, 'teacher.safetensors')));
  loadModule(model.textEncoder, readBytes(join(run, 'text-encoder.safetensors')));
  return model;
}

export interface GuidanceMeasurement {
  guidance: number;
  promptAccuracy: number;
  fdReal: number;
  perAttribute: RealComparison['perAttribute'];
  countErrors: RealComparison['countErrors'];
  /** Sampling wall time per image (all steps, both CFG branches), on this adapter. */
  msPerImage: number;
}

export async function measureTeacher(engine: Engine, options: MeasureOptions, log = console.log): Promise<Record<string, unknown>> {
  const model = loadTeacherRun(engine, options.run, options.checkpoint);
  const evaluator = loadEvaluator(engine, readBytes(join(options.evaluator, 'evaluator.safetensors')));
  const captions = makeBatch(TEACHER_CAPTIONS_SEED, options.count);
  const real = await realFeatureStatistics(engine, evaluator, { count: 2000 });
  const sweep: GuidanceMeasurement[] = [];
  for (const guidance of options.guidance) {
    const images = new Float32Array(captions.images.length);
    const started = performance.now();
    for (let start = 0, chunk = 0; start < options.count; start += options.batch, chunk++) {
      const end = Math.min(options.count, start + options.batch);
      const part = await sampleShapes(model, captions.captions.slice(start, end), { guidance, steps: options.steps, shift: options.shift, seed: TEACHER_NOISE_SEED + chunk });
      images.set(part, start * (images.length / options.count));
      log(`[measure] guidance ${guidance}: ${end}/${options.count} images`);
    }
    const msPerImage = (performance.now() - started) / options.count;
    const result = await measureAgainstReal(engine, evaluator, images, captions.statements, { real });
    sweep.push({ guidance, promptAccuracy: result.promptAccuracy, fdReal: result.frechetDistance, perAttribute: result.perAttribute, countErrors: result.countErrors, msPerImage });
    log(`[measure] guidance ${guidance}: prompt accuracy ${(100 * result.promptAccuracy).toFixed(1)}%, FD to real ${result.frechetDistance.toFixed(3)}, ${msPerImage.toFixed(1)} ms/image`);
  }
  const first = sweep[0]!;
  return {
    promptAccuracy: first.promptAccuracy,
    fdReal: first.fdReal,
    perAttribute: first.perAttribute,
    countErrors: first.countErrors,
    measuredWith: {
      command: measureCommand(options),
      captions: { count: options.count, seed: TEACHER_CAPTIONS_SEED, source: 'makeBatch(seed, count).captions (src/data/dataset.ts)' },
      sampler: { name: 'euler', steps: options.steps, shift: options.shift, guidance: first.guidance, noiseSeed: `${TEACHER_NOISE_SEED} + chunk of ${options.batch}` },
      fdReference: { images: 2000, seed: real.count === 2000 ? 'REAL_REFERENCE_SEED (src/eval/seeds.ts)' : null },
      evaluator: options.evaluator,
      adapter: adapterLabel(engine),
      date: new Date().toISOString(),
    },
    guidanceSweep: sweep.map(({ perAttribute: _, countErrors: __, ...rest }) => rest),
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: MeasureOptions;
  try {
    options = parseMeasureOptions(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${MEASURE_USAGE}`);
      return 2;
    }
    throw error;
  }
  await withEngine(options.adapter, async (engine) => {
    const metrics = await measureTeacher(engine, options);
    writeOutput(options.out, `${JSON.stringify(metrics, null, 2)}\n`);
    console.log(`[measure] wrote ${options.out}`);
  });
  return 0;
}
