import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from '../data/random';
import { logitNormalSigmas, sigmoid, uniformSigmas } from './timesteps';

describe('logitNormalSigmas', () => {
  it('is sigmoid(mean + std z) of the seeded stream, draw for draw', () => {
    const random = mulberry32(7);
    const expected = [0, 1, 2].map(() => sigmoid(0.5 + 2 * gaussian(random)));
    expect(Array.from(logitNormalSigmas(3, 7, { mean: 0.5, std: 2 }))).toEqual(expected.map(Math.fround));
  });
  it('is sigmoid(mean) when std is 0, and the same draws for the same seed', () => {
    expect(Array.from(logitNormalSigmas(2, 1, { mean: 0, std: 0 }))).toEqual([0.5, 0.5]);
    expect(logitNormalSigmas(5, 3)).toEqual(logitNormalSigmas(5, 3));
    expect(logitNormalSigmas(5, 3)).not.toEqual(logitNormalSigmas(5, 4));
  });
  it('has median 0.5 and stays inside (0, 1) for (0, 1)', () => {
    const draws = Array.from(logitNormalSigmas(20000, 11)).sort((a, b) => a - b);
    expect(draws[10000]!).toBeGreaterThan(0.49);
    expect(draws[10000]!).toBeLessThan(0.51);
    expect(draws[0]!).toBeGreaterThan(0);
    expect(draws.at(-1)!).toBeLessThan(1);
    // P(s < sigmoid(-1)) = P(z < -1) = 0.1587
    const below = draws.filter((s) => s < sigmoid(-1)).length / draws.length;
    expect(Math.abs(below - 0.1587)).toBeLessThan(0.01);
  });
  it('refuses a bad count or std', () => {
    expect(() => logitNormalSigmas(-1, 0)).toThrow('count must be an integer >= 0, got -1');
    expect(() => logitNormalSigmas(1, 0, { std: -1 })).toThrow('std >= 0');
  });
});

describe('uniformSigmas', () => {
  it('draws low + (high - low) u', () => {
    const random = mulberry32(2);
    const u = random();
    expect(uniformSigmas(1, 2, 0.02, 0.98)[0]).toBe(Math.fround(0.02 + 0.96 * u));
    expect(() => uniformSigmas(1, 2, 0.5, 0.2)).toThrow('needs 0 <= low <= high <= 1, got [0.5, 0.2)');
  });
});
