// Pretraining the attribute evaluator (docs/NETS.md; `npm run pretrain -- evaluator --seed S --steps N --out DIR`,
// through src/cli/pretrain.ts). The data is an infinite stream of procedural renders: step t trains on
// makeBatch(trainingBatchSeed(seed, t), batch), a batch never seen before, so there is no epoch and no overfitting
// to a finite set. Loss: the sum of the heads' softmax cross-entropies (nets/evaluator.ts evaluatorLoss).
// AdamW (lr 1e-3, weight decay 0.01), a warmup-stable-decay schedule (linear warm-up over 200 steps, constant,
// linear decay to 0 over the last 20% of the steps: a run can be extended on resume without redoing its warm-up),
// EMA of the weights (0.999, with trainLoop.ts's warm-up) saved as the evaluator.
// At the end the EMA model is measured on 2,000 held-out renders (eval/seeds.ts: a seed range training never
// draws from): per-attribute accuracy against the scenes, prompt accuracy against the captions, and the Frechet
// distance between two independent sets of 2,000 real renders (the floor of our FID).
// Writes <out>/evaluator.safetensors, <out>/evaluator.json, <out>/loss.csv, and <out>/checkpoint/ for --resume.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBatch } from '../data/dataset';
import { evaluateImages, readImages, realFeatureStatistics, type SceneAccuracy, sceneAccuracy } from '../eval/evaluate';
import { frechetDistanceFromStatistics, gaussianStatistics } from '../eval/frechet';
import type { AttributeScore, CheckedAttribute } from '../eval/promptAccuracy';
import { HELD_OUT_SEED, REAL_REFERENCE_SEED, trainingBatchSeed, VALIDATION_SEED } from '../eval/seeds';
import type { NodeAdapterKind } from '../gpu/node';
import { AttributeEvaluator, EVALUATOR_CONFIG, evaluatorLoss, HEAD_NAMES, targetsOf } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import { AdamW } from '../nn/optim';
import { cloneParameters, lerpParameters } from '../nn/params';
import { loadModule, saveModule } from '../nn/safetensors';
import { backward, fromArray, type Tensor, tidy } from '../nn/tensor';
import { checkSameRun, parseOptimizerState, readCheckpointState, type Trainable, type TrainingState, writeCheckpoint } from './checkpoint';
import { adapterLabel, openEngine } from './engine';
import { gitCommit } from './git';
import { emaDecayAt, formatDuration } from './trainLoop';

export const EVALUATOR_TRAINING = { batch: 64, lr: 1e-3, weightDecay: 0.01, warmupSteps: 200, decayFraction: 0.2, emaDecay: 0.999 } as const;

export interface EvaluatorTrainingOptions {
  seed: number;
  /** Total optimizer steps (a resumed run continues up to this count). */
  steps: number;
  /** Folder for checkpoints, logs and the trained weights. */
  out: string;
  batch?: number;
  adapter?: NodeAdapterKind;
  /** Progress lines go here (default console.log). */
  log?: (line: string) => void;
  /** Continue from <out>/checkpoint when there is one. */
  resume?: boolean;
  checkpointEvery?: number;
  logEvery?: number;
  /** Steps between accuracy checks on 500 validation renders (not the held-out set). Default: checkpointEvery. */
  validateEvery?: number;
  /** Held-out images measured at the end (default 2,000). */
  heldOut?: number;
  /** Use this engine instead of opening one on `adapter` (tests). */
  engine?: Engine;
  /** Recorded in evaluator.json (default: this process's command line). */
  command?: string;
}

