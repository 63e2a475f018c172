// The optimisation loop the pretraining commands share: AdamW with linear learning-rate warm-up, an EMA of the
// weights after each update, divergence guard, progress lines, a loss log, and checkpoints.
//
// EMA: ema <- d ema + (1 - d) model with d = min(emaDecay, (1 + t) / (10 + t)) at update t, the warm-up of
// TensorFlow's ExponentialMovingAverage(num_updates) and diffusers' EMAModel: with a fixed 0.999 a run of a few
// thousand steps would keep e^-3 of the random initialisation in the saved weights.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../nn/engine';
import { lerpParameters } from '../nn/params';
import { KernelProfiler } from '../nn/profiler';
import { concat, reshape } from '../nn/ops/shape';
import { backward, noGrad, type Tensor, tidy } from '../nn/tensor';
export { streamSeed } from '../data/random';
import { type Trainable, type TrainingState, writeCheckpoint } from './checkpoint';

export interface TrainingSchedule {
  lr: number;
  warmupSteps: number;
  emaDecay: number;
  /**
   * After warm-up: constant (absent), or 'cosine' from lr down to 0 at the run's last step (SGDR without restarts,
   * Loshchilov & Hutter 2017), which lets the toy teachers settle into modes 20 standard deviations apart.
   */
  decay?: 'cosine';
}

export interface LoopOptions extends TrainingSchedule {
  name: string;
  out: string;
  steps: number;
  /** The step to start from (0, or a resumed checkpoint's step). */
  startStep: number;
  logEvery: number;
  checkpointEvery: number;
  /** What goes into state.json besides the step (options, configs). */
  state: Record<string, unknown>;
  /**
   * Wall-clock budget in seconds: after the step that crosses it the loop checkpoints and stops (a run on a lent
   * machine ends inside its time limit, and --resume continues it). Meant for a constant learning rate, which
   * does not depend on where the run stops.
   */
  maxSeconds?: number;
  /**
   * Names of the loss's parts, logged beside it (loss.csv columns after lr, the progress line): lossAt then returns
   * a StepLoss with exactly these parts.
   */
  lossParts?: readonly string[];
}

/** A step's loss with named parts (e.g. flow matching and REPA's alignment) that are read and logged, not differentiated. */
export interface StepLoss {
  loss: Tensor;
  parts: Record<string, Tensor>;
}

export interface LoopSummary {
  steps: number;
  skipped: number;
  seconds: number;
  /** Mean loss of the last (up to) 100 steps of this session. */
  finalLoss: number;
  /** The step count reached (options.steps, or fewer when maxSeconds stopped the run). */
  reached: number;
  /** Training wall time of the whole run: this session's plus state.wallSeconds (earlier sessions, from the checkpoint). */
  wallSeconds: number;
}

/** The learning rate of step `step` (0-based) of a run of `steps` steps. */
export function learningRateAt(step: number, s: TrainingSchedule, steps: number): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (s.decay !== 'cosine') return s.lr;
  const progress = (step - s.warmupSteps) / Math.max(1, steps - s.warmupSteps);
  return 0.5 * s.lr * (1 + Math.cos(Math.PI * progress));
}

export const emaDecayAt = (update: number, s: TrainingSchedule): number => Math.min(s.emaDecay, (1 + update) / (10 + update));

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Keeps loss.csv consistent with a resumed step: rows of steps not yet (re)done are dropped. The header is this
 * run's (a run resumed from before its parts were logged keeps its earlier rows, their part columns empty).
 */
function prepareLossLog(path: string, startStep: number, parts: readonly string[]): void {
  const header = ['step', 'loss', 'lr', ...parts].join(',');
  if (startStep === 0 || !existsSync(path)) {
    writeFileSync(path, `${header}\n`);
    return;
  }
  const rows = readFileSync(path, 'utf8').split('\n').filter(Boolean).slice(1);
  const kept = rows.filter((line) => Number(line.split(',')[0]) <= startStep); // rows are numbered by steps done
  writeFileSync(path, [header, ...kept].map((line) => `${line}\n`).join(''));
}

/**
 * Runs steps startStep .. steps - 1. lossAt(step) builds the forward pass of that step and returns the scalar
 * loss (with options.lossParts, a StepLoss); it runs inside tidy, and its randomness must depend on the step only
 * (exact resume).
 */
