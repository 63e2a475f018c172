// Float64 host tensors: the CPU references every GPU op is checked against, and the data of tests.
// Also the shape helpers (broadcasting, strides) shared by ops and their references.

export interface HostTensor {
  shape: number[];
  data: Float64Array;
}

export function host(shape: readonly number[], data?: ArrayLike<number>): HostTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data && data.length !== size) throw new Error(`${data.length} values for shape [${shape.join(', ')}]`);
  return { shape: [...shape], data: data ? Float64Array.from(data) : new Float64Array(size) };
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** numpy broadcasting of two shapes; throws naming both shapes when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides for reading a tensor of `shape` as if it had `outShape` (0 on broadcast dims), left-padded to `rank`. */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[], rank = outShape.length): number[] {
  const strides = stridesOf(shape);
  const result = new Array<number>(rank).fill(0);
  for (let i = 0; i < outShape.length; i++) {
    const k = shape.length - outShape.length + i;
    const stride = k >= 0 && shape[k] !== 1 ? strides[k]! : 0;
    result[rank - outShape.length + i] = stride;
  }
  return result;
}

/** A seeded PRNG for test data (mulberry32): same seed, same numbers, everywhere. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(shape: readonly number[], seed: number, scale = 1): HostTensor {
  const rand = mulberry32(seed);
  const t = host(shape);
  for (let i = 0; i < t.data.length; i++) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    t.data[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return t;
}

export function uniform(shape: readonly number[], seed: number, low = -1, high = 1): HostTensor {
  const rand = mulberry32(seed);
  const t = host(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = low + (high - low) * rand();
  return t;
}

/** Rounds a host tensor's values to float32, so GPU inputs and CPU references see the same numbers. */
export function toF32(t: HostTensor): HostTensor {
  return { shape: [...t.shape], data: Float64Array.from(Float32Array.from(t.data)) };
}
