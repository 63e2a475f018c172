// What a toy distillation run measures at intervals (issue: "on the 2D toy also energy distance to the teacher's
// 100-step samples, mode coverage, and fake-tracking error"), on a fixed seed set so the curves are comparable
// across iterations, arms and seeds:
// - per step count n of the student (1, 2, 4): the energy distance of its samples to the teacher's 100-step Euler
//   samples (guidance = the middle of the run's guidance range), label by label and averaged; the fraction of the
//   labels' modes covered (at least minimumPerMode samples each) and the off-mode fraction;
// - the fake-tracking error: the fake score's x0 at noised held-out generator samples against the exact optimal
//   denoiser of the generator's current distribution (its 4-step samples of label "any"), at s = 0.25, 0.5, 0.75;
// - ||phi_fake - theta_gen||.
import { modeCoverage, type GaussianMixture2D } from '../data/toy2d';
import { anchorSigmas } from '../flow/schedule';
import type { Toy2DTeacher } from '../nets/toy2d';
import { randn } from '../nn/ops/random';
import { parameterDistance } from '../nn/params';
import { fromArray, noGrad, tidy } from '../nn/tensor';
import { type DistillConfig, servedStepCounts } from './config';
import type { SenseFlowDistiller } from './senseflow';
import { type DistillTask, teacherEuler } from './task';
import { toyCondition, type ToyCondition } from './toyTask';
import { energyDistance, trackingErrors, trackingQueries } from './toyMetrics';

export const TOY_EVAL = {
  samplesPerLabel: 250,
  teacherSteps: 100,
  /** A mode counts as covered with at least this many of a label's samples (2% of 250). */
  minimumPerMode: 5,
  trackingSamples: 2000,
  trackingSigmas: [0.25, 0.5, 0.75],
  seed: 20261126,
} as const;

export interface ToyStepMetrics {
  energyDistance: number;
  /** Covered modes over all labels' modes (each label counted with its own modes). */
  modeCoverage: number;
  offMode: number;
}

export interface ToyEvaluation {
  iteration: number;
  steps: Record<string, ToyStepMetrics>;
  fakeTrackingError: number;
  parameterDistance: number;
}

/** The labels of the evaluation set: samplesPerLabel of each label in order. */
function evaluationLabels(mixture: GaussianMixture2D): Uint32Array {
  const n = TOY_EVAL.samplesPerLabel;
  return Uint32Array.from({ length: mixture.labels.length * n }, (_, i) => Math.floor(i / n));
}

/** The teacher's reference samples (100 Euler steps, guidance w), [labels * samplesPerLabel, 2]. */
export async function toyTeacherReference(task: DistillTask<Toy2DTeacher, ToyCondition>, mixture: GaussianMixture2D, guidance: number): Promise<Float32Array> {
  const engine = task.teacher.engine;
  const labels = evaluationLabels(mixture);
  const points = teacherEuler(task, () => toyCondition(task.teacher, labels), () => randn(engine, [labels.length, 2], TOY_EVAL.seed + 1), TOY_EVAL.teacherSteps, guidance);
  const data = await points.read();
  points.dispose();
  return data;
}

export const referenceGuidance = (config: DistillConfig): number => (config.guidance[0] + config.guidance[1]) / 2;

/** The student's samples for the evaluation labels at n steps (x0-renoise over anchorSigmas(n, shift)). */
export async function toyStudentSamples(distiller: SenseFlowDistiller<Toy2DTeacher, ToyCondition>, labels: Uint32Array, steps: number, seed: number): Promise<Float32Array> {
  const engine = distiller.engine;
  const points = tidy(engine, () => distiller.sample(toyCondition(distiller.task.teacher, labels), anchorSigmas(steps, distiller.config.shift), seed, labels.length));
  const data = await points.read();
  points.dispose();
  return data;
}

export async function evaluateToy(distiller: SenseFlowDistiller<Toy2DTeacher, ToyCondition>, mixture: GaussianMixture2D, reference: Float32Array): Promise<ToyEvaluation> {
  const engine = distiller.engine;
  const labels = evaluationLabels(mixture);
  const n = TOY_EVAL.samplesPerLabel;
  const steps: Record<string, ToyStepMetrics> = {};
  for (const count of servedStepCounts(distiller.config)) {
    const points = await toyStudentSamples(distiller, labels, count, TOY_EVAL.seed + 2);
    let energy = 0;
    let covered = 0;
    let modes = 0;
    let offMode = 0;
    mixture.labels.forEach((label, k) => {
      const mine = points.subarray(2 * k * n, 2 * (k + 1) * n);
      energy += energyDistance(mine, reference.subarray(2 * k * n, 2 * (k + 1) * n));
      const coverage = modeCoverage(mixture, k, mine, TOY_EVAL.minimumPerMode);
      covered += coverage.covered;
      modes += label.modes.length;
      offMode += coverage.offMode;
    });
    const labelsCount = mixture.labels.length;
    steps[String(count)] = { energyDistance: energy / labelsCount, modeCoverage: covered / modes, offMode: offMode / labelsCount };
  }

  // Fake-tracking error on label "any": the generator's distribution through 2,000 samples, queries from 2,000 others.
  const any = new Uint32Array(TOY_EVAL.trackingSamples);
  const samples = await toyStudentSamples(distiller, any, distiller.config.anchorSteps, TOY_EVAL.seed + 3);
  const heldOut = await toyStudentSamples(distiller, any, distiller.config.anchorSteps, TOY_EVAL.seed + 4);
  const queries = trackingQueries(heldOut, TOY_EVAL.trackingSigmas, TOY_EVAL.seed + 5);
  const predictions: Float32Array[] = [];
  for (const q of queries) {
    const size = q.points.length / 2;
    const x0 = noGrad(engine, () =>
      tidy(engine, () => {
        const x = fromArray(engine, [size, 2], q.points, 'f32', 'query');
        const sigma = fromArray(engine, [size], new Float32Array(size).fill(q.s), 'f32', 'sigma');
        return distiller.task.velocity(distiller.fakeScore, x, sigma, toyCondition(distiller.task.teacher, new Uint32Array(size)));
      }),
    );
    const v = await x0.read();
    x0.dispose();
    predictions.push(q.points.map((value, i) => value - q.s * v[i]!));
  }
  const tracking = trackingErrors(samples, queries, predictions);
  return { iteration: distiller.iteration, steps, fakeTrackingError: tracking.mean, parameterDistance: await parameterDistance(distiller.fakeScore, distiller.generator) };
}
