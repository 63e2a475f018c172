// Softmax cross-entropy over the last axis, a weighted mean over rows (the classification loss of the
// attribute evaluator's heads):
//   logits [..., C], targets u32 [...] (class indices), weights f32 [...] (optional, one per row) -> scalar
//   L = sum_r w_r ce_r / max(sum_r w_r, 1),  ce_r = logsumexp(logits_r) - logits_r[t_r]
// With weights in {0, 1} this is the mean over the rows whose weight is 1 (a weight 0 masks a row out: an empty
// slot's colour, say); without weights it is the plain mean. The max(., 1) makes an all-masked batch a loss of 0,
// not 0/0; with fractional weights summing to less than 1 the denominator is therefore 1, not their sum.
// Invalid targets: a row whose target is >= C is ignored, like torch's ignore_index: it adds nothing to the sum,
// nothing to the denominator, and gets a zero gradient. IGNORED_TARGET (2^32 - 1) is the conventional value.
// Gradients: for the logits only, dL/dx_r = w_r (p_r - onehot(t_r)) / max(sum w, 1). Targets and weights are
// data (indices and masks) and get none.
// Cost: three dispatches. Forward: one invocation per row (max, exponentials saved as the probabilities p,
// log-sum), then one invocation summing the rows' (w ce, w) in blocks of 64. Backward: one invocation per
// element reading the saved p (no recomputation). p holds 4 * rows * C bytes until the backward runs.
import forwardSource from '../../kernels/cross_entropy.wgsl?raw';
import backwardSource from '../../kernels/cross_entropy_backward.wgsl?raw';
import reduceSource from '../../kernels/cross_entropy_reduce.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { empty, record, type Tensor } from '../tensor';
import { assertF32, assertShape, launch1d, output } from './common';

/** A target value no class has: the row is left out of the loss (any value >= C is). */
export const IGNORED_TARGET = 0xffffffff;

const forwardKernel = { label: 'cross_entropy', code: forwardSource, params: { rows: 'u32', channels: 'u32' } } as const;
const reduceKernel = { label: 'cross_entropy_reduce', code: reduceSource, params: { rows: 'u32' } } as const;
const backwardKernel = { label: 'cross_entropy_backward', code: backwardSource, params: { n: 'u32', channels: 'u32' } } as const;

/** The mean cross-entropy of softmax(logits) against the target classes, rows weighted by `weights` (see the header). */
export function softmaxCrossEntropy(logits: Tensor, targets: Tensor, weights?: Tensor | null): Tensor {
  assertF32(logits, 'softmaxCrossEntropy: logits');
  if (logits.rank < 1) throw new Error(`softmaxCrossEntropy: logits must be [..., C], got ${logits.describe()}`);
  const channels = logits.shape[logits.rank - 1]!;
  if (channels === 0) throw new Error(`softmaxCrossEntropy: logits ${logits.describe()} have no classes`);
  const rowShape = logits.shape.slice(0, -1);
  if (targets.dtype !== 'u32') throw new Error(`softmaxCrossEntropy: targets must be u32 class indices, got ${targets.dtype} ${targets.describe()}`);
  assertShape(targets, rowShape, 'softmaxCrossEntropy: targets (one per row of the logits)');
  if (weights) {
    assertF32(weights, 'softmaxCrossEntropy: weights');
    assertShape(weights, rowShape, 'softmaxCrossEntropy: weights (one per row of the logits)');
    if (weights.requiresGrad) throw new Error(`softmaxCrossEntropy: weights ${weights.describe()} are a mask and get no gradient; detach them`);
  }
  const engine = logits.engine;
  const rows = logits.size / channels;
  const probs = output(engine, logits.shape, 'softmaxCrossEntropy.probs');
  const stats = output(engine, [rows, 2], 'softmaxCrossEntropy.stats');
  launch1d(engine, forwardKernel, rows, {
    // The logits stand in for missing weights (never read).
    bindings: [logits.buffer, targets.buffer, (weights ?? logits).buffer, probs.buffer, stats.buffer],
    params: { rows, channels },
    constants: { WEIGHTED: weights ? 1 : 0 },
  });
  const loss = empty(engine, [], 'f32', 'softmaxCrossEntropy');
  const inverseDenominator = output(engine, [1], 'softmaxCrossEntropy.inverseDenominator');
  engine.dispatch(reduceKernel, { bindings: [stats.buffer, loss.buffer, inverseDenominator.buffer], params: { rows }, workgroups: [1] });

  const release = () => [probs, stats, inverseDenominator].forEach((t) => t.dispose());
  record(loss, [logits], (upstream) => {
    const dx = output(engine, logits.shape, 'softmaxCrossEntropy.dlogits');
    launch1d(engine, backwardKernel, logits.size, {
      bindings: [probs.buffer, targets.buffer, stats.buffer, inverseDenominator.buffer, upstream.buffer, dx.buffer],
      params: { n: logits.size, channels },
    });
    release(); // the tape runs each entry once
    return [dx];
  });
  if (!loss.requiresGrad) release(); // nothing recorded: no backward will read them
  return loss;
}

// ---- float64 reference (inputs: [logits, targets] or [logits, targets, weights]; targets as numbers) ----

function rowsOf(logits: HostTensor, targets: HostTensor, weights: HostTensor | undefined) {
  const channels = logits.shape[logits.shape.length - 1]!;
  const rows = logits.data.length / channels;
  const probs = new Float64Array(logits.data.length);
  const losses = new Float64Array(rows);
  const rowWeights = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * channels;
    let m = -Infinity;
    for (let c = 0; c < channels; c++) m = Math.max(m, logits.data[base + c]!);
    let total = 0;
    for (let c = 0; c < channels; c++) total += probs[base + c] = Math.exp(logits.data[base + c]! - m);
    for (let c = 0; c < channels; c++) probs[base + c] = probs[base + c]! / total;
    const target = targets.data[r]!;
    if (target >= channels) continue; // ignored row: weight 0
    rowWeights[r] = weights ? weights.data[r]! : 1;
    losses[r] = Math.log(total) - (logits.data[base + target]! - m);
  }
  const denominator = Math.max(rowWeights.reduce((a, w) => a + w, 0), 1);
  return { channels, rows, probs, losses, rowWeights, denominator };
}

export function softmaxCrossEntropyReference(): Reference {
  return {
    forward([logits, targets, weights]) {
      const { losses, rowWeights, denominator } = rowsOf(logits!, targets!, weights);
      let total = 0;
      losses.forEach((ce, r) => (total += rowWeights[r]! * ce));
      return host([], [total / denominator]);
    },
    backward([logits, targets, weights], dy) {
      const { channels, rows, probs, rowWeights, denominator } = rowsOf(logits!, targets!, weights);
      const dx = host(logits!.shape);
      for (let r = 0; r < rows; r++) {
        const factor = (dy.data[0]! * rowWeights[r]!) / denominator;
        for (let c = 0; c < channels; c++) dx.data[r * channels + c] = factor * (probs[r * channels + c]! - (c === targets!.data[r] ? 1 : 0));
      }
      return weights ? [dx, null, null] : [dx, null];
    },
  };
}
