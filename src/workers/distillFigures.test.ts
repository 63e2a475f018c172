// The Distill tab's figure of a 2D toy run, on Dawn with the bundled ring teacher: the sampler's paths (their shape,
// their start at the figure's noise, their end at the shown sample, which is SenseFlowDistiller.sample's), and the
// fake score's own samples (at iteration 0 the teacher's Euler samples from the same noise, since the fake score
// starts as a copy of the teacher; after training, not). What they cost: bench/distillFigure.measure.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distillConfig } from '../distill/config';
import { SenseFlowDistiller } from '../distill/senseflow';
import { toyCondition, type ToyCondition, toyTask } from '../distill/toyTask';
import { anchorSigmas, eulerSigmas } from '../flow/schedule';
import { sampleEuler } from '../flow/tensors';
import type { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { randn } from '../nn/ops/random';
import { fromArray, noGrad, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import { directorySource } from '../pipeline/bundleWrite';
import { TOY_BASE } from '../state/distillSettings';
import type { DistillFigure } from './distillApi';
import { FIGURE, figureLabels, studentFigure } from './distillFigures';
import { loadToyTeacherBundle, type ToyTeacher } from './distillTeacher';

let engine: Engine;
let toy: ToyTeacher;
let distiller: SenseFlowDistiller<Toy2DTeacher, ToyCondition>;
let labels: Uint32Array;
const stepCounts = [1, 2, 4];
const NONE = { trajectories: 0, fakeScoreSteps: 0 };

beforeAll(async () => {
  engine = await testEngine();
  toy = await loadToyTeacherBundle(engine, directorySource('models/toy2d/ring'));
  distiller = new SenseFlowDistiller(toyTask(toy.teacher, toy.mixture), distillConfig('senseflow', { batch: 32, fakeStepsPerGeneratorStep: 2 }, TOY_BASE), 3);
  labels = figureLabels(toy.mixture);
}, 60_000);

afterAll(() => {
  distiller?.dispose();
  toy?.teacher.dispose();
});

/** The teacher's own Euler samples (no guidance) from the figure's noise: where the fake score starts. */
async function teacherEuler(steps: number): Promise<Float32Array> {
  const n = labels.length;
  const task = distiller.task;
  const points = noGrad(engine, () =>
    tidy(engine, () => {
      const condition = toyCondition(task.teacher, labels);
      const sigma = (s: number) => fromArray(engine, [n], new Float32Array(n).fill(s), 'f32', 'sigma');
      return sampleEuler((x, s) => task.velocity(task.teacher, x, sigma(s), condition), randn(engine, [n, 2], FIGURE.seed), eulerSigmas(steps));
    }),
  );
  const data = await points.read();
  points.dispose();
  return data;
}

function checkFigure(figure: DistillFigure, plain: DistillFigure): void {
  const n = labels.length;
  expect(figure.students.map((s) => s.steps)).toEqual(stepCounts);
  const starts: Float32Array[] = [];
  for (const [k, student] of figure.students.entries()) {
    const trajectories = student.trajectories!;
    const states = 2 * student.steps;
    expect(trajectories.anchors).toEqual(anchorSigmas(student.steps, distiller.config.shift));
    expect(trajectories.index.length).toBe(FIGURE.trajectories);
    expect(new Set(trajectories.index).size).toBe(FIGURE.trajectories);
    expect(Math.max(...trajectories.index)).toBeLessThan(n);
    // Every label has paths drawn (the points are in label order, the index spreads over them).
    expect(new Set(Array.from(trajectories.index, (i) => labels[i])).size).toBe(toy.mixture.labels.length);
    expect(trajectories.points.length).toBe(FIGURE.trajectories * states * 2);
    // The shown samples are the sampler's (SenseFlowDistiller.sample), and each path ends on its sample.
    allclose(student.points, plain.students[k]!.points, { atol: 1e-6, rtol: 1e-6 }, `${student.steps}-step points vs sample()`);
    const point = (t: number, p: number) => [trajectories.points[2 * (t * states + p)]!, trajectories.points[2 * (t * states + p) + 1]!];
    const paths = Array.from(trajectories.index, (_, t) => t);
    const ends = paths.flatMap((t) => point(t, states - 1));
    const shown = Array.from(trajectories.index).flatMap((i) => [student.points[2 * i]!, student.points[2 * i + 1]!]);
    expect(ends).toEqual(shown);
    starts.push(Float32Array.from(paths.flatMap((t) => point(t, 0))));
    // The arrows are the same as without the paths.
    expect(Array.from(student.arrows)).toEqual(Array.from(plain.students[k]!.arrows));
  }
  // Every step count starts from the same noise.
  for (const start of starts) expect(Array.from(start)).toEqual(Array.from(starts[0]!));
}

describe('studentFigure', () => {
  it('at iteration 0: paths end on the shown samples; the fake score samples like the teacher', { timeout: 120_000 }, async () => {
    const plain = await studentFigure(distiller, labels, stepCounts, NONE);
    expect(plain.fakeScore).toBeUndefined();
    expect(plain.students.every((s) => s.trajectories === undefined)).toBe(true);
    const figure = await studentFigure(distiller, labels, stepCounts);
    checkFigure(figure, plain);

    // The paths start at the noise the fake score's Euler sampler starts from.
    const noise = randn(engine, [labels.length, 2], FIGURE.seed);
    const eps = await noise.read();
    noise.dispose();
    const four = figure.students[2]!.trajectories!;
    const i = four.index[7]!;
    expect([four.points[2 * 7 * 8]!, four.points[2 * 7 * 8 + 1]!]).toEqual([eps[2 * i]!, eps[2 * i + 1]!]);

    // The fake score is the teacher: its samples are the teacher's Euler samples from the same noise.
    expect(figure.fakeScore!.steps).toBe(FIGURE.fakeScoreSteps);
    expect(figure.fakeScore!.points.length).toBe(2 * labels.length);
    allclose(figure.fakeScore!.points, await teacherEuler(FIGURE.fakeScoreSteps), { atol: 1e-6, rtol: 1e-6 }, 'fake score vs teacher Euler');
  });

  it('after training: paths still end on the samples; the fake score has moved off the teacher', { timeout: 240_000 }, async () => {
    for (let t = 0; t < 6; t++) await distiller.step();
    const plain = await studentFigure(distiller, labels, stepCounts, NONE);
    const figure = await studentFigure(distiller, labels, stepCounts);
    expect(figure.iteration).toBe(6);
    checkFigure(figure, plain);
    const teacher = await teacherEuler(FIGURE.fakeScoreSteps);
    const moved = Math.max(...figure.fakeScore!.points.map((v, i) => Math.abs(v - teacher[i]!)));
    expect(moved).toBeGreaterThan(1e-4);

  });
});
