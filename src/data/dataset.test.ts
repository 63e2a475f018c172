import { describe, expect, it } from 'vitest';
import { mulberry32 as hostMulberry32 } from '../nn/host';
import { DEFAULT_CAPTION_SAMPLING, makeBatch, sampleCaptionedScene } from './dataset';
import { mulberry32, randomFrom } from './random';

describe('captioned scenes', () => {
  it('uses the same generator as nn/host.ts', () => {
    const a = mulberry32(123);
    const b = hostMulberry32(123);
    for (let i = 0; i < 100; i++) expect(a()).toBe(b());
  });

  it('states each attribute with the requested probability', () => {
    const options = { secondObjectProbability: 0.3, statedSizeProbability: 0.8, statedPositionProbability: 0.2, statedBackgroundProbability: 0.6 };
    const random = randomFrom(41);
    const n = 4000;
    let two = 0;
    let objects = 0;
    let sizes = 0;
    let positions = 0;
    let backgrounds = 0;
    for (let i = 0; i < n; i++) {
      const { statement } = sampleCaptionedScene(random, options);
      if (statement.objects.length === 2) two++;
      for (const object of statement.objects) {
        objects++;
        if (object.size) sizes++;
        if (object.position) positions++;
      }
      if (statement.background) backgrounds++;
    }
    const near = (count: number, total: number, p: number) => expect(Math.abs(count / total - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / total));
    near(two, n, 0.3);
    near(sizes, objects, 0.8);
    near(positions, objects, 0.2);
    near(backgrounds, n, 0.6);
  });

  it('defaults to even odds for every choice', () => {
    expect(DEFAULT_CAPTION_SAMPLING).toEqual({
      secondObjectProbability: 0.5,
      statedSizeProbability: 0.5,
      statedPositionProbability: 0.5,
      statedBackgroundProbability: 0.5,
      exclusions: [],
    });
  });

  it('makes batches from one seeded stream: a prefix of a longer batch is the shorter batch', () => {
    const short = makeBatch(77, 10);
    const long = makeBatch(77, 20);
    expect(long.captions.slice(0, 10)).toEqual(short.captions);
    expect(long.images.subarray(0, short.images.length)).toEqual(short.images);
    expect(makeBatch(77, 10, { exclusions: [{ color: 'red' }] }).scenes.every((s) => s.objects.every((o) => o.color !== 'red'))).toBe(true);
  });
});
