// Seeded randomness for the data layer. The same mulberry32 as nn/host.ts (random.test.ts checks they agree);
// it is repeated here because data/ is the bottom layer and imports nothing from above it.

/** Uniform in [0, 1). */
export type Random = () => number;

export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed becomes a fresh generator; a generator is used as it is (so callers can draw many things from one stream). */
export function randomFrom(seedOrRandom: number | Random): Random {
  return typeof seedOrRandom === 'number' ? mulberry32(seedOrRandom) : seedOrRandom;
}

export function pick<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick: nothing to choose from');
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))]!;
}

/** A standard normal draw (Box-Muller; one uniform pair per draw keeps streams easy to reason about). */
export function gaussian(random: Random): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A 32-bit seed for one random stream of one step (murmur3's finalizer over seed, step and stream), so every draw
 * of step t is a function of (seed, t): a resumed run draws exactly what the uninterrupted run would have.
 */
export function streamSeed(seed: number, step: number, stream: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35) ^ Math.imul(stream + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
