import { beforeAll, describe, it } from 'vitest';
import type { Engine } from '../engine';
import { randn } from '../host';
import { checkOp, testEngine } from '../testing';
import { afterEach } from 'vitest';
import { mean, setSumChunk, sum, sumTo, sumToReference } from './reduce';
import { broadcastToReference } from './elementwise';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

const CASES: [number[], number | number[] | undefined, boolean][] = [
  [[5, 7], 1, false],
  [[5, 7], 0, true],
  [[2, 3, 5], [0, 2], false],
  [[3, 4, 5, 2], [1, 3], true],
  [[131], undefined, false],
  [[2, 130, 3], 1, false], // longer than one 64-element accumulation block
  [[3, 1, 6], [0, 1], true], // two reduced axes, one of them of size 1: the one-axis path (sum_to.wgsl ONE_AXIS)
  [[4, 3, 5, 1], [0, 2], false], // two reduced axes longer than 1: the general path
];

describe.each([
  ['sum', sum, false],
  ['mean', mean, true],
] as const)('%s', (_, op, isMean) => {
  it.each(CASES)('over %j axes %j keepDims %s', async (shape, axes, keepDims) => {
    const count = axes === undefined ? shape.reduce((a, b) => a * b) : [axes].flat().reduce((n, a) => n * shape[a]!, 1);
    const { reduceReference } = await import('./reduce');
    await checkOp(engine, {
      inputs: [randn(shape, 11)],
      gpu: ([x]) => op(x!, axes, keepDims),
      reference: reduceReference(axes, keepDims, isMean),
      k: count,
    });
  });
});

describe('sumTo', () => {
  it.each([
    [[4, 6], [6]],
    [[2, 3, 4], [3, 1]],
    [[2, 3, 4], [1, 1, 1]],
  ])('sums %j down to %j', async (from, to) => {
    await checkOp(engine, {
      inputs: [randn(from, 5)],
      gpu: ([x]) => sumTo(x!, to),
      reference: { forward: ([x]) => sumToReference(x!, to), backward: ([x], dy) => [broadcastToReference(dy, x!.shape)] },
      k: from.reduce((a, b) => a * b) / to.reduce((a, b) => a * b),
    });
  });
});

// The GPU path (reduce.ts chunkLength): the reduced range cut into chunks, partials summed in further passes.
// Forced here so CPU adapters run it; chunk 7 over 1,000 rows needs three passes (1000 -> 143 -> 21 -> 3 -> 1).
describe('chunked reductions', () => {
  afterEach(() => setSumChunk(null));
  it.each([
    [[1000, 3], [3], 7],
    [[2, 130, 5], [1, 1, 5], 64],
    [[3, 67, 1], [3, 1, 1], 5],
    [[333], [1], 64],
  ])('sums %j down to %j in chunks of %i', async (from, to, chunk) => {
    setSumChunk(chunk);
    await checkOp(engine, {
      inputs: [randn(from, 9)],
      gpu: ([x]) => sumTo(x!, to),
      reference: { forward: ([x]) => sumToReference(x!, to), backward: ([x], dy) => [broadcastToReference(dy, x!.shape)] },
      k: from.reduce((a, b) => a * b) / to.reduce((a, b) => a * b),
    });
  });
  it('computes a mean the same way', async () => {
    setSumChunk(16);
    const { reduceReference } = await import('./reduce');
    await checkOp(engine, { inputs: [randn([40, 9], 3)], gpu: ([x]) => mean(x!, 0, false), reference: reduceReference(0, false, true), k: 40 });
  });
});
