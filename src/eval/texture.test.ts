import { describe, expect, it } from 'vitest';
import { highFrequency } from './texture';

describe('highFrequency', () => {
  it('is 0 for flat images, whatever the level', () => {
    expect(highFrequency(new Float32Array(2 * 3 * 4 * 5).fill(0.3), 3, 4, 5)).toBe(0);
  });

  it('one bright pixel in a dark 3x3: the centre differs from its box mean by 8/9 of 255, each of the 8 others by 1/9', () => {
    const image = new Float32Array(9).fill(-1);
    image[4] = 1;
    expect(highFrequency(image, 1, 3, 3)).toBeCloseTo((255 * 8) / 9 / 9 + (8 * 255) / 9 / 9, 4);
  });

  it('repeats the edge pixel: a bright corner counts twice in its own box and in its neighbours', () => {
    const image = new Float32Array(9).fill(-1);
    image[0] = 1; // (0, 0): its box covers rows {0, 0, 1} x columns {0, 0, 1}, so it appears 4 times
    const corner = 255 - (4 * 255) / 9;
    const right = (2 * 255) / 9; // (0, 1): rows {0, 0, 1} x columns {0, 1, 2}, the corner twice
    const below = (2 * 255) / 9;
    const diagonal = 255 / 9; // (1, 1)
    expect(highFrequency(image, 1, 3, 3)).toBeCloseTo((corner + right + below + diagonal) / 9, 4);
  });

  it('averages over images and channels, and scores an alternating checkerboard far above its blur', () => {
    const size = 8;
    const checker = Float32Array.from({ length: size * size }, (_, i) => (((i % size) + Math.floor(i / size)) % 2 ? 1 : -1));
    const flat = new Float32Array(size * size);
    const both = new Float32Array([...checker, ...flat]);
    expect(highFrequency(both, 1, size, size)).toBeCloseTo(highFrequency(checker, 1, size, size) / 2, 4);
    expect(highFrequency(both, 2, size, size)).toBeCloseTo(highFrequency(both, 1, size, size), 6);
    // Interior pixels of a checkerboard differ from their box mean by 255 - 5 * 255 / 9 = 113.3.
    expect(highFrequency(checker, 1, size, size)).toBeGreaterThan(100);
  });

  it('refuses values that are not whole images', () => {
    expect(() => highFrequency(new Float32Array(10), 3, 2, 2)).toThrow('highFrequency: 10 values are not whole images of 3x2x2');
  });
});
