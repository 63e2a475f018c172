// Data movement: concat, slice, transpose (any permutation up to rank 6) and reshape (a view, from view.ts).
// concat([...A with a_i on axis]) -> [...A with sum a_i];  slice(x[...S], axis, start, end) -> S with
// end - start on axis;  transpose(x[...S], perm) -> [S[perm[0]], S[perm[1]], ...].
// The kernels copy 32-bit words, so these work on u32 tensors (ids, masks) as well as f32.
// Gradients: concat -> slices of dy; slice -> dy zero-padded back to x's shape; transpose -> dy
// transposed by the inverse permutation.
import permuteSource from '../../kernels/shape_permute.wgsl?raw';
import sliceSource from '../../kernels/shape_slice.wgsl?raw';
import { host, type HostTensor, stridesOf } from '../host';
import type { Reference } from '../testing';
import { empty, record, sizeOf, type Tensor } from '../tensor';
import { launch1d, pad6 } from './common';

export { reshapeView as reshape } from './view';

const permuteKernel = {
  label: 'shape_permute',
  code: permuteSource,
  params: Object.fromEntries(['n', ...['d', 's'].flatMap((p) => [0, 1, 2, 3, 4, 5].map((i) => `${p}${i}`))].map((name) => [name, 'u32' as const])),
};
const sliceKernel = { label: 'shape_slice', code: sliceSource, params: { n: 'u32', in_cols: 'u32', out_cols: 'u32', shift: 'i32' } } as const;

function normaliseAxis(axis: number, rank: number, what: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new Error(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** [rows, size along axis, inner]: the tensor as a 3D block around `axis`. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))];
}

/** out[rows, outCols] = x[rows, inCols] shifted right by `shift` columns, zero outside (see shape_slice.wgsl). */
function shiftedCopy(x: Tensor, outShape: readonly number[], axis: number, shift: number, label: string): Tensor {
  const [, inSize, inner] = around(x.shape, axis);
  const out = empty(x.engine, outShape, x.dtype, label);
  const params = { n: out.size, in_cols: inSize * inner, out_cols: outShape[axis]! * inner, shift: shift * inner };
  launch1d(x.engine, sliceKernel, out.size, { bindings: [x.buffer, out.buffer], params, constants: { PLACE: 0 } });
  return out;
}

function sliceForward(x: Tensor, axis: number, start: number, end: number): Tensor {
  const shape = x.shape.map((d, i) => (i === axis ? end - start : d));
  return shiftedCopy(x, shape, axis, -start, 'slice');
}

function padForward(dy: Tensor, shape: readonly number[], axis: number, start: number): Tensor {
  return shiftedCopy(dy, shape, axis, start, 'slice.backward');
}

/** Concatenates tensors of one rank and dtype, equal outside `axis` (negative counts from the end). */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  const first = tensors[0];
  if (!first) throw new Error('concat: needs at least one tensor');
  const a = normaliseAxis(axis, first.rank, 'concat');
  tensors.forEach((t, k) => {
    const fits = t.rank === first.rank && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!fits) throw new Error(`concat: tensor ${k} ${t.describe()} does not match tensor 0 ${first.describe()} outside axis ${a}`);
    if (t.dtype !== first.dtype) throw new Error(`concat: tensor ${k} ${t.describe()} is ${t.dtype}, tensor 0 is ${first.dtype}`);
  });
  const offsets: number[] = [];
  let total = 0;
  for (const t of tensors) {
    offsets.push(total);
    total += t.shape[a]!;
  }
  const shape = first.shape.map((d, i) => (i === a ? total : d));
  const out = empty(first.engine, shape, first.dtype, 'concat');
  const inner = around(shape, a)[2];
  tensors.forEach((t, k) => {
    const params = { n: t.size, in_cols: t.shape[a]! * inner, out_cols: total * inner, shift: offsets[k]! * inner };
    launch1d(t.engine, sliceKernel, t.size, { bindings: [t.buffer, out.buffer], params, constants: { PLACE: 1 } });
  });
  return record(out, tensors, (dy) => tensors.map((t, k) => (t.requiresGrad ? sliceForward(dy, a, offsets[k]!, offsets[k]! + t.shape[a]!) : null)));
}

