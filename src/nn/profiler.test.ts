import { beforeAll, expect, it } from 'vitest';
import type { Dispatch, Engine, Kernel } from './engine';
import { add, scale } from './ops/elementwise';
import { replayDispatches } from './profiler';
import { fromArray, tidy } from './tensor';
import { testEngine } from './testing';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

it('records what is encoded and replays it, timed and summed by kernel label', async () => {
  const recorded: [Kernel, Dispatch][] = [];
  engine.recorder = (kernel, call) => recorded.push([kernel, call]);
  const kept = tidy(engine, () => {
    const x = fromArray(engine, [5], [1, 2, 3, 4, 5]);
    return add(scale(x, 2), x);
  });
  engine.recorder = undefined;
  expect(recorded.map(([k]) => k.label)).toEqual(['affine', 'binary']);
  const before = Array.from(await kept.read());
  const times = await replayDispatches(engine, [...recorded, recorded[1]!], 2);
  expect(times.map((t) => [t.label, t.calls])).toEqual(expect.arrayContaining([['affine', 1], ['binary', 2]]));
  expect(times.every((t) => t.ms >= 0 && Number.isFinite(t.ms))).toBe(true);
  expect(Array.from(await kept.read())).toEqual(before); // the replays wrote the same values again
  kept.dispose();
});
