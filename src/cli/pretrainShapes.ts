// Pretraining the Shapes teacher (docs/NETS.md, "Training defaults"): the text encoder and the DiT trained
// jointly by flow matching on freshly rendered batches. Per step t (all draws a function of (seed, t)):
//   captions, images  = makeBatch(streamSeed(seed, t, 0), batch); each caption -> "" with probability 0.1
//                       (caption dropout: the model also learns the unconditional velocity CFG needs)
//   s ~ logit-normal(0, 1) per sample;  eps = Philox N(0, 1) at stream offset t * batch * 3072
//   loss = mean((v_theta((1 - s) x0 + s eps, s, text) - (eps - x0))^2)
//          [+ W * (1 - corr(P(the DiT's tokens after K blocks), the evaluator's tokens of x0)) with --repa W: nets/repa.ts]
// AdamW (lr 3e-4 after 100 warm-up steps, no weight decay), EMA 0.999 (with warm-up, see trainLoop.ts).
// Writes <out>/teacher.safetensors and <out>/text-encoder.safetensors (the EMA weights, named as docs/NETS.md),
// <out>/config.json, <out>/loss.csv (step,loss,lr; with --repa also fm,repa: the two terms, REPA's before its weight),
// <out>/samples.png, and <out>/checkpoint/ for --resume.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBatch } from '../data/dataset';
import { mulberry32 } from '../data/random';
import { IMAGE_NUMEL } from '../data/render';
import { noiseTo, flowMatchingLoss } from '../flow/tensors';
import { type AttributeEvaluator, loadEvaluator } from '../nets/evaluator';
import { repaLoss, type RepaSettings } from '../nets/repa';
import { add, scale } from '../nn/ops/elementwise';
import { shift } from '../flow/schedule';
import { logitNormalSigmas } from '../flow/timesteps';
import { SHAPES_DIT_CONFIG } from '../nets/dit';
import { TEXT_ENCODER_CONFIG } from '../nets/textEncoder';
import type { Engine } from '../nn/engine';
import { randn } from '../nn/ops/random';
import { AdamW } from '../nn/optim';
import { cloneParameters } from '../nn/params';
import { loadModule, saveModule } from '../nn/safetensors';
import { fromArray, noGrad, type Tensor } from '../nn/tensor';
import { readBundleManifest } from './bundleParts';
import { adapterLabel } from './engine';
import { sha256 } from './evalTeacher';
import { checkSameRun, readBytes, readCheckpointState, restoreCheckpoint, type TrainingState } from './checkpoint';
import { writeImageGrid } from './imageGrid';
import { checkpointSpacing, maxSeconds, type PretrainOptions } from './options';
import { sampleShapes, type ShapesModelConfig, ShapesTextToImage } from './shapesModel';
import { formatDuration, type LoopSummary, type StepLoss, streamSeed, trainLoop, type TrainingSchedule } from './trainLoop';

export const SHAPES_TRAINING = { batch: 32, lr: 3e-4, warmupSteps: 100, emaDecay: 0.999, captionDropout: 0.1 } as const;

/** Captions the samples at the end of a run show (with the empty caption last: the unconditional model). */
export const SAMPLE_CAPTIONS: readonly string[] = [
  'a red circle',
  'a large blue square',
  'a small yellow triangle at the top left',
  'a green cross on a white background',
  'a white circle and a red square',
  'a purple triangle at the bottom right on a yellow background',
  'a large orange circle in the center',
  '',
];

export interface ShapesRun {
  model: ShapesTextToImage;
  ema: ShapesTextToImage;
  summary: LoopSummary;
}

/**
 * Checkpoints written before 2026-12-06 recorded SHAPES_TRAINING's batch (32) in `training` whatever --batch was;
 * the run's real batch is the top-level `batch`, which is also checked on resume, so that is what `training` says now.
 */
