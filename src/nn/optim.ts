// AdamW (Loshchilov & Hutter 2019, decoupled weight decay), the optimizer of both SenseFlow networks
// (the generator and the fake score, each with its own AdamW and learning rate under TTUR).
//
// step() runs one fused kernel per parameter (adamw.wgsl). Parameters with no .grad are skipped: their
// moments and their own step count stay as they are, so a parameter that misses a step (no loss reached
// it) is not decayed and its bias correction counts only the updates it received (as torch.optim does).
// The moments m and v are allocated, as zeros, at a parameter's first update.
//
// Checkpoints: state() reads the moments into host arrays named `${name}.exp_avg` (m) and
// `${name}.exp_avg_sq` (v), torch's names, so `serializeSafetensors(state.moments, {...})` saves them;
// loadState() puts them back. Names are the modules' dotted parameter names, or "0", "1", ... when the
// optimizer was given a list of tensors.
import adamwSource from '../kernels/adamw.wgsl?raw';
import type { Engine } from './engine';
import { Module } from './module';
import { launch1d, sameShape } from './ops/common';
import { parseSafetensors, serializeSafetensors } from './safetensors';
import { fromArray, keep, type Tensor } from './tensor';

export interface AdamWOptions {
  lr: number;
  /** Decay of the first moment (the gradient's running mean). Default 0.9. */
  beta1?: number;
  /** Decay of the second moment (the running mean of g^2). Default 0.999. */
  beta2?: number;
  /** Added to sqrt(vhat) so a parameter with tiny gradients does not take huge steps. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay: p <- p - lr * weightDecay * p each step. Default 0.01 (torch's default). */
  weightDecay?: number;
}

export interface AdamWState {
  /** step() calls so far. */
  step: number;
  /** Per parameter name, the updates its moments have seen (its bias-correction step); absent: none yet. */
  steps: Record<string, number>;
  /** `${name}.exp_avg` and `${name}.exp_avg_sq` for every parameter with moments. */
  moments: Record<string, { shape: number[]; data: Float32Array }>;
}

const adamwKernel = {
  label: 'adamw',
  code: adamwSource,
  params: { n: 'u32', lr: 'f32', beta1: 'f32', beta2: 'f32', eps: 'f32', weight_decay: 'f32', correction1: 'f32', correction2: 'f32' },
} as const;

interface Slot {
  name: string;
  param: Tensor;
  m: Tensor | null;
  v: Tensor | null;
  /** Updates applied to this parameter (t in the bias correction). */
  step: number;
}

const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