export async function trainLoop(engine: Engine, run: Trainable, options: LoopOptions, lossAt: (step: number) => Tensor | StepLoss): Promise<LoopSummary> {
  const { name, out, steps, startStep, logEvery, checkpointEvery } = options;
  const partNames = options.lossParts ?? [];
  const lossLog = join(out, 'loss.csv');
  prepareLossLog(lossLog, startStep, partNames);
  const recent: number[] = [];
  let windowLoss = 0;
  let windowCount = 0;
  const windowParts = partNames.map(() => 0);
  let skipped = 0;
  const started = performance.now();
  let timedFrom: { step: number; time: number } | null = null;
  let reached = startStep;
  const priorSeconds = typeof options.state.wallSeconds === 'number' ? options.state.wallSeconds : 0;
  // SENSEFLOW_PROFILE=N: time every kernel on the GPU over N steps (after 3 warm-up steps) and print the table.
  const profileSteps = Number(process.env.SENSEFLOW_PROFILE ?? 0);
  let profiling: { from: number; time: number } | null = null;

  for (let step = startStep; step < steps; step++) {
    if (profileSteps > 0 && step === startStep + 3 && KernelProfiler.available(engine.device)) {
      engine.profiler = new KernelProfiler(engine.device);
      profiling = { from: step, time: performance.now() };
    }
    const lr = learningRateAt(step, options, steps);
    run.optimizer.lr = lr;
    // The loss and its parts (if any) as one tensor, so a step reads the GPU back once.
    const readout = tidy(engine, () => {
      const result = lossAt(step);
      const { loss, parts } = 'parts' in result ? result : { loss: result, parts: {} as Record<string, Tensor> };
      const names = Object.keys(parts);
      if (names.join() !== partNames.join()) throw new Error(`trainLoop: the step's loss has parts [${names.join(', ')}], the loop logs [${partNames.join(', ')}]`);
      backward(loss);
      if (names.length === 0) return loss;
      return noGrad(engine, () => concat([loss, ...partNames.map((part) => parts[part]!)].map((t) => reshape(t, [1])), 0));
    });
    const [value, ...partValues] = Array.from(await readout.read()) as [number, ...number[]];
    readout.dispose();
    if (!Number.isFinite(value)) {
      // Divergence guard: a non-finite loss poisons the gradients; drop them and keep the weights.
      run.optimizer.zeroGrad();
      skipped++;
      console.warn(`[${name}] step ${step + 1}: loss is ${value}; update skipped (${skipped} so far)`);
    } else {
      run.optimizer.step();
      run.optimizer.zeroGrad();
      lerpParameters(run.ema, run.model, emaDecayAt(run.optimizer.stepCount - 1, options));
      windowLoss += value;
      partValues.forEach((v, i) => (windowParts[i]! += v));
      windowCount++;
      recent.push(value);
      if (recent.length > 100) recent.shift();
    }
    appendFileSync(lossLog, `${[step + 1, value, lr, ...partValues].join(',')}\n`);
    const done = step + 1;
    // Timing starts after the first step, which compiles every pipeline.
    if (!timedFrom) timedFrom = { step: done, time: performance.now() };
    if (done % logEvery === 0 || done === steps) {
      const elapsed = (performance.now() - timedFrom.time) / 1000;
      const rate = elapsed > 0 ? (done - timedFrom.step) / elapsed : NaN;
      const mean = (sum: number) => (windowCount > 0 ? sum / windowCount : NaN);
      const partsLine = partNames.length > 0 ? ` (${partNames.map((part, i) => `${part} ${mean(windowParts[i]!).toFixed(4)}`).join(', ')})` : '';
      console.log(
        `[${name}] step ${done}/${steps}  loss ${mean(windowLoss).toFixed(4)}${partsLine}  lr ${lr.toExponential(1)}  ${rate > 0 ? rate.toFixed(2) : '-'} steps/s  ETA ${formatDuration((steps - done) / rate)}`,
      );
      windowLoss = windowCount = 0;
      windowParts.fill(0);
    }
    reached = done;
    if (profiling && done === profiling.from + profileSteps) {
      const wall = performance.now() - profiling.time;
      const kernels = await engine.profiler!.report();
      engine.profiler = undefined;
      const gpu = kernels.reduce((sum, k) => sum + k.ms, 0);
      console.log(`[${name}] profile of ${profileSteps} steps: wall ${(wall / profileSteps).toFixed(1)} ms/step, GPU ${(gpu / profileSteps).toFixed(1)} ms/step in ${kernels.reduce((n, k) => n + k.calls, 0) / profileSteps} passes`);
      for (const k of kernels.slice(0, 30)) console.log(`  ${(k.ms / profileSteps).toFixed(3).padStart(9)} ms/step  ${String(k.calls / profileSteps).padStart(5)} calls/step  ${k.label}`);
      profiling = null;
    }
    const outOfTime = options.maxSeconds !== undefined && (performance.now() - started) / 1000 >= options.maxSeconds && done < steps;
    if (done % checkpointEvery === 0 || done === steps || outOfTime) {
      const state: TrainingState = { ...options.state, step: done, wallSeconds: priorSeconds + (performance.now() - started) / 1000 };
      await writeCheckpoint(out, run, state);
    }
    if (outOfTime) {
      console.log(`[${name}] time budget of ${formatDuration(options.maxSeconds!)} reached at step ${done}/${steps}; checkpoint written (--resume continues)`);
      break;
    }
  }
  const finalLoss = recent.length > 0 ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN;
  const seconds = (performance.now() - started) / 1000;
  return { steps: reached - startStep, skipped, seconds, finalLoss, reached, wallSeconds: priorSeconds + seconds };
}