/** Warmup-stable-decay: linear warm-up, constant, then linear decay to 0 over the last decayFraction of the steps. */
export function evaluatorLearningRate(step: number, steps: number, schedule: { lr: number; warmupSteps: number; decayFraction: number } = EVALUATOR_TRAINING): number {
  const warmup = Math.min(1, (step + 1) / Math.max(1, schedule.warmupSteps));
  const decayStart = steps * (1 - schedule.decayFraction);
  const decay = step < decayStart ? 1 : Math.max(0, (steps - step) / (steps - decayStart));
  return schedule.lr * Math.min(warmup, decay);
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

export interface EvaluatorReport {
  heldOut: { seed: number; images: number; accuracy: SceneAccuracy; promptAccuracy: number; perAttribute: Record<CheckedAttribute, AttributeScore> };
  stepsPerSecond: number;
  [key: string]: unknown;
}

/** Trains (or resumes) the evaluator, measures it on held-out renders, and writes it; returns what evaluator.json holds. */
export async function pretrainEvaluator(options: EvaluatorTrainingOptions): Promise<EvaluatorReport> {
  const engine = options.engine ?? (await openEngine(options.adapter ?? 'llvmpipe'));
  try {
    return await train(engine, options);
  } finally {
    if (!options.engine) engine.destroy();
  }
}

async function train(engine: Engine, options: EvaluatorTrainingOptions): Promise<EvaluatorReport> {
  const seed = options.seed;
  mkdirSync(options.out, { recursive: true });

  const model = new AttributeEvaluator(engine, {}, seed);
  const ema = new AttributeEvaluator(engine, {}, seed);
  cloneParameters(model, ema);
  const optimizer = new AdamW(engine, model, { lr: EVALUATOR_TRAINING.lr, weightDecay: EVALUATOR_TRAINING.weightDecay });
  const run = { model, ema, optimizer };
  try {
    return await trainAndMeasure(engine, options, run);
  } finally {
    optimizer.dispose();
    model.dispose();
    ema.dispose();
  }
}

async function trainAndMeasure(engine: Engine, options: EvaluatorTrainingOptions, run: { model: AttributeEvaluator; ema: AttributeEvaluator; optimizer: AdamW }): Promise<EvaluatorReport> {
  const { seed, steps, out } = options;
  const { model, ema, optimizer } = run;
  const log = options.log ?? ((line: string) => console.log(line));
  const batch = options.batch ?? EVALUATOR_TRAINING.batch;
  const checkpointEvery = options.checkpointEvery ?? Math.max(50, Math.ceil(steps / 20));
  const logEvery = options.logEvery ?? 50;
  const validateEvery = options.validateEvery ?? checkpointEvery;
  const identity = { seed, batch, config: model.config, training: EVALUATOR_TRAINING };
  let startStep = 0;
  let trainingSeconds = 0;
  const saved = options.resume ? readCheckpointState(out) : null;
  if (saved) {
    checkSameRun(saved, identity, ['seed', 'batch', 'config', 'training']);
    restoreCopied(out, run);
    startStep = saved.step;
    trainingSeconds = Number(saved.trainingSeconds ?? 0);
    log(`[evaluator] resumed from step ${startStep} in ${out}`);
  }
  log(`[evaluator] ${model.parameterCount().toLocaleString()} parameters; batch ${batch}, steps ${startStep}..${steps}; adapter ${adapterLabel(engine)}`);

  const lossLog = join(out, 'loss.csv');
  if (startStep === 0 || !existsSync(lossLog)) writeFileSync(lossLog, `step,lr,total,${HEAD_NAMES.join(',')}\n`);
  else writeFileSync(lossLog, `${readFileSync(lossLog, 'utf8').split('\n').filter((line, i) => line && (i === 0 || Number(line.split(',')[0]) <= startStep)).join('\n')}\n`);

  let timedFrom: { step: number; time: number } | null = null;
  let sessionStart = performance.now();
  for (let step = startStep; step < steps; step++) {
    const lr = evaluatorLearningRate(step, steps);
    optimizer.lr = lr;
    const data = makeBatch(trainingBatchSeed(seed, step), batch);
    const losses = tidy(engine, () => {
      const output = model.forward(fromArray(engine, [batch, 3, 32, 32], data.images, 'f32', 'images'));
      const loss = evaluatorLoss(output, targetsOf(data.scenes));
      backward(loss.total);
      return [loss.total, ...HEAD_NAMES.map((name) => loss.parts[name])];
    });
    const values = await Promise.all(losses.map((t: Tensor) => t.item()));
    losses.forEach((t) => t.dispose());
    if (!values.every(Number.isFinite)) {
      optimizer.zeroGrad(); // divergence guard: drop this step's gradients, keep the weights
      log(`[evaluator] step ${step + 1}: loss is ${values[0]}; update skipped`);
    } else {
      optimizer.step();
      optimizer.zeroGrad();
      lerpParameters(ema, model, emaDecayAt(optimizer.stepCount - 1, EVALUATOR_TRAINING));
    }
    appendFileSync(lossLog, `${step + 1},${lr},${values.join(',')}\n`);
    const done = step + 1;
    if (!timedFrom) timedFrom = { step: done, time: performance.now() }; // the first step compiles every pipeline
    if (done % logEvery === 0 || done === steps) {
      const rate = (done - timedFrom.step) / ((performance.now() - timedFrom.time) / 1000);
      const parts = HEAD_NAMES.map((name, i) => `${name} ${values[i + 1]!.toFixed(3)}`).join(' ');
      log(`[evaluator] step ${done}/${steps}  loss ${values[0]!.toFixed(4)} (${parts})  lr ${lr.toExponential(1)}  ${rate.toFixed(2)} steps/s  ETA ${formatDuration((steps - done) / rate)}`);
    }
    if (done % validateEvery === 0 && done !== steps) {
      const validation = makeBatch(VALIDATION_SEED, 500);
      const accuracy = sceneAccuracy((await readImages(engine, ema, validation.images)).predictions, validation.scenes);
      log(`[evaluator] step ${done} validation (500 renders, EMA): ${formatAccuracy(accuracy)}`);
    }
    if (done % checkpointEvery === 0 || done === steps) {
      const now = performance.now();
      trainingSeconds += (now - sessionStart) / 1000;
      sessionStart = now;
      await writeCheckpoint(out, run, { ...identity, step: done, trainingSeconds });
    }
  }
  const stepsPerSecond = timedFrom ? (steps - timedFrom.step) / ((performance.now() - timedFrom.time) / 1000) : NaN;

  // ---- the held-out measurement of the EMA weights ----
  const heldOutCount = options.heldOut ?? 2000;
  const measureStart = performance.now();
  const heldOut = makeBatch(HELD_OUT_SEED, heldOutCount);
  const evaluation = await evaluateImages(engine, ema, heldOut.images, heldOut.statements);
  const evaluationSeconds = (performance.now() - measureStart) / 1000;
  const accuracy = sceneAccuracy(evaluation.predictions, heldOut.scenes);
  const real = await realFeatureStatistics(engine, ema, { count: heldOutCount, seed: REAL_REFERENCE_SEED });
  const realVsReal = frechetDistanceFromStatistics(gaussianStatistics({ shape: [heldOutCount, evaluation.dim], data: evaluation.features }), real);
  log(`[evaluator] held-out (${heldOutCount} renders, seed ${HELD_OUT_SEED}): ${formatAccuracy(accuracy)}`);
  log(`[evaluator] prompt accuracy of the real held-out renders against their captions: ${percent(evaluation.promptAccuracy)}; FD real vs real (${heldOutCount} vs ${heldOutCount}): ${realVsReal.toFixed(4)}`);

  const weights = await saveModule(ema, { format: 'pt', config: JSON.stringify(ema.config), steps: String(steps), seed: String(seed) });
  writeFileSync(join(out, 'evaluator.safetensors'), weights);
  const report: EvaluatorReport = {
    model: 'AttributeEvaluator (docs/NETS.md), EMA weights',
    config: { ...EVALUATOR_CONFIG, ...ema.config },
    parameters: ema.parameterCount(),
    bytes: weights.byteLength,
    heldOut: { seed: HELD_OUT_SEED, images: heldOutCount, accuracy, promptAccuracy: evaluation.promptAccuracy, perAttribute: evaluation.perAttribute },
    frechetDistanceRealVsReal: { value: realVsReal, images: heldOutCount, seeds: [HELD_OUT_SEED, REAL_REFERENCE_SEED] },
    training: { seed, steps, ...EVALUATOR_TRAINING, batch, data: 'makeBatch(trainingBatchSeed(seed, step), batch) (src/eval/seeds.ts)' },
    wallSeconds: { training: trainingSeconds, heldOutEvaluation: evaluationSeconds },
    stepsPerSecond,
    adapter: adapterLabel(engine),
    command: options.command ?? process.argv.join(' '),
    commit: gitCommit(),
    date: new Date().toISOString(),
  };
  writeFileSync(join(out, 'evaluator.json'), `${JSON.stringify(report, null, 2)}\n`);
  log(`[evaluator] wrote ${join(out, 'evaluator.safetensors')} (${weights.byteLength} bytes) and ${join(out, 'evaluator.json')}`);
  return report;
}

/**
 * checkpoint.ts's restoreCheckpoint, reading each file into a plain Uint8Array copy. Workaround: parseSafetensors
 * (nn/safetensors.ts) takes `bytes.slice(...).buffer`, and a Node Buffer's slice is a view whose .buffer is the whole
 * file (or Node's shared pool), so a Buffer straight from readFileSync loads wrong values without any error. Remove
 * once parseSafetensors copies with ArrayBuffer.slice.
 */
function restoreCopied(out: string, run: Trainable): TrainingState {
  const dir = ['checkpoint', 'checkpoint.old'].map((name) => join(out, name)).find((d) => existsSync(join(d, 'state.json')));
  if (!dir) throw new Error(`--resume: ${out} has no checkpoint`);
  const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
  loadModule(run.model, read('model.safetensors'));
  loadModule(run.ema, read('ema.safetensors'));
  run.optimizer.loadState(parseOptimizerState(read('optimizer.safetensors')));
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as TrainingState;
}

function formatAccuracy(a: SceneAccuracy): string {
  return (['background', 'presence', 'position', 'color', 'shape', 'size', 'exact'] as const).map((key) => `${key} ${percent(a[key])}`).join(', ');
}