export function withTrainingBatch(state: TrainingState): TrainingState {
  if (typeof state.batch !== 'number' || typeof state.training !== 'object' || state.training === null) return state;
  return { ...state, training: { ...state.training, batch: state.batch } };
}

/** REPA during pretraining: the frozen encoder whose clean-image tokens the projector's output is aligned with. */
export interface RepaTraining extends RepaSettings {
  evaluator: AttributeEvaluator;
}

/**
 * The forward pass and loss of step `step` (inside the training loop's tidy): flow matching, plus with `repa`
 * weight * repaLoss(P(the DiT's tokens after `depth` blocks), the evaluator's tokens of x0) (nets/repa.ts), the two
 * parts returned beside their sum for the log (REPA_LOSS_PARTS).
 */
export function shapesStepLoss(engine: Engine, model: ShapesTextToImage, seed: number, step: number, batch: number, sigmaShift?: number): Tensor;
export function shapesStepLoss(engine: Engine, model: ShapesTextToImage, seed: number, step: number, batch: number, sigmaShift: number, repa: RepaTraining | undefined): Tensor | StepLoss;
export function shapesStepLoss(engine: Engine, model: ShapesTextToImage, seed: number, step: number, batch: number, sigmaShift = 1, repa?: RepaTraining): Tensor | StepLoss {
  const data = makeBatch(streamSeed(seed, step, 0), batch);
  const random = mulberry32(streamSeed(seed, step, 1));
  const captions = data.captions.map((caption) => (random() < SHAPES_TRAINING.captionDropout ? '' : caption));
  // sigmaShift k > 1 moves the draws towards pure noise, s -> shift(s, k) (SD3's resolution shift, eq. 23).
  const sigmas = logitNormalSigmas(batch, random).map((s) => shift(s, sigmaShift));
  const shape = [batch, 3, 32, 32];
  const x0 = fromArray(engine, shape, data.images, 'f32', 'x0');
  const eps = randn(engine, shape, seed, step * batch * IMAGE_NUMEL);
  const sigma = fromArray(engine, [batch], sigmas, 'f32', 'sigma');
  const text = model.encode(captions);
  if (!repa) return flowMatchingLoss(model.denoiser.forward(noiseTo(x0, eps, sigma), sigma, text.states, text.mask, text.pooled), x0, eps);
  if (!model.repaProjector) throw new Error('shapesStepLoss: REPA needs the model\'s projector (addRepaProjector)');
  const { velocity, hidden } = model.denoiser.forwardWithHidden(noiseTo(x0, eps, sigma), sigma, text.states, text.mask, text.pooled, repa.depth);
  const target = noGrad(engine, () => repa.evaluator.tokenFeatures(x0));
  const alignment = repaLoss(model.repaProjector.forward(hidden), target);
  const fm = flowMatchingLoss(velocity, x0, eps);
  return { loss: add(fm, scale(alignment, repa.weight)), parts: { fm, repa: alignment } };
}

/** loss.csv's columns beside the loss of a REPA run: flow matching and the alignment term before its weight. */
export const REPA_LOSS_PARTS = ['fm', 'repa'] as const;

export interface ShapesExtras {
  /** Architecture overrides (tests use tiny networks); default docs/NETS.md's. */
  config?: ShapesModelConfig;
  /** Captions of the samples written at the end ([] writes none). */
  sampleCaptions?: readonly string[];
  /** REPA's encoder weights (default the bundled evaluator). */
  evaluatorPath?: string;
}

/** The frozen encoder REPA aligns with: the bundled attribute evaluator. */
export const EVALUATOR_WEIGHTS = 'models/evaluator/evaluator.safetensors';

