import { describe, expect, it } from 'vitest';
import { anchorSigmas, eulerSigmas, nextAnchor, shift } from './schedule';

describe('shift', () => {
  it('is k s / (1 + (k - 1) s): fixes 0 and 1, k = 1 is the identity', () => {
    expect(shift(0.5, 3)).toBe(0.75);
    expect(shift(0.25, 3)).toBe(0.5);
    expect(shift(0.75, 3)).toBe(0.9);
    expect(shift(0.2, 2)).toBeCloseTo(0.4 / 1.2, 15);
    expect(shift(0, 3)).toBe(0);
    expect(shift(1, 3)).toBe(1);
    expect(shift(0.3, 1)).toBe(0.3);
  });
  it('refuses a noise level outside [0, 1] and a non-positive k', () => {
    expect(() => shift(1.5)).toThrow('shift: noise level s = 1.5 is outside [0, 1]');
    expect(() => shift(0.5, 0)).toThrow('shift: k must be a positive number, got 0');
  });
});

describe('anchorSigmas', () => {
  it("are SenseFlow's anchors with shift 3: [1], [1, .75], [1, .9, .75, .5]", () => {
    expect(anchorSigmas(1)).toEqual([1]);
    expect(anchorSigmas(2)).toEqual([1, 0.75]);
    expect(anchorSigmas(4)).toEqual([1, 0.9, 0.75, 0.5]);
    expect(anchorSigmas(4, 1)).toEqual([1, 0.75, 0.5, 0.25]);
  });
  it('name the next anchor, 0 after the last', () => {
    const anchors = anchorSigmas(4);
    expect(nextAnchor(anchors, 0)).toBe(0.9);
    expect(nextAnchor(anchors, 3)).toBe(0);
    expect(() => nextAnchor(anchors, 4)).toThrow('nextAnchor: index 4 is not one of the 4 anchors');
  });
  it('refuses a step count that is not a positive integer', () => {
    expect(() => anchorSigmas(0)).toThrow('anchorSigmas: steps must be an integer >= 1, got 0');
    expect(() => anchorSigmas(2.5)).toThrow('got 2.5');
  });
});

describe('eulerSigmas', () => {
  it('go from 1 to 0 in steps + 1 levels, uniform without a shift', () => {
    expect(eulerSigmas(4)).toEqual([1, 0.75, 0.5, 0.25, 0]);
    expect(eulerSigmas(50)).toHaveLength(51);
    expect(eulerSigmas(2, 3)).toEqual([1, 0.75, 0]);
  });
});