function checkLearningRate(lr: number): void {
  if (!Number.isFinite(lr) || lr < 0) throw new Error(`AdamW: lr must be a finite number >= 0, got ${lr}`);
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private learningRate: number;
  private steps = 0;
  private readonly slots: Slot[];

  constructor(
    readonly engine: Engine,
    params: readonly Tensor[] | Module,
    options: AdamWOptions,
  ) {
    checkLearningRate(options.lr);
    this.learningRate = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    for (const [key, value] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(value >= 0 && value < 1)) throw new Error(`AdamW: ${key} must be in [0, 1), got ${value}`);
    }
    if (!(this.eps > 0 && Number.isFinite(this.eps))) throw new Error(`AdamW: eps must be a positive number, got ${this.eps}`);
    if (!(this.weightDecay >= 0 && Number.isFinite(this.weightDecay))) throw new Error(`AdamW: weightDecay must be a finite number >= 0, got ${this.weightDecay}`);

    const named: [string, Tensor][] = params instanceof Module ? params.namedParameters() : params.map((t, i) => [String(i), t]);
    const seen = new Set<Tensor>();
    this.slots = named.map(([name, param]) => {
      if (param.engine !== engine) throw new Error(`AdamW: parameter "${name}" ${param.describe()} is on another engine than the optimizer`);
      if (!param.isParameter) throw new Error(`AdamW: "${name}" ${param.describe()} is not a parameter (make it with parameter() or Module.param)`);
      if (param.dtype !== 'f32') throw new Error(`AdamW: parameter "${name}" ${param.describe()} is ${param.dtype}; only f32 parameters can be trained`);
      if (seen.has(param)) throw new Error(`AdamW: parameter "${name}" ${param.describe()} is listed twice (it would be updated twice per step)`);
      seen.add(param);
      return { name, param, m: null, v: null, step: 0 };
    });
  }

  get lr(): number {
    return this.learningRate;
  }

  set lr(value: number) {
    checkLearningRate(value);
    this.learningRate = value;
  }

  /** step() calls so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** One AdamW update of every parameter that has a .grad (one fused kernel each, no readback). */
  step(): void {
    this.steps++;
    for (const slot of this.slots) {
      const { param } = slot;
      const grad = param.grad;
      if (!grad || param.size === 0) continue;
      if (grad.size !== param.size || grad.dtype !== 'f32') {
        throw new Error(`AdamW: gradient ${grad.describe()} (${grad.dtype}) does not match parameter "${slot.name}" ${param.describe()}`);
      }
      slot.m ??= this.zeros(slot, 'exp_avg');
      slot.v ??= this.zeros(slot, 'exp_avg_sq');
      slot.step++;
      // Bias corrections in float64: 1 - beta2^t is ~1e-3 at t = 1, where forming it in f32 would round.
      launch1d(this.engine, adamwKernel, param.size, {
        bindings: [param.buffer, grad.buffer, slot.m.buffer, slot.v.buffer],
        params: {
          n: param.size,
          lr: this.learningRate,
          beta1: this.beta1,
          beta2: this.beta2,
          eps: this.eps,
          weight_decay: this.weightDecay,
          correction1: 1 / (1 - this.beta1 ** slot.step),
          correction2: 1 / (1 - this.beta2 ** slot.step),
        },
      });
    }
  }

  /** Disposes every parameter's .grad (the next backward() starts from zero). */
  zeroGrad(): void {
    for (const { param } of this.slots) {
      param.grad?.dispose();
      param.grad = null;
    }
  }

  private zeros(slot: Slot, what: string, data?: Float32Array): Tensor {
    // keep(): moments outlive the tidy scope a training step may run in.
    return keep(fromArray(this.engine, slot.param.shape, data ?? new Float32Array(slot.param.size), 'f32', `${slot.name}.${what}`));
  }

  /** The step counts and the moments, read from the GPU, for a checkpoint. */
  async state(): Promise<AdamWState> {
    const withMoments = this.slots.filter((s) => s.m && s.v);
    const reads = await Promise.all(withMoments.flatMap((s) => [s.m!.read(), s.v!.read()]));
    const moments: [string, { shape: number[]; data: Float32Array }][] = [];
    withMoments.forEach((s, i) => {
      moments.push([`${s.name}.exp_avg`, { shape: [...s.param.shape], data: reads[2 * i]! }]);
      moments.push([`${s.name}.exp_avg_sq`, { shape: [...s.param.shape], data: reads[2 * i + 1]! }]);
    });
    return {
      step: this.steps,
      steps: Object.fromEntries(withMoments.map((s) => [s.name, s.step])),
      moments: Object.fromEntries(moments),
    };
  }

  /**
   * Restores what state() returned (for the same parameter names and shapes). All or nothing: every
   * problem is listed and nothing changes unless the whole state fits. Parameters absent from the state
   * start again with no moments.
   */
  loadState(state: AdamWState): void {
    const bySlot = new Map(this.slots.map((s) => [s.name, s]));
    const problems: string[] = [];
    if (!Number.isSafeInteger(state.step) || state.step < 0) problems.push(`step must be an integer >= 0, got ${state.step}`);
    const has = (record: object, key: string) => Object.hasOwn(record, key);
    const loaded: [Slot, number, Float32Array, Float32Array][] = [];
    for (const [name, step] of Object.entries(state.steps)) {
      const slot = bySlot.get(name);
      if (!slot) {
        problems.push(`the state has moments for "${name}", which this optimizer does not train`);
        continue;
      }
      if (!Number.isSafeInteger(step) || step < 1) problems.push(`"${name}": its step must be an integer >= 1, got ${step}`);
      const found: Float32Array[] = [];
      for (const key of [`${name}.exp_avg`, `${name}.exp_avg_sq`]) {
        const moment = has(state.moments, key) ? state.moments[key] : undefined;
        if (!moment) problems.push(`missing moment "${key}" (expected shape ${formatShape(slot.param.shape)})`);
        else if (!sameShape(moment.shape, slot.param.shape) || moment.data.length !== slot.param.size) {
          problems.push(`moment "${key}": expected shape ${formatShape(slot.param.shape)}, found ${formatShape(moment.shape)} with ${moment.data.length} values`);
        } else found.push(moment.data);
      }
      if (found.length === 2) loaded.push([slot, step, found[0]!, found[1]!]);
    }
    for (const key of Object.keys(state.moments)) {
      const name = key.replace(/\.exp_avg(_sq)?$/, '');
      if (name === key || !has(state.steps, name)) problems.push(`unexpected moment "${key}" (no step count for "${name}" in state.steps)`);
    }
    if (problems.length > 0) throw new Error(`AdamW.loadState: the state does not fit this optimizer; nothing was loaded:\n  ${problems.join('\n  ')}`);

    this.disposeMoments();
    this.steps = state.step;
    for (const [slot, step, m, v] of loaded) {
      slot.step = step;
      slot.m = this.zeros(slot, 'exp_avg', m);
      slot.v = this.zeros(slot, 'exp_avg_sq', v);
    }
  }

  private disposeMoments(): void {
    for (const slot of this.slots) {
      slot.m?.dispose();
      slot.v?.dispose();
      slot.m = slot.v = null;
      slot.step = 0;
    }
  }

  /** Frees the moments (the parameters are the caller's). */
  dispose(): void {
    this.disposeMoments();
  }
}

/**
 * A float64 reference of one AdamW step for one parameter, in place on p, m, v (t: the parameter's step
 * after this update, from 1). The same order of operations as adamw.wgsl.
 */
export function adamwStepReference(
  p: Float64Array,
  g: ArrayLike<number>,
  m: Float64Array,
  v: Float64Array,
  t: number,
  options: AdamWOptions,
): void {
  const { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.01 } = options;
  const correction1 = 1 / (1 - beta1 ** t);
  const correction2 = 1 / (1 - beta2 ** t);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    m[i] = beta1 * m[i]! + (1 - beta1) * gi;
    v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
    let x = p[i]!;
    x -= lr * weightDecay * x;
    x -= (lr * (m[i]! * correction1)) / (Math.sqrt(v[i]! * correction2) + eps);
    p[i] = x;
  }
}

/** The optimizer state as safetensors: the moments as tensors, the step counts in the metadata. */
export function serializeOptimizerState(state: AdamWState): Uint8Array {
  return serializeSafetensors(state.moments, { step: String(state.step), steps: JSON.stringify(state.steps) });
}

export function parseOptimizerState(bytes: Uint8Array): AdamWState {
  const { tensors, metadata } = parseSafetensors(bytes);
  if (metadata.step === undefined || metadata.steps === undefined) throw new Error('optimizer checkpoint: the metadata has no "step" or "steps"');
  return { step: Number(metadata.step), steps: JSON.parse(metadata.steps) as Record<string, number>, moments: tensors };
}