export async function pretrainShapes(engine: Engine, options: PretrainOptions, extras: ShapesExtras = {}): Promise<ShapesRun> {
  const base = extras.config ?? { textEncoder: {}, denoiser: {} };
  const config = options.denoiser ? { ...base, denoiser: { ...base.denoiser, ...options.denoiser } } : base;
  const sampleCaptions = extras.sampleCaptions ?? SAMPLE_CAPTIONS;
  const batch = options.batch ?? SHAPES_TRAINING.batch;
  // REPA's encoder, read (and its settings checked) before any network is built. Its weights' sha256 joins the run's
  // identity (absent when off, so runs from before REPA keep theirs): a resume against another evaluator is refused.
  const evaluatorPath = extras.evaluatorPath ?? EVALUATOR_WEIGHTS;
  const evaluatorBytes = options.repa ? readFileSync(evaluatorPath) : null;
  const blocks = { ...SHAPES_DIT_CONFIG, ...config.denoiser }.depth;
  if (options.repa && options.repa.depth > blocks) throw new Error(`--repa-depth ${options.repa.depth}: the DiT has ${blocks} blocks`);
  const repaIdentity = options.repa ? { ...options.repa, evaluator: { path: evaluatorPath, sha256: sha256(evaluatorBytes!) } } : null;
  // Overrides keep SHAPES_TRAINING's key order, so a default run's identity (checked on --resume) is unchanged.
  const training = {
    ...SHAPES_TRAINING,
    batch,
    lr: options.lr ?? SHAPES_TRAINING.lr,
    ...(options.lrDecay === 'cosine' ? { decay: 'cosine' as const } : {}),
    ...(options.sigmaShift !== undefined && options.sigmaShift !== 1 ? { sigmaShift: options.sigmaShift } : {}),
    ...(repaIdentity ? { repa: repaIdentity } : {}),
  };
  const schedule: TrainingSchedule = training;
  const { out, seed, steps } = options;
  mkdirSync(out, { recursive: true });
  const model = new ShapesTextToImage(engine, config, seed);
  const ema = new ShapesTextToImage(engine, config, seed);
  let repa: RepaTraining | undefined;
  if (options.repa) {
    const evaluator = loadEvaluator(engine, evaluatorBytes!);
    if (evaluator.tokens !== model.denoiser.tokens) throw new Error(`REPA: the evaluator has ${evaluator.tokens} tokens, the DiT ${model.denoiser.tokens}; they must share the patch grid`);
    // The EMA gets one too (same parameter names for the EMA update and checkpoints); the teacher's files leave it out.
    for (const m of [model, ema]) m.addRepaProjector(evaluator.config.dim, 2 * seed + 7);
    repa = { ...options.repa, evaluator };
  }
  cloneParameters(model, ema);
  const optimizer = new AdamW(engine, model, { lr: schedule.lr, weightDecay: 0 });
  const run = { model, ema, optimizer };
  // The RNG position is the step: every draw of step t comes from (seed, t) (see the header).
  const rng = 'data: makeBatch(streamSeed(seed, t, 0)); dropout + sigma: mulberry32(streamSeed(seed, t, 1)); noise: Philox(seed) at offset t * batch * 3072';
  // --init-from: the weights (not the optimizer state) of an earlier teacher, so a short GPU session can continue one
  // whose checkpoint folder is gone. Its steps and wall time count towards this run's provenance.
  const initial = options.initFrom ? readInitialTeacher(options.initFrom, model) : undefined;
  const identity = { seed, batch, config, training, rng, ...(initial ? { initialisedFrom: initial.from } : {}) };

  let startStep = 0;
  let wallSeconds = 0;
  if (options.resume && readCheckpointState(out)) {
    const saved = withTrainingBatch(restoreCheckpoint(out, run));
    checkSameRun(saved, identity, ['seed', 'batch', 'config', 'training', 'initialisedFrom']);
    startStep = saved.step;
    wallSeconds = typeof saved.wallSeconds === 'number' ? saved.wallSeconds : 0;
    console.log(`[shapes] resumed from step ${startStep} in ${out}`);
  } else {
    if (options.resume) console.log(`[shapes] --resume: no checkpoint in ${out} yet; starting at step 0`);
    if (initial) {
      initial.load(model);
      cloneParameters(model, ema);
      console.log(`[shapes] initialised from ${initial.from.path} (${initial.from.steps ?? 'unknown'} steps before this run)`);
    }
  }
  console.log(
    `[shapes] text encoder ${model.textEncoder.parameterCount().toLocaleString()} + DiT ${model.denoiser.parameterCount().toLocaleString()} parameters; ` +
      `batch ${batch}, steps ${startStep}..${steps}`,
  );

  const summary =
    startStep >= steps
      ? { steps: 0, skipped: 0, seconds: 0, finalLoss: NaN, reached: startStep, wallSeconds }
      : await trainLoop(
          engine,
          run,
          { name: 'shapes', out, steps, startStep, logEvery: options.logEvery, checkpointEvery: checkpointSpacing(options), state: { ...identity, wallSeconds }, ...schedule, maxSeconds: maxSeconds(options), ...(repa ? { lossParts: REPA_LOSS_PARTS } : {}) },
          (step) => shapesStepLoss(engine, model, seed, step, batch, options.sigmaShift ?? 1, repa),
        );

  // steps = what the weights have seen (fewer than asked when --max-minutes stopped the run).
  // Provenance for the bundle (bundle.ts reads it from config.json's training): wall time over all sessions.
  await writeShapesTeacher(out, ema, {
    ...identity,
    steps: summary.reached + (initial?.from.steps ?? 0),
    wallSeconds: Math.round(summary.wallSeconds + (initial?.from.wallSeconds ?? 0)),
    adapter: adapterLabel(engine),
    command: `npm run pretrain -- shapes ${options.argv?.join(' ') ?? ''}`.trim(),
  });
  let grid = '(no samples)';
  if (sampleCaptions.length > 0) {
    const images = await sampleShapes(ema, sampleCaptions, { guidance: 4, steps: 50, seed: 12345 });
    grid = writeImageGrid(join(out, 'samples.png'), images, { columns: 4 });
    writeFileSync(join(out, 'samples.txt'), `${sampleCaptions.map((c, i) => `${i}: ${c || '(empty caption)'}`).join('\n')}\n`);
  }
  console.log(
    `[shapes] done: ${summary.steps} steps in ${formatDuration(summary.seconds)}, final loss ${summary.finalLoss.toFixed(4)} (mean of the last 100), ` +
      `${summary.skipped} skipped; wrote ${join(out, 'teacher.safetensors')}, ${join(out, 'text-encoder.safetensors')}, ${grid}`,
  );
  optimizer.dispose();
  repa?.evaluator.dispose();
  return { model, ema, summary };
}

