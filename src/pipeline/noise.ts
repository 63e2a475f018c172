// Seeded Gaussian noise for generation, drawn on the host so that a seed names the same image everywhere: in
// Node (CLI, tests), in the browser's Worker, on the wasm and on the WebGPU execution provider.
//
// One stream per image: image b of a batch started at seed S uses the stream of seed S + b (mod 2^32), so a batch
// of N images is exactly the N single runs seed S .. S + N - 1. A stream is mulberry32 (data/random.ts) with
// Box-Muller, one uniform pair per value (the cosine branch), the same draws as nn/host.ts randn(shape, seed); its
// first C*H*W values are the starting noise, then the x0-renoise sampler takes each step's fresh noise from it.
// Math.log/cos/sqrt are fdlibm ports in V8 (Node and Chromium alike), and the values are rounded to float32.
import { mulberry32, type Random } from '../data/random';

/** The seed of image `index` of a batch that starts at `seed`. */
export function imageSeed(seed: number, index: number): number {
  return (seed + index) >>> 0;
}

/** Whether a number can be a seed: an integer in [0, 2^32). */
export function isSeed(seed: number): boolean {
  return Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff;
}

export class NoiseStream {
  private readonly random: Random;

  constructor(readonly seed: number) {
    if (!isSeed(seed)) throw new Error(`a seed is an integer in [0, 2^32), got ${seed}`);
    this.random = mulberry32(seed);
  }

  /** The next `count` standard normal values, written into `into` at `offset` (or into a new array). */
  next(count: number, into: Float32Array = new Float32Array(count), offset = 0): Float32Array {
    for (let i = 0; i < count; i++) {
      const u = Math.max(this.random(), 1e-12);
      const v = this.random();
      into[offset + i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
    return into;
  }
}

/** `count` standard normal values from a fresh stream of `seed`. */
export function gaussianNoise(seed: number, count: number): Float32Array {
  return new NoiseStream(seed).next(count);
}
