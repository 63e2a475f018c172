import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine';
import { allclose, testEngine } from '../testing';
import { tidy } from '../tensor';
import { philox4x32, philoxReference, rand, randn, randnReference, randomBits, randReference } from './random';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

// Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter, key, expected output.
const KNOWN_ANSWERS: [[number, number, number, number], [number, number], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

const hex = (words: ArrayLike<number>) => Array.from(words, (w) => w.toString(16).padStart(8, '0'));

async function bits(shape: number[], seed: number, offset: number): Promise<Uint32Array> {
  return tidy(engine, () => randomBits(engine, shape, seed, offset)).readU32();
}

describe('Philox4x32-10', () => {
  it('the JS reference reproduces the Random123 known answers', () => {
    for (const [counter, key, expected] of KNOWN_ANSWERS) expect(hex(philox4x32(counter, key))).toEqual(hex(expected));
  });

  it('the GPU reproduces the known answer for counter 0, key 0 (seed 0, offset 0)', async () => {
    expect(hex(await bits([4], 0, 0))).toEqual(hex(KNOWN_ANSWERS[0]![2]));
  });

  it.each([
    ['seed 1, 1003 words from 0', 1, 1003, 0],
    ['an offset inside a block', 42, 77, 3],
    ['a block index carrying into its high word', 7, 13, 4 * (2 ** 32 - 2) + 1],
    ['a seed over 2^32 (both key words)', 2 ** 40 + 12345, 65, 10],
  ] as const)('GPU words equal the reference bit for bit: %s', async (_, seed, count, offset) => {
    expect(hex(await bits([count], seed, offset))).toEqual(hex(philoxReference(seed, count, offset)));
  });
});

describe('rand and randn', () => {
  it('rand is the top 24 bits of each word, exactly', async () => {
    const values = await tidy(engine, () => rand(engine, [3, 67], 5, 9)).read();
    expect([...values]).toEqual([...randReference(5, 201, 9)]);
  });

  it.each([
    [[5, 13], 3, 0],
    [[131], 3, 1], // starts on the second (sin) element of a pair
    [[2, 2, 2], 2 ** 33 + 1, 2 ** 34 + 7],
  ] as [number[], number, number][])('randn %j (seed %d, offset %d) matches the float64 Box-Muller within 1e-5', async (shape, seed, offset) => {
    const values = await tidy(engine, () => randn(engine, shape, seed, offset)).read();
    allclose(values, randnReference(seed, values.length, offset), { atol: 1e-5, rtol: 0 }, 'randn vs reference');
  });

  it('offsets continue the stream: two calls give the same numbers as one', async () => {
    const [whole, head, tail] = await Promise.all(
      tidy(engine, () => [randn(engine, [10, 7], 11, 5), randn(engine, [33], 11, 5), randn(engine, [37], 11, 38)]).map((t) => t.readU32()),
    );
    expect([...whole!]).toEqual([...head!, ...tail!]);
  });

  it('100k normals have mean ~0, std ~1 and normal tails; uniforms cover [0, 1)', async () => {
    const n = 100_000;
    const [z, u] = tidy(engine, () => [randn(engine, [n], 2024), rand(engine, [n], 2025)]);
    const normals = await z!.read();
    const uniforms = await u!.read();
    let sum = 0;
    let squares = 0;
    let within1 = 0;
    for (const v of normals) {
      sum += v;
      squares += v * v;
      if (Math.abs(v) < 1) within1++;
    }
    const mean = sum / n;
    const std = Math.sqrt(squares / n - mean * mean);
    // 5 sigma bounds: the mean's sd is 1/sqrt(n) = 0.0032, the std's ~1/sqrt(2n) = 0.0022.
    expect(Math.abs(mean)).toBeLessThan(0.016);
    expect(Math.abs(std - 1)).toBeLessThan(0.012);
    expect(Math.abs(within1 / n - 0.682689)).toBeLessThan(0.008); // P(|z| < 1); its sd is 0.0015
    const uniformMean = uniforms.reduce((a, b) => a + b, 0) / n;
    expect(Math.abs(uniformMean - 0.5)).toBeLessThan(0.005); // sd 0.0009
    expect(Math.min(...uniforms)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...uniforms)).toBeLessThan(1);
    // Every one of them within 1e-5 of the float64 reference (the extremes of Box-Muller included).
    allclose(normals, randnReference(2024, n), { atol: 1e-5, rtol: 0 }, '100k randn vs reference');
    z!.dispose();
    u!.dispose();
  });

  it('different seeds give unrelated streams', async () => {
    const [a, b] = await Promise.all(tidy(engine, () => [randn(engine, [4096], 1), randn(engine, [4096], 2)]).map((t) => t.read()));
    let dot = 0;
    a!.forEach((v, i) => (dot += v * b![i]!));
    expect(a).not.toEqual(b);
    expect(Math.abs(dot / 4096)).toBeLessThan(0.08); // correlation ~ N(0, 1/64)
  });

  it('records nothing and needs no gradient', () => {
    tidy(engine, () => {
      expect(randn(engine, [3], 1).requiresGrad).toBe(false);
      expect(randomBits(engine, [3], 1).dtype).toBe('u32');
    });
  });

  it('refuses seeds and offsets that are not non-negative safe integers, naming the function', () => {
    tidy(engine, () => {
      expect(() => randn(engine, [3], -1)).toThrow('randn: seed must be an integer in [0, 2^53), got -1');
      expect(() => rand(engine, [3], 1.5)).toThrow('rand: seed must be an integer in [0, 2^53), got 1.5');
      expect(() => randn(engine, [3], 1, -4)).toThrow('randn: offset must be an integer >= 0 with offset + size < 2^53, got -4');
      expect(() => randomBits(engine, [3], 1, 2 ** 53 - 2)).toThrow('randomBits: offset must be an integer >= 0');
    });
  });
});