export interface InitialTeacher {
  from: { path: string; steps?: number; wallSeconds?: number };
  load(model: ShapesTextToImage): void;
}

/**
 * The teacher weights in `dir`: a shapes-teacher bundle (manifest.json's checkpoints), a pretraining run folder
 * (teacher.safetensors, text-encoder.safetensors, config.json), or a run stopped before its end (the EMA of its latest
 * checkpoint). Refuses, naming the file, a folder that is none of these or whose networks are configured otherwise
 * than `model`.
 */
export function readInitialTeacher(dir: string, model: ShapesTextToImage): InitialTeacher {
  const manifestPath = join(dir, 'manifest.json');
  // Per source: the networks' configs as it records them (`what` names them in a refusal), their weights, its history.
  let what = 'its';
  let files: { denoiser: string; textEncoder: string };
  let configs: { denoiser: unknown; textEncoder: unknown };
  let from: InitialTeacher['from'];
  let load: InitialTeacher['load'] = (target) => {
    loadModule(target.denoiser, readFileSync(files.denoiser));
    loadModule(target.textEncoder, readFileSync(files.textEncoder));
  };
  if (existsSync(manifestPath)) {
    const manifest = readBundleManifest(dir);
    const { denoiser, textEncoder } = manifest.checkpoints ?? {};
    if (!denoiser || !textEncoder) throw new Error(`${manifestPath} has no checkpoints.denoiser and checkpoints.textEncoder: is ${dir} a shapes-teacher bundle?`);
    files = { denoiser: join(dir, denoiser.path), textEncoder: join(dir, textEncoder.path) };
    configs = { denoiser: denoiser.config, textEncoder: textEncoder.config };
    from = { path: dir, steps: manifest.provenance?.steps, wallSeconds: manifest.provenance?.wallSeconds };
  } else if (existsSync(join(dir, 'config.json'))) {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { denoiser: unknown; textEncoder: unknown; training?: { steps?: number; wallSeconds?: number } };
    files = { denoiser: join(dir, 'teacher.safetensors'), textEncoder: join(dir, 'text-encoder.safetensors') };
    configs = config;
    from = { path: dir, steps: config.training?.steps, wallSeconds: config.training?.wallSeconds };
  } else if (existsSync(join(dir, 'checkpoint', 'state.json'))) {
    // A run stopped before it wrote its final weights: its latest checkpoint's EMA (both networks in one file), the
    // weights it would have written; its state records the configs as overrides of the defaults.
    const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'state.json'), 'utf8')) as {
      step: number;
      wallSeconds?: number;
      config: ShapesModelConfig;
      initialisedFrom?: { steps?: number; wallSeconds?: number };
    };
    what = "its checkpoint's";
    const ema = join(dir, 'checkpoint', 'ema.safetensors');
    files = { denoiser: ema, textEncoder: ema };
    configs = fullConfigs(state.config);
    from = {
      path: dir,
      steps: state.step + (state.initialisedFrom?.steps ?? 0),
      wallSeconds: (state.wallSeconds ?? 0) + (state.initialisedFrom?.wallSeconds ?? 0),
    };
    // The teacher's networks only: a REPA run's checkpoint also holds its projector, and this run may have its own.
    load = (target) => loadModule(target.teacherNetworks(), readBytes(ema), { strict: false });
  } else {
    throw new Error(`--init-from ${dir}: no manifest.json (a bundle), config.json (a finished pretraining run) or checkpoint/ (a stopped one) there`);
  }
  const expected = fullConfigs({ denoiser: model.denoiser.config, textEncoder: model.textEncoder.config });
  for (const net of ['denoiser', 'textEncoder'] as const) {
    if (JSON.stringify(configs[net]) !== JSON.stringify(expected[net])) {
      throw new Error(`--init-from ${dir}: ${what} ${net} is ${JSON.stringify(configs[net])}, this run's is ${JSON.stringify(expected[net])}`);
    }
    if (!existsSync(files[net])) throw new Error(`--init-from ${dir}: ${files[net]} is missing`);
  }
  return { from, load };
}

/** Both networks' configs with every default filled in, as config.json records them. */
function fullConfigs(config: Partial<ShapesModelConfig>): { denoiser: object; textEncoder: object } {
  return { denoiser: { ...SHAPES_DIT_CONFIG, ...config.denoiser }, textEncoder: { ...TEXT_ENCODER_CONFIG, ...config.textEncoder } };
}

/** The EMA weights under docs/NETS.md's names, one file per network, and config.json describing them. */
async function writeShapesTeacher(out: string, ema: ShapesTextToImage, identity: Record<string, unknown>): Promise<void> {
  writeFileSync(join(out, 'teacher.safetensors'), await saveModule(ema.denoiser, { format: 'pt' }));
  writeFileSync(join(out, 'text-encoder.safetensors'), await saveModule(ema.textEncoder, { format: 'pt' }));
  writeFileSync(join(out, 'config.json'), `${JSON.stringify({ ...fullConfigs({ denoiser: ema.denoiser.config, textEncoder: ema.textEncoder.config }), training: identity }, null, 2)}\n`);
}
