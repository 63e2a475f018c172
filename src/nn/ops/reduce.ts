// sum and mean over axes, and sumTo (sum down to a broadcast-compatible shape: the gradient of broadcasting).
// x[...S] -> out[S with the reduced axes set to 1] (keepDims), or with them removed.
import sumToSource from '../../kernels/sum_to.wgsl?raw';
import { host, type HostTensor, stridesOf } from '../host';
import { record, type Tensor } from '../tensor';
import { assertF32, isCpuAdapter, launch1d, output, pad6, sameShape } from './common';
import { broadcastTo, broadcastToReference, scale } from './elementwise';
import { reshapeView } from './view';

const SUM_PARAMS = {
  n: 'u32',
  count: 'u32',
  chunk: 'u32',
  chunks: 'u32',
  ...Object.fromEntries(['keep', 'red', 'stride'].flatMap((p) => [0, 1, 2, 3, 4, 5].map((i) => [`${p}${i}`, 'u32' as const]))),
  scale: 'f32',
  red_stride: 'u32',
} as const;
const sumKernel = { label: 'sum_to', code: sumToSource, params: SUM_PARAMS };

function normaliseAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : [...axes];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b).map((a) => {
    if (a < 0 || a >= rank) throw new Error(`axis ${a} out of range for rank ${rank}`);
    return a;
  });
}

/**
 * Inputs each invocation sums on a GPU when the outputs alone leave it idle (fewer than CHUNKED_BELOW outputs):
 * the reduced range is cut into chunks of this length and the partials summed in a further pass. Measured on an
 * H200 (scripts/device/call2.sh): sum_to took 105 of 190 ms of a Shapes teacher step at batch 128 unchunked.
 */
const CHUNK = 64;
const CHUNKED_BELOW = 65536;

/** Chunk length for a reduction (count inputs into n outputs): count itself (one pass) on CPU adapters. */
function chunkLength(x: Tensor, n: number, count: number): number {
  if (chunkOverride !== null) return chunkOverride;
  return !isCpuAdapter(x.engine) && count > 4 * CHUNK && n < CHUNKED_BELOW ? CHUNK : count;
}

let chunkOverride: number | null = null;

/** Tests: force a chunk length for every reduction (null: choose per adapter), so CPU adapters run the GPU path. */
export function setSumChunk(chunk: number | null): void {
  chunkOverride = chunk;
}

function reduceKeepDims(x: Tensor, axes: readonly number[], factor: number): Tensor {
  const keepShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = keepShape.reduce((a, b) => a * b, 1);
  const count = axes.reduce((m, a) => m * x.shape[a]!, 1);
  const chunk = Math.max(1, Math.min(chunkLength(x, n, count), count));
  const chunks = Math.max(1, Math.ceil(count / chunk));
  // Several chunks: partial sums [chunks, ...keepShape], then summed over the first axis (possibly chunked again).
  const out = output(x.engine, chunks > 1 ? [chunks, ...keepShape] : keepShape, 'sum');
  const keep = pad6(keepShape, 1);
  const red = pad6(x.shape.map((d, i) => (axes.includes(i) ? d : 1)), 1);
  const strides = pad6(stridesOf(x.shape), 0);
  // The reduced axes longer than 1: one of them, and the index of input r is a multiply-add (sum_to.wgsl).
  const longAxes = axes.filter((a) => x.shape[a]! > 1);
  const oneAxis = longAxes.length <= 1;
  const params: Record<string, number> = { n, count, chunk, chunks, scale: chunks > 1 ? 1 : factor, red_stride: oneAxis && longAxes.length ? stridesOf(x.shape)[longAxes[0]!]! : 0 };
  for (let i = 0; i < 6; i++) {
    params[`keep${i}`] = keep[i]!;
    params[`red${i}`] = red[i]!;
    params[`stride${i}`] = strides[i]!;
  }
  launch1d(x.engine, sumKernel, n * chunks, { bindings: [x.buffer, out.buffer], params, constants: { ONE_AXIS: oneAxis ? 1 : 0 } });
  if (chunks === 1) return out;
  const total = reduceKeepDims(out, [0], factor);
  out.dispose();
  const summed = total.view(keepShape);
  total.dispose();
  return summed;
}

function reduce(x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean, mean: boolean): Tensor {
  assertF32(x, mean ? 'mean' : 'sum');
  const list = normaliseAxes(axes, x.rank);
  const count = list.reduce((n, a) => n * x.shape[a]!, 1);
  const factor = mean ? 1 / count : 1;
  const kept = reduceKeepDims(x, list, factor);
  const shape = keepDims ? kept.shape : x.shape.filter((_, i) => !list.includes(i));
  const out = keepDims ? kept : reshapeView(kept, shape);
  return record(out, [x], (dy) => {
    const g = broadcastTo(reshapeView(dy, kept.shape), x.shape);
    return [factor === 1 ? g : scale(g, factor)];
  });
}

export const sum = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => reduce(x, axes, keepDims, false);
export const mean = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => reduce(x, axes, keepDims, true);

/** Sums g down to `shape`, which g's shape must broadcast from (numpy rules); the identity when equal. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const offset = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    const d = i < offset ? 1 : shape[i - offset]!;
    if (d === 1 && g.shape[i] !== 1) axes.push(i);
    else if (d !== g.shape[i]) throw new Error(`sumTo: [${g.shape.join(', ')}] does not broadcast from [${shape.join(', ')}]`);
  }
  const reduced = axes.length ? reduceKeepDims(g, axes, 1) : g;
  const out = reshapeView(reduced, shape);
  return record(out, [g], (dy) => [broadcastTo(dy, g.shape)]);
}


// ---- float64 references ----

export function sumToReference(x: HostTensor, shape: readonly number[]): HostTensor {
  const out = host(shape);
  const offset = x.shape.length - shape.length;
  const xs = stridesOf(x.shape);
  const os = stridesOf(shape);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let k = offset; k < x.shape.length; k++) {
      const c = Math.floor(i / xs[k]!) % x.shape[k]!;
      if (shape[k - offset] !== 1) o += c * os[k - offset]!;
    }
    out.data[o] = out.data[o]! + x.data[i]!;
  }
  return out;
}

export function reduceReference(axes: number | readonly number[] | undefined, keepDims: boolean, isMean: boolean) {
  const keepShapeOf = (x: HostTensor) => {
    const list = normaliseAxes(axes, x.shape.length);
    return { list, keepShape: x.shape.map((d, i) => (list.includes(i) ? 1 : d)) };
  };
  return {
    forward([x]: readonly HostTensor[]): HostTensor {
      const { list, keepShape } = keepShapeOf(x!);
      const count = list.reduce((n, a) => n * x!.shape[a]!, 1);
      const out = sumToReference(x!, keepShape);
      if (isMean) out.data = out.data.map((v) => v / count);
      if (!keepDims) out.shape = x!.shape.filter((_, i) => !list.includes(i));
      return out;
    },
    backward([x]: readonly HostTensor[], dy: HostTensor): HostTensor[] {
      const { list, keepShape } = keepShapeOf(x!);
      const count = list.reduce((n, a) => n * x!.shape[a]!, 1);
      const g = broadcastToReference({ shape: keepShape, data: dy.data }, x!.shape);
      if (isMean) g.data = g.data.map((v) => v / count);
      return [g];
    },
  };
}
