// What the distillation loop needs from a domain (the 2D toy or Shapes-32), so distill/senseflow.ts is written once:
// networks of the teacher's architecture, their velocity under a condition, the teacher with classifier-free
// guidance, and the data (conditions and real samples) of an iteration. Conditions are tensors the task makes and
// the loop only passes along (labels on the toy; the frozen text encoder's states on Shapes).
import { eulerSigmas } from '../flow/schedule';
import { eulerStep } from '../flow/tensors';
import type { Module } from '../nn/module';
import { fromArray, keep, type Kept, noGrad, type Tensor, tidy } from '../nn/tensor';

export interface DistillBatch<Condition extends Kept> {
  condition: Condition;
  /** Real samples [B, ...sampleShape] matching the condition (the student's input when not backward-simulated). */
  x0: Tensor;
}

export interface DistillTask<Net extends Module = Module, Condition extends Kept = Kept> {
  readonly name: string;
  /** The shape of one sample: [2] on the toy, [3, 32, 32] on Shapes. */
  readonly sampleShape: readonly number[];
  /** The frozen teacher (the real score). */
  readonly teacher: Net;
  /** A new network of the teacher's architecture holding a copy of its weights (the generator and the fake score). */
  createNetwork(): Net;
  /** The velocity v = eps - x0 at x [B, ...] with noise levels sigma [B]. */
  velocity(net: Net, x: Tensor, sigma: Tensor, condition: Condition): Tensor;
  /**
   * The teacher's guided velocity v_null + w (v_cond - v_null) (one forward of the doubled batch); w one weight for
   * the batch or an f32 tensor [B], one per sample.
   */
  guidedVelocity(x: Tensor, sigma: Tensor, condition: Condition, guidance: number | Tensor): Tensor;
  /** Conditions and real samples of `size` examples, a function of `seed` alone. Called inside a tidy scope. */
  batch(seed: number, size: number): DistillBatch<Condition>;
  /** What the optional GAN term reads: a frozen feature network's per-layer features and the condition's embedding. */
  readonly adversarial?: AdversarialFeatures<Condition>;
}

/** The GAN term's view of a task (distill/adversarial.ts): the stand-in for the paper's frozen DINOv2. */
export interface AdversarialFeatures<Condition extends Kept = Kept> {
  /** The feature network; the distiller freezes it (gradients pass through it into the samples, never into it). */
  readonly network: Module;
  /** Per-layer features [B, featureDim] of samples [B, ...sampleShape], `layers` of them. */
  features(x: Tensor): Tensor[];
  readonly featureDim: number;
  readonly layers: number;
  /** The condition as a vector [B, textDim] for the projection term (the pooled text; a label's embedding). */
  text(condition: Condition): Tensor;
  readonly textDim: number;
  /** Frees what the task made for the GAN term (the distiller calls it on dispose); a network the caller passed in stays. */
  release?(): void;
}

/**
 * The teacher's own samples, what the evaluations compare the student against: `steps` Euler steps from `noise` with
 * classifier-free guidance `guidance`, without gradient. `condition` is made inside the call's scope (its tensors are
 * freed with the sampler's intermediates).
 */
export function teacherEuler<Net extends Module, Condition extends Kept>(task: DistillTask<Net, Condition>, condition: () => Condition, noise: () => Tensor, steps: number, guidance: number): Tensor {
  return teacherTrajectory(task, condition, noise, steps, guidance, []).sample;
}

/**
 * teacherEuler's sample together with the points its trajectory passes at the noise levels `at` (each in (0, 1]):
 * a level between two grid levels s_k > a > s_{k+1} is reached by the part step x_k + (a - s_k) v_k, i.e. on the
 * Euler path itself, so a point at a grid level is the Euler state there. Points in the order of `at`.
 */
export function teacherTrajectory<Net extends Module, Condition extends Kept>(
  task: DistillTask<Net, Condition>,
  condition: () => Condition,
  noise: () => Tensor,
  steps: number,
  guidance: number,
  at: readonly number[],
): { sample: Tensor; points: Tensor[] } {
  const engine = task.teacher.engine;
  for (const a of at) if (!(a > 0 && a <= 1)) throw new Error(`teacherTrajectory: a noise level in (0, 1] expected, got ${a}`);
  return noGrad(engine, () =>
    tidy(engine, () => {
      const c = condition();
      const start = noise();
      const n = start.shape[0]!;
      const sigmas = eulerSigmas(steps);
      const points = new Array<Tensor>(at.length);
      let x = start;
      for (let k = 0; k < steps; k++) {
        const [s, sNext] = [sigmas[k]!, sigmas[k + 1]!];
        const input = x;
        // One state (and the points this step crosses) kept at a time, as sampleEuler does; the velocity's
        // intermediates go with the inner scope.
        const [next, ...crossed] = tidy(engine, () => {
          const v = task.guidedVelocity(input, fromArray(engine, [n], new Float32Array(n).fill(s), 'f32', 'sigma'), c, guidance);
          return [eulerStep(input, v, s, sNext), ...at.map((a) => (a <= s && a > sNext ? eulerStep(input, v, s, a) : null))];
        });
        crossed.forEach((p, i) => {
          if (p) points[i] = keep(p);
        });
        x = keep(next!);
        if (input !== start) input.dispose();
      }
      return { sample: x, points };
    }),
  );
}
