// What the Distill tab draws of a 2D toy run, computed on the GPU in the worker at intervals:
// - the student's samples at each served step count (1, 2, 4) for one fixed set of labels and noise seeds, so the
//   points move smoothly from one update to the next and the step counts start from the same noise;
// - on each sample the DMD update arrow, as GAN Lab draws the generator's gradient on each sample. DMD moves the
//   generator's x0 by -dL/dx ∝ x0_real(x_s) - x0_fake(x_s) at x_s = (1 - s) x + s eps (shared/DESIGN.md); the arrow is
//   that difference averaged over a few mid noise levels s with fixed eps, before DMD's per-sample normaliser, in the
//   data's own units: "the teacher's denoiser puts this point's clean version here, the fake score's there";
// - the sampler's path of some of those samples: the x0-renoise states x_j and estimates x0_hat_j of every step;
// - the fake score's implied distribution: Euler samples of its own flow (no guidance) from the same noise and
//   labels, which DMD assumes to be the student's.
import type { GaussianMixture2D } from '../data/toy2d';
import { referenceGuidance } from '../distill/toyEval';
import { toyCondition, type ToyCondition } from '../distill/toyTask';
import { runAnchorsWith, samplerStartNoise, type SenseFlowDistiller } from '../distill/senseflow';
import { anchorSigmas, eulerSigmas } from '../flow/schedule';
import { noiseTo, sampleEuler, x0FromVelocity } from '../flow/tensors';
import type { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { add, scale, sub } from '../nn/ops/elementwise';
import { randn } from '../nn/ops/random';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import type { DistillFigure, FakeScoreFigure, PointSet, StudentFigure, StudentTrajectories } from './distillApi';

export const FIGURE = {
  /** Student points per label: about 600-700 points in all on either mixture. */
  samplesPerLabel: { ring: 128, grid: 64 } as Record<GaussianMixture2D['name'], number>,
  seed: 20261127,
  /** The noise levels the DMD arrow is averaged over. */
  arrowSigmas: [0.3, 0.5, 0.7],
  /** Samples whose sampler path is drawn, spread evenly over the figure's points (so over its labels). */
  trajectories: 48,
  /**
   * Euler steps of the fake score's own samples: on the ring teacher, 16 steps land a mean 0.02 from 200 steps' points
   * (1.5 px in the figure; 10 steps 0.05), at ~45 ms a step for the 640 points on SwiftShader.
   */
  fakeScoreSteps: 16,
} as const;

/** What studentFigure computes besides the samples and arrows (0 leaves a part out). */
export interface FigureParts {
  trajectories: number;
  fakeScoreSteps: number;
}

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

const fill = (engine: Engine, n: number, s: number): Tensor => fromArray(engine, [n], new Float32Array(n).fill(s), 'f32', 'figure.sigma');

/**
 * The student's x0-renoise sampler over `anchors` from the figure's noise, as SenseFlowDistiller.sample runs it, keeping
 * every state: x_0 = eps_0; x0_hat_j = x_j - s_j v_G(x_j); x_{j+1} = (1 - s_{j+1}) x0_hat_j + s_{j+1} eps_{j+1}.
 * Returns [2k, n, 2] on the host: x_0, x0_hat_0, x_1, ..., x0_hat_{k-1} (the sample).
 */
export async function samplerPath(distiller: ToyDistiller, labels: Uint32Array, anchors: readonly number[]): Promise<Float32Array> {
  const { engine, task, generator } = distiller;
  const path = noGrad(engine, () => tidy(engine, () => runAnchorsWith(task, generator, toyCondition(task.teacher, labels), anchors, anchors.length, FIGURE.seed, labels.length, 'path')));
  const data = await path.read();
  path.dispose();
  return data;
}

/** The paths of the samples at `index` out of a samplerPath ([2k, n, 2] -> [m, 2k, 2], one sample's path contiguous). */
function pickPaths(path: Float32Array, n: number, index: Uint32Array): Float32Array {
  const states = path.length / (2 * n);
  const out = new Float32Array(index.length * states * 2);
  index.forEach((i, t) => {
    for (let p = 0; p < states; p++) {
      out[2 * (t * states + p)] = path[2 * (p * n + i)]!;
      out[2 * (t * states + p) + 1] = path[2 * (p * n + i) + 1]!;
    }
  });
  return out;
}

/** m of the n figure points, evenly spread (the points are in label order, so every label gets its share). */
export function trajectoryIndex(n: number, m: number): Uint32Array {
  return Uint32Array.from({ length: Math.min(m, n) }, (_, t) => Math.floor(((t + 0.5) * n) / Math.min(m, n)));
}

/**
 * The fake score's own samples: Euler over `steps` uniform levels from 1 to 0 of v_fake (no guidance, as it is trained),
 * from the same noise and labels as the student's points. What the fake score believes the student's distribution is.
 */
export async function fakeScoreSamples(distiller: ToyDistiller, labels: Uint32Array, steps: number): Promise<Float32Array> {
  const { engine, task, fakeScore } = distiller;
  const n = labels.length;
  const points = noGrad(engine, () =>
    tidy(engine, () => {
      const condition = toyCondition(task.teacher, labels);
      const start = samplerStartNoise(engine, [n, 2], FIGURE.seed);
      return sampleEuler((x, s) => task.velocity(fakeScore, x, fill(engine, n, s), condition), start, eulerSigmas(steps));
    }),
  );
  const data = await points.read();
  points.dispose();
  return data;
}

/**
 * The student's samples at each step count, with their DMD arrows and (for `parts.trajectories` of them) the sampler's
 * path, and the fake score's own samples, for the fixed figure labels and seeds.
 */
export async function studentFigure(distiller: ToyDistiller, labels: Uint32Array, stepCounts: readonly number[], parts: FigureParts = FIGURE): Promise<DistillFigure> {
  const { engine } = distiller;
  const n = labels.length;
  const index = trajectoryIndex(n, parts.trajectories);
  const students: StudentFigure[] = [];
  for (const steps of stepCounts) {
    const anchors = anchorSigmas(steps, distiller.config.shift);
    let points: Float32Array;
    let trajectories: StudentTrajectories | undefined;
    if (index.length > 0) {
      const path = await samplerPath(distiller, labels, anchors);
      points = path.slice(path.length - 2 * n);
      trajectories = { index, anchors, points: pickPaths(path, n, index) };
    } else {
      const sample = tidy(engine, () => distiller.sample(toyCondition(distiller.task.teacher, labels), anchors, FIGURE.seed, n));
      points = await sample.read();
      sample.dispose();
    }
    students.push({ steps, points, arrows: await dmdArrows(distiller, points, labels), ...(trajectories ? { trajectories } : {}) });
  }
  const fakeScore: FakeScoreFigure | undefined = parts.fakeScoreSteps > 0 ? { steps: parts.fakeScoreSteps, points: await fakeScoreSamples(distiller, labels, parts.fakeScoreSteps) } : undefined;
  return { iteration: distiller.iteration, labels, students, ...(fakeScore ? { fakeScore } : {}) };
}
