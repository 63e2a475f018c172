// What one figure of the Distill tab's 2D toy run costs in the worker, on the test adapter, and what the sampler's
// paths and the fake score's samples add to it (src/workers/distillFigures.ts). The worker draws a figure, then
// evaluates (toyEval.ts), every `figureEvery` iterations; both are set against the iterations they interrupt.
//   npx vitest run -c bench/vitest.config.ts bench/distillFigure.measure.test.ts
//   SENSEFLOW_ADAPTER=llvmpipe npx vitest run -c bench/vitest.config.ts bench/distillFigure.measure.test.ts
// Each part is timed on its own, the parts interleaved, `ROUNDS` rounds: min and median (the dev machines' 2 cores
// are shared, so the minimum is the least disturbed).
import { it } from 'vitest';
import { distillConfig } from '../src/distill/config';
import { SenseFlowDistiller } from '../src/distill/senseflow';
import { evaluateToy, referenceGuidance, toyTeacherReference } from '../src/distill/toyEval';
import { toyTask } from '../src/distill/toyTask';
import { testEngine } from '../src/nn/testing';
import { directorySource } from '../src/pipeline/bundleWrite';
import { TOY_BASE } from '../src/state/distillSettings';
import { fakeScoreSamples, FIGURE, figureLabels, studentFigure } from '../src/workers/distillFigures';
import { loadToyTeacherBundle } from '../src/workers/distillTeacher';

const ROUNDS = 7;

it('ms per figure of a ring run, with and without the paths and the fake score samples', async () => {
  const engine = await testEngine();
  const toy = await loadToyTeacherBundle(engine, directorySource('models/toy2d/ring'));
  const distiller = new SenseFlowDistiller(toyTask(toy.teacher, toy.mixture), distillConfig('senseflow', {}, TOY_BASE), 1);
  const labels = figureLabels(toy.mixture);
  const stepCounts = [1, 2, 4];
  const none = { trajectories: 0, fakeScoreSteps: 0 };
  for (let t = 0; t < 3; t++) await distiller.step();
  const reference = await toyTeacherReference(distiller.task, toy.mixture, referenceGuidance(distiller.config));

  const parts: Record<string, () => Promise<unknown>> = {
    'figure, samples and arrows only (before)': () => studentFigure(distiller, labels, stepCounts, none),
    'figure, + paths': () => studentFigure(distiller, labels, stepCounts, { ...none, trajectories: FIGURE.trajectories }),
    'figure, + paths + fake score samples (now)': () => studentFigure(distiller, labels, stepCounts),
    [`fake score samples alone (${FIGURE.fakeScoreSteps} Euler steps)`]: () => fakeScoreSamples(distiller, labels, FIGURE.fakeScoreSteps),
    'fake score samples alone (10 Euler steps)': () => fakeScoreSamples(distiller, labels, 10),
    'evaluation (toyEval.ts, after each figure)': () => evaluateToy(distiller, toy.mixture, reference),
    'one training iteration (batch 256)': () => distiller.step(),
  };
  const times = new Map<string, number[]>(Object.keys(parts).map((name) => [name, []]));
  for (const run of Object.values(parts)) await run(); // warm-up: pipeline compilation
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(parts)) {
      const started = performance.now();
      await run();
      times.get(name)!.push(performance.now() - started);
    }
  }
  const lines = [...times].map(([name, ms]) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return `  ${name}: ${sorted[0]!.toFixed(0)} ms (median ${sorted[ROUNDS >> 1]!.toFixed(0)})`;
  });
  console.log(`distill figure, ring (${labels.length} points, ${FIGURE.trajectories} paths, steps ${stepCounts.join('/')}) on ${engine.adapter.description || engine.adapter.architecture}, min of ${ROUNDS}:\n${lines.join('\n')}`);
  distiller.dispose();
  toy.teacher.dispose();
});
