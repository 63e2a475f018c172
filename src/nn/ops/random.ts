// Counter-based random numbers on the GPU: Philox4x32-10, the same numbers in Node and the browser for a
// (seed, offset), and reproduced exactly by the JS reference below.
//   randomBits(engine, shape, seed, offset) -> u32 words   rand -> uniform [0, 1)   randn -> N(0, 1)
// The stream: key = (seed mod 2^32, floor(seed / 2^32)) for an integer seed in [0, 2^53); word e of the
// stream (e = offset + the element's row-major index) is lane e % 4 of philox(counter = (b mod 2^32,
// floor(b / 2^32), 0, 0), key) with b = floor(e / 4). Uniforms take the top 24 bits of word e; normals
// come from Box-Muller on the word pair (2k, 2k + 1) of a block: elements 2k and 2k + 1 are the cos
// and sin outputs of one pair (random_philox.wgsl has the formulas).
// So the values at a stream position do not depend on the shape or on where a call starts: to continue
// a stream, pass offset += the previous call's size. rand and randn read the same words: do not use
// both with one seed and overlapping offsets. No gradients (nothing is recorded).
import philoxSource from '../../kernels/random_philox.wgsl?raw';
import preciseMathSource from '../../kernels/precise_math.wgsl?raw';
import type { Engine } from '../engine';
import { empty, sizeOf, type Tensor } from '../tensor';
import { launch1d } from './common';

const philoxKernel = {
  label: 'random_philox',
  code: `${preciseMathSource}\n${philoxSource}`,
  params: { n: 'u32', blocks: 'u32', first_block_lo: 'u32', first_block_hi: 'u32', first_lane: 'u32', key0: 'u32', key1: 'u32' },
} as const;

const TWO_32 = 2 ** 32;
type Output = 'bits' | 'uniform' | 'normal';
const OUTPUT_CODES: Record<Output, number> = { bits: 0, uniform: 1, normal: 2 };

function checkStream(name: string, seed: number, offset: number, count: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${name}: seed must be an integer in [0, 2^53), got ${seed}`);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(offset + count)) {
    throw new Error(`${name}: offset must be an integer >= 0 with offset + size < 2^53, got ${offset}`);
  }
}

function generate(name: string, output: Output, engine: Engine, shape: readonly number[], seed: number, offset: number): Tensor {
  const n = sizeOf(shape);
  checkStream(name, seed, offset, n);
  const out = empty(engine, shape, output === 'bits' ? 'u32' : 'f32', name);
  const firstBlock = Math.floor(offset / 4);
  const firstLane = offset % 4;
  const blocks = Math.ceil((firstLane + n) / 4);
  const params = {
    n,
    blocks,
    first_block_lo: firstBlock % TWO_32,
    first_block_hi: Math.floor(firstBlock / TWO_32),
    first_lane: firstLane,
    key0: seed % TWO_32,
    key1: Math.floor(seed / TWO_32),
  };
  if (n > 0) launch1d(engine, philoxKernel, blocks, { bindings: [out.buffer], params, constants: { OUTPUT: OUTPUT_CODES[output] } });
  return out;
}

/** Standard normal samples: stream positions offset .. offset + size - 1 of `seed`'s stream. */
export const randn = (engine: Engine, shape: readonly number[], seed: number, offset = 0): Tensor => generate('randn', 'normal', engine, shape, seed, offset);
/** Uniform samples in [0, 1), multiples of 2^-24. */
export const rand = (engine: Engine, shape: readonly number[], seed: number, offset = 0): Tensor => generate('rand', 'uniform', engine, shape, seed, offset);
/** The raw u32 words of the stream (what rand and randn are made from). */
export const randomBits = (engine: Engine, shape: readonly number[], seed: number, offset = 0): Tensor =>
  generate('randomBits', 'bits', engine, shape, seed, offset);

// ---- the JS reference: the same words, bit for bit ----

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** [high, low] 32-bit halves of the 64-bit product a * b (16-bit halves, as the kernel). */
function mulHiLo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loHi = aLo * bHi;
  const hiLo = aHi * bLo;
  const middle = ((aLo * bLo) >>> 16) + (loHi & 0xffff) + (hiLo & 0xffff);
  return [(aHi * bHi + (loHi >>> 16) + (hiLo >>> 16) + (middle >>> 16)) >>> 0, Math.imul(a, b) >>> 0];
}

/** One Philox4x32-10 block (Random123's philox4x32(ctr, key)). */
export function philox4x32(counter: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const [hi0, lo0] = mulHiLo(M0, c0);
    const [hi1, lo1] = mulHiLo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

/** Words offset .. offset + count - 1 of seed's stream, equal to randomBits' output. */
export function philoxReference(seed: number, count: number, offset = 0): Uint32Array {
  checkStream('philoxReference', seed, offset, count);
  const key = [seed % TWO_32, Math.floor(seed / TWO_32)] as const;
  const out = new Uint32Array(count);
  let block = -1;
  let words: number[] = [];
  for (let i = 0; i < count; i++) {
    const e = offset + i;
    if (Math.floor(e / 4) !== block) {
      block = Math.floor(e / 4);
      words = philox4x32([block % TWO_32, Math.floor(block / TWO_32), 0, 0], key);
    }
    out[i] = words[e % 4]!;
  }
  return out;
}

/** rand's values (exact: multiples of 2^-24). */
export function randReference(seed: number, count: number, offset = 0): Float64Array {
  return Float64Array.from(philoxReference(seed, count, offset), (w) => (w >>> 8) * 2 ** -24);
}

/** randn's values in float64 (the GPU's f32 transcendentals agree to ~1e-6). */
export function randnReference(seed: number, count: number, offset = 0): Float64Array {
  const start = offset - (offset % 2); // Box-Muller needs both words of the element's pair
  const words = philoxReference(seed, count + (offset % 2) + 1, start);
  return Float64Array.from({ length: count }, (_, i) => {
    const e = offset + i;
    const pair = e - start - (e % 2);
    const u1 = ((words[pair]! >>> 8) + 1) * 2 ** -24;
    const u2 = (words[pair + 1]! >>> 8) * 2 ** -24;
    const r = Math.sqrt(-2 * Math.log(u1));
    return e % 2 === 0 ? r * Math.cos(2 * Math.PI * u2) : r * Math.sin(2 * Math.PI * u2);
  });
}
