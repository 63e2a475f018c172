// What the Distill tab draws of a 2D toy run, computed on the GPU in the worker at intervals:
// - the student's samples at each served step count (1, 2, 4) for one fixed set of labels and noise seeds, so the
//   points move smoothly from one update to the next and the step counts start from the same noise;
// - on each sample the DMD update arrow, as GAN Lab draws the generator's gradient on each sample. DMD moves the
//   generator's x0 by -dL/dx ∝ x0_real(x_s) - x0_fake(x_s) at x_s = (1 - s) x + s eps (shared/DESIGN.md); the arrow is
//   that difference averaged over a few mid noise levels s with fixed eps, before DMD's per-sample normaliser, in the
//   data's own units: "the teacher's denoiser puts this point's clean version here, the fake score's there".
import type { GaussianMixture2D } from '../data/toy2d';
import { referenceGuidance } from '../distill/toyEval';
import { toyCondition, type ToyCondition } from '../distill/toyTask';
import type { SenseFlowDistiller } from '../distill/senseflow';
import { anchorSigmas } from '../flow/schedule';
import { noiseTo, x0FromVelocity } from '../flow/tensors';
import type { Toy2DTeacher } from '../nets/toy2d';
import { add, scale, sub } from '../nn/ops/elementwise';
import { randn } from '../nn/ops/random';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import type { DistillFigure, PointSet } from './distillApi';

export const FIGURE = {
  /** Student points per label: about 600-700 points in all on either mixture. */
  samplesPerLabel: { ring: 128, grid: 64 } as Record<GaussianMixture2D['name'], number>,
  seed: 20261127,
  /** The noise levels the DMD arrow is averaged over. */
  arrowSigmas: [0.3, 0.5, 0.7],
} as const;

type ToyDistiller = SenseFlowDistiller<Toy2DTeacher, ToyCondition>;

/** perLabel points of each label, in label order. */
export function figureLabels(mixture: GaussianMixture2D, perLabel = FIGURE.samplesPerLabel[mixture.name]): Uint32Array {
  return Uint32Array.from({ length: mixture.labels.length * perLabel }, (_, i) => Math.floor(i / perLabel));
}

/** The labels of the teacher's reference samples (toyEval.ts: samplesPerLabel of each label in order). */
export function referenceLabels(mixture: GaussianMixture2D, reference: Float32Array): PointSet {
  const perLabel = reference.length / 2 / mixture.labels.length;
  return { points: reference, labels: figureLabels(mixture, perLabel) };
}

/** mean over s of x0_real(x_s) - x0_fake(x_s), x_s = (1 - s) x + s eps; [n, 2] on the host. */
async function dmdArrows(distiller: ToyDistiller, points: Float32Array, labels: Uint32Array): Promise<Float32Array> {
  const { engine, task, fakeScore } = distiller;
  const n = labels.length;
  const guidance = referenceGuidance(distiller.config);
  const arrows = noGrad(engine, () =>
    tidy(engine, () => {
      const x = fromArray(engine, [n, 2], points, 'f32', 'figure.x');
      const condition = toyCondition(task.teacher, labels);
      let sum: Tensor | null = null;
      for (const [k, s] of FIGURE.arrowSigmas.entries()) {
        const sigma = fromArray(engine, [n], new Float32Array(n).fill(s), 'f32', 'figure.sigma');
        const xs = noiseTo(x, randn(engine, [n, 2], FIGURE.seed + 1, 2 * n * k), s);
        const real = x0FromVelocity(xs, task.guidedVelocity(xs, sigma, condition, guidance), s);
        const fake = x0FromVelocity(xs, task.velocity(fakeScore, xs, sigma, condition), s);
        const difference = sub(real, fake);
        sum = sum ? add(sum, difference) : difference;
      }
      return scale(sum!, 1 / FIGURE.arrowSigmas.length);
    }),
  );
  const data = await arrows.read();
  arrows.dispose();
  return data;
}

/** The student's samples at each step count, with their DMD arrows, for the fixed figure labels and seeds. */
export async function studentFigure(distiller: ToyDistiller, labels: Uint32Array, stepCounts: readonly number[]): Promise<DistillFigure> {
  const { engine } = distiller;
  const students = [];
  for (const steps of stepCounts) {
    const sample = tidy(engine, () => distiller.sample(toyCondition(distiller.task.teacher, labels), anchorSigmas(steps, distiller.config.shift), FIGURE.seed, labels.length));
    const points = await sample.read();
    sample.dispose();
    students.push({ steps, points, arrows: await dmdArrows(distiller, points, labels) });
  }
  return { iteration: distiller.iteration, labels, students };
}
