// Mean losses to a scalar: prediction [B, ...], target [B, ...], optional per-sample weights [B] -> []
//   mseLoss:         mean_i w_b (p_i - t_i)^2
//   pseudoHuberLoss: mean_i w_b (sqrt((p_i - t_i)^2 + c^2) - c)     (Charbonnier; used by consistency models)
// where b is sample i's index on the first axis and the mean is over all elements. Gradients for the
// prediction, the target and the weights, each only when it requires one.
// Cost: the forward is two dispatches, ceil(n / 256) invocations summing 256 elements each
// (loss.wgsl), then one invocation summing those partials (sum_to.wgsl, via sum()): O(n) reads, two-level
// so the rounding error stays ~sqrt(256) + sqrt(n / 256) ulp (n = 1e5: 391 partials). The backward is
// one elementwise dispatch per input that needs a gradient (one per sample for the weights).
import forwardSource from '../../kernels/loss.wgsl?raw';
import backwardSource from '../../kernels/loss_backward.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, assertShape, launch1d, output } from './common';
import { sum } from './reduce';

const CHUNK = 256;
const SHARED = { n: 'u32', count: 'u32', per_sample: 'u32', c: 'f32', inv_count: 'f32' } as const;
const forwardKernel = { label: 'loss', code: forwardSource, params: SHARED };
const backwardKernel = { label: 'loss_backward', code: backwardSource, params: { ...SHARED, sign: 'f32' as const } };

type Loss = 'mse' | 'pseudoHuber';

function meanLoss(name: string, loss: Loss, c: number, prediction: Tensor, target: Tensor, weights: Tensor | null | undefined): Tensor {
  assertF32(prediction, `${name}: prediction`);
  assertF32(target, `${name}: target`);
  assertShape(target, prediction.shape, `${name}: target (the prediction's shape)`);
  if (prediction.size === 0) throw new Error(`${name}: prediction ${prediction.describe()} is empty`);
  if (weights) {
    assertF32(weights, `${name}: weights`);
    if (prediction.rank === 0) throw new Error(`${name}: weights need a batch axis, but the prediction ${prediction.describe()} is a scalar`);
    assertShape(weights, [prediction.shape[0]!], `${name}: weights (one per sample)`);
  }
  const engine = prediction.engine;
  const count = prediction.size;
  const shared = { count, per_sample: count / (prediction.shape[0] ?? 1), c, inv_count: 1 / count };
  const constants = { LOSS: loss === 'mse' ? 0 : 1, WEIGHTED: weights ? 1 : 0 };
  const w = weights ?? prediction; // bound in the weights slot when unweighted, unread

  const chunks = Math.ceil(count / CHUNK);
  const partials = output(engine, [chunks], `${name}.partials`);
  launch1d(engine, forwardKernel, chunks, {
    bindings: [prediction.buffer, target.buffer, w.buffer, partials.buffer],
    params: { n: chunks, ...shared },
    constants: { ...constants, CHUNK },
  });
  const value = sum(partials); // shape []; records nothing (partials needs no gradient)
  partials.dispose();

  const inputs = weights ? [prediction, target, weights] : [prediction, target];
  return record(value, inputs, (dy) => {
    const pass = (mode: number, sign: number, shape: readonly number[], label: string): Tensor => {
      const out = output(engine, shape, label);
      const n = out.size;
      launch1d(engine, backwardKernel, n, {
        bindings: [prediction.buffer, target.buffer, w.buffer, dy.buffer, out.buffer],
        params: { n, ...shared, sign },
        constants: { ...constants, MODE: mode },
      });
      return out;
    };
    return [
      prediction.requiresGrad ? pass(0, 1, prediction.shape, `${name}.dprediction`) : null,
      target.requiresGrad ? pass(0, -1, target.shape, `${name}.dtarget`) : null,
      weights?.requiresGrad ? pass(1, 1, weights.shape, `${name}.dweights`) : null,
    ];
  });
}

/** Mean over all elements of w_b (prediction - target)^2; weights [B] are optional. */
export function mseLoss(prediction: Tensor, target: Tensor, weights?: Tensor | null): Tensor {
  return meanLoss('mseLoss', 'mse', 0, prediction, target, weights);
}

/** Mean over all elements of w_b (sqrt((prediction - target)^2 + c^2) - c), c > 0; weights [B] are optional. */
export function pseudoHuberLoss(prediction: Tensor, target: Tensor, c: number, weights?: Tensor | null): Tensor {
  if (!(c > 0) || !Number.isFinite(c)) throw new Error(`pseudoHuberLoss: c must be a positive number, got ${c}`);
  return meanLoss('pseudoHuberLoss', 'pseudoHuber', c, prediction, target, weights);
}

// ---- float64 references (inputs: [prediction, target] or [prediction, target, weights]) ----

function meanLossReference(term: (d: number) => number, derivative: (d: number) => number): Reference {
  const sampleOf = (p: HostTensor) => {
    const perSample = p.data.length / (p.shape[0] ?? 1);
    return (i: number) => Math.floor(i / perSample);
  };
  return {
    forward([p, t, w]) {
      const sample = sampleOf(p!);
      let total = 0;
      p!.data.forEach((v, i) => (total += (w ? w.data[sample(i)]! : 1) * term(v - t!.data[i]!)));
      return host([], [total / p!.data.length]);
    },
    backward([p, t, w], dy) {
      const sample = sampleOf(p!);
      const factor = dy.data[0]! / p!.data.length;
      const dp = host(p!.shape);
      const dt = host(t!.shape);
      const dw = w ? host(w.shape) : null;
      p!.data.forEach((v, i) => {
        const d = v - t!.data[i]!;
        const g = factor * (w ? w.data[sample(i)]! : 1) * derivative(d);
        dp.data[i] = g;
        dt.data[i] = -g;
        if (dw) dw.data[sample(i)]! += factor * term(d);
      });
      return dw ? [dp, dt, dw] : [dp, dt];
    },
  };
}

export function mseLossReference(): Reference {
  return meanLossReference(
    (d) => d * d,
    (d) => 2 * d,
  );
}

export function pseudoHuberLossReference(c: number): Reference {
  return meanLossReference(
    (d) => Math.sqrt(d * d + c * c) - c,
    (d) => d / Math.sqrt(d * d + c * c),
  );
}
