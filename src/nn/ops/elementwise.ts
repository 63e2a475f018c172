// add / sub / mul with numpy broadcasting, scale (x * c), and copy.
// x[...A] OP y[...B] -> out[broadcast(A, B)]; the gradient of a broadcast operand is summed back
// over the axes it was repeated along (sumTo).
import affineSource from '../../kernels/affine.wgsl?raw';
import binarySource from '../../kernels/binary.wgsl?raw';
import { broadcastShapes, broadcastStrides, host, type HostTensor, stridesOf } from '../host';
import { record, registerTapeOps, type Tensor } from '../tensor';
import { assertF32, launch1d, output, pad6, sameShape } from './common';
import { sumTo, sumToReference } from './reduce';

const BINARY_PARAMS = Object.fromEntries(
  ['n', ...['d', 'a', 'b'].flatMap((p) => [0, 1, 2, 3, 4, 5].map((i) => `${p}${i}`))].map((name) => [name, 'u32' as const]),
);
const binaryKernel = { label: 'binary', code: binarySource, params: BINARY_PARAMS };
const affineKernel = { label: 'affine', code: affineSource, params: { n: 'u32', scale: 'f32', shift: 'f32' } } as const;

type BinaryOp = 'add' | 'sub' | 'mul' | 'broadcast';
const OP_CODES: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, broadcast: 3 };

/**
 * The output's dims and both operands' strides with the dims they walk alike merged (a dim folds into the next
 * when, for each operand, its stride is the next one's stride times the next size) and size-1 dims dropped:
 * the same elements in the same order, with fewer index divisions in binary.wgsl.
 */
export function mergeBroadcastDims(shape: readonly number[], sa: readonly number[], sb: readonly number[]): { dims: number[]; a: number[]; b: number[] } {
  const dims: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  shape.forEach((d, k) => {
    if (d === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && a[last] === sa[k]! * d && b[last] === sb[k]! * d) {
      dims[last] = dims[last]! * d;
      a[last] = sa[k]!;
      b[last] = sb[k]!;
    } else {
      dims.push(d);
      a.push(sa[k]!);
      b.push(sb[k]!);
    }
  });
  if (dims.length === 0) return { dims: [1], a: [0], b: [0] };
  return { dims, a, b };
}

function binaryForward(op: BinaryOp, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
  const engine = a.engine;
  const out = output(engine, outShape, op);
  const broadcast = !(sameShape(a.shape, outShape) && sameShape(b.shape, outShape));
  const merged = mergeBroadcastDims(outShape, broadcastStrides(a.shape, outShape, outShape.length), broadcastStrides(b.shape, outShape, outShape.length));
  const d = pad6(merged.dims, 1);
  const sa = pad6(merged.a, 0);
  const sb = pad6(merged.b, 0);
  const params: Record<string, number> = { n: out.size };
  for (let i = 0; i < 6; i++) {
    params[`d${i}`] = d[i]!;
    params[`a${i}`] = sa[i]!;
    params[`b${i}`] = sb[i]!;
  }
  launch1d(engine, binaryKernel, out.size, {
    bindings: [a.buffer, b.buffer, out.buffer],
    params,
    constants: { OP: OP_CODES[op], BROADCAST: broadcast ? 1 : 0, RANK: merged.dims.length },
  });
  return out;
}

function binary(op: Exclude<BinaryOp, 'broadcast'>, a: Tensor, b: Tensor): Tensor {
  assertF32(a, op);
  assertF32(b, op);
  const outShape = broadcastShapes(a.shape, b.shape);
  const out = binaryForward(op, a, b, outShape);
  return record(out, [a, b], (dy) => {
    const ga = a.requiresGrad ? sumTo(op === 'mul' ? mul(dy, b) : dy, a.shape) : null;
    const gb = b.requiresGrad ? sumTo(op === 'mul' ? mul(dy, a) : op === 'sub' ? scale(dy, -1) : dy, b.shape) : null;
    return [ga, gb];
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);

/** b repeated to `shape` (numpy broadcast_to); its gradient sums back. */
export function broadcastTo(b: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(b.shape, shape)) return b;
  broadcastShapes(b.shape, shape);
  const out = binaryForward('broadcast', b, b, shape);
  return record(out, [b], (dy) => [sumTo(dy, b.shape)]);
}

/** x * factor + shift. */
export function affine(x: Tensor, factor: number, shift = 0): Tensor {
  assertF32(x, 'affine');
  const out = output(x.engine, x.shape, 'affine');
  launch1d(x.engine, affineKernel, x.size, { bindings: [x.buffer, out.buffer], params: { n: x.size, scale: factor, shift } });
  return record(out, [x], (dy) => [scale(dy, factor)]);
}

export const scale = (x: Tensor, factor: number): Tensor => affine(x, factor, 0);

/** A new tensor with x's values (no gradient link: the tape's own copies use it). */
export function copy(x: Tensor): Tensor {
  const out = output(x.engine, x.shape, 'copy');
  x.engine.copy(x.buffer, out.buffer, x.size * 4);
  return out;
}

registerTapeOps(add, copy);

// ---- float64 references ----

function binaryReference(op: BinaryOp, a: HostTensor, b: HostTensor): HostTensor {
  const shape = broadcastShapes(a.shape, b.shape);
  const out = host(shape);
  const sa = broadcastStrides(a.shape, shape);
  const sb = broadcastStrides(b.shape, shape);
  const strides = stridesOf(shape);
  for (let i = 0; i < out.data.length; i++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < shape.length; k++) {
      const c = Math.floor(i / strides[k]!) % shape[k]!;
      ia += c * sa[k]!;
      ib += c * sb[k]!;
    }
    const x = a.data[ia]!;
    const y = b.data[ib]!;
    out.data[i] = op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : y;
  }
  return out;
}

export function binaryOpReference(op: Exclude<BinaryOp, 'broadcast'>) {
  return {
    forward: ([a, b]: readonly HostTensor[]) => binaryReference(op, a!, b!),
    backward: ([a, b]: readonly HostTensor[], dy: HostTensor) => [
      sumToReference(op === 'mul' ? binaryReference('mul', dy, b!) : dy, a!.shape),
      sumToReference(op === 'mul' ? binaryReference('mul', dy, a!) : op === 'sub' ? affineReference(dy, -1) : dy, b!.shape),
    ],
  };
}

export function affineReference(x: HostTensor, factor: number, shift = 0): HostTensor {
  return { shape: [...x.shape], data: x.data.map((v) => v * factor + shift) };
}

export function broadcastToReference(b: HostTensor, shape: readonly number[]): HostTensor {
  return binaryReference('broadcast', host(shape), b);
}
