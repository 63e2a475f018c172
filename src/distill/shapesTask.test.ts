// imagesInChunks: what the Shapes evaluations (CLI and Distill tab) score is the picture a user gets, and each chunk
// of captions is drawn from its own noise seed.
import { beforeAll, describe, expect, it } from 'vitest';
import { asDisplayed } from '../data/render';
import type { Engine } from '../nn/engine';
import { testEngine } from '../nn/testing';
import { fromArray } from '../nn/tensor';
import { imagesInChunks } from './shapesTask';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('imagesInChunks', () => {
  it('returns the clamped 8-bit pictures of the raw samples, chunk k*chunk from seed + k*chunk', async () => {
    const captions = ['a', 'b', 'c', 'd', 'e'];
    const shape = [1, 2, 2];
    const seeds: number[] = [];
    // Raw samples that leave [-1, 1] as a few-step sampler's x0 does: value = 0.7 * (seed offset + caption index) - 1.4.
    const raw = (start: number, count: number) => Float32Array.from({ length: count * 4 }, (_, i) => 0.7 * (start + Math.floor(i / 4)) - 1.4 + 0.001 * (i % 4));
    const images = await imagesInChunks(captions, shape, 2, 100, (chunk, seed) => {
      seeds.push(seed);
      return fromArray(engine, [chunk.length, ...shape], raw(seed - 100, chunk.length));
    });
    expect(seeds).toEqual([100, 102, 104]);
    expect(images).toEqual(asDisplayed(raw(0, 5)));
    expect(images[0]).toBe(-1); // -1.4 clamped
    expect(images[19]).toBe(1); // 1.403 clamped
  });
});