/** x restricted to start <= index < end along `axis` (0 <= start <= end <= size; negative axis counts from the end). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normaliseAxis(axis, x.rank, 'slice');
  const size = x.shape[a]!;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > size) {
    throw new Error(`slice: [${start}, ${end}) on axis ${a} of ${x.describe()}: expected 0 <= start <= end <= ${size}`);
  }
  const out = sliceForward(x, a, start, end);
  return record(out, [x], (dy) => [padForward(dy, x.shape, a, start)]);
}

/** x with its axes permuted: out.shape[k] = x.shape[perm[k]] (numpy transpose / torch permute). */
export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  checkPermutation(x, perm);
  const shape = perm.map((p) => x.shape[p]!);
  const out = empty(x.engine, shape, x.dtype, 'transpose');
  const strides = stridesOf(x.shape);
  const d = pad6(shape, 1);
  const s = pad6(perm.map((p) => strides[p]!), 0);
  const params: Record<string, number> = { n: out.size };
  for (let i = 0; i < 6; i++) {
    params[`d${i}`] = d[i]!;
    params[`s${i}`] = s[i]!;
  }
  launch1d(x.engine, permuteKernel, out.size, { bindings: [x.buffer, out.buffer], params });
  return record(out, [x], (dy) => [transpose(dy, inversePermutation(perm))]);
}

function checkPermutation(x: Tensor, perm: readonly number[]): void {
  const valid = perm.length === x.rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  if (!valid) throw new Error(`transpose: [${perm.join(', ')}] is not a permutation of the ${x.rank} axes of ${x.describe()}`);
  if (x.rank > 6) throw new Error(`transpose: ${x.describe()} has rank ${x.rank}, over the supported 6`);
}

export function inversePermutation(perm: readonly number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, k) => (inverse[p] = k));
  return inverse;
}

// ---- float64 references ----

/** Copies x's blocks along `axis` into out, shifted by `shift` on that axis (clipped to out's extent). */
function shiftedCopyReference(x: HostTensor, outShape: readonly number[], axis: number, shift: number): HostTensor {
  const out = host(outShape);
  const [rows, inSize, inner] = around(x.shape, axis);
  const outSize = outShape[axis]!;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < inSize; j++) {
      const target = j + shift;
      if (target < 0 || target >= outSize) continue;
      for (let c = 0; c < inner; c++) out.data[(r * outSize + target) * inner + c] = x.data[(r * inSize + j) * inner + c]!;
    }
  }
  return out;
}

export function concatReference(axis: number): Reference {
  const axisOf = (inputs: readonly HostTensor[]) => (axis < 0 ? axis + inputs[0]!.shape.length : axis);
  return {
    forward(inputs) {
      const a = axisOf(inputs);
      const shape = [...inputs[0]!.shape];
      shape[a] = inputs.reduce((n, t) => n + t.shape[a]!, 0);
      const out = host(shape);
      let offset = 0;
      for (const t of inputs) {
        const placed = shiftedCopyReference(t, shape, a, offset);
        placed.data.forEach((v, i) => (out.data[i] = out.data[i]! + v));
        offset += t.shape[a]!;
      }
      return out;
    },
    backward(inputs, dy) {
      const a = axisOf(inputs);
      let offset = 0;
      return inputs.map((t) => {
        const g = shiftedCopyReference(dy, t.shape, a, -offset);
        offset += t.shape[a]!;
        return g;
      });
    },
  };
}

export function sliceReference(axis: number, start: number, end: number): Reference {
  const axisOf = (x: HostTensor) => (axis < 0 ? axis + x.shape.length : axis);
  return {
    forward: ([x]) => shiftedCopyReference(x!, x!.shape.map((d, i) => (i === axisOf(x!) ? end - start : d)), axisOf(x!), -start),
    backward: ([x], dy) => [shiftedCopyReference(dy, x!.shape, axisOf(x!), start)],
  };
}

function transposeHost(x: HostTensor, perm: readonly number[]): HostTensor {
  const shape = perm.map((p) => x.shape[p]!);
  const out = host(shape);
  const inStrides = stridesOf(x.shape);
  const outStrides = stridesOf(shape);
  for (let i = 0; i < out.data.length; i++) {
    let src = 0;
    for (let k = 0; k < shape.length; k++) src += (Math.floor(i / outStrides[k]!) % shape[k]!) * inStrides[perm[k]!]!;
    out.data[i] = x.data[src]!;
  }
  return out;
}

export function transposeReference(perm: readonly number[]): Reference {
  return {
    forward: ([x]) => transposeHost(x!, perm),
    backward: (_, dy) => [transposeHost(dy, inversePermutation(perm))],
  };
}
