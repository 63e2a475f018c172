// SenseFlow's distillation loop (shared/DESIGN.md, "The SenseFlow recipe"): DMD with TTUR, Implicit Distribution
// Alignment and Intra-Segment Guidance, on our engine, for any DistillTask (the 2D toy, Shapes-32).
//
// Iteration t (all random draws a function of (seed, t), so a resumed run repeats the uninterrupted one exactly):
//   1. Student input: an anchor s_i of the student's anchors; with probability `backwardSimulation` run the generator
//      G (no gradient) from pure noise through the earlier anchors with x0-renoise steps, else noise real data to s_i.
//   2. Generator step, on iterations with t % fakeStepsPerGeneratorStep == 0 (TTUR):
//      x = x_i - s_i v_G(x_i) (G's x0, with gradient).
//      DMD: s = shift(u, dmdShift), u ~ U(dmdSigmaRange) per sample; x_s = (1 - s) x + s eps;
//           g = (x0_fake(x_s) - x0_real(x_s; CFG w)) / mean|x - x0_real|;  L_DM = 0.5 mean((x - sg(x - g))^2).
//      ISG: s_mid in the segment (s_next, s_i) with a margin; x_mid = x_i + (s_mid - s_i) v_real(x_i; w);
//           target = x_mid + (s_next - s_mid) v_G(x_mid) (no gradient); prediction = x_i + (s_next - s_i) v_G(x_i);
//           L_ISG = pseudo-Huber(prediction, target). With isgLastSegment false, not on the last anchor's segment
//           (s_next = 0), whose target asks G at an s_mid below every anchor; with isgFirstSegment false, not out of
//           the first anchor (s_i = 1), where the 1-step sampler's sample is the output ISG pulls toward the teacher's.
//      G <- AdamW(L_DM + isgWeight L_ISG); then IDA: phi <- lambda phi + (1 - lambda) theta (or toward the teacher,
//      the pull-to-teacher control arm).
//      With the GAN term (distill/adversarial.ts) L_G = -(1 - s_i)^2 mean(D(x)) joins the generator's loss with ganWeight.
//      With regressionWeight > 0 (distill/regression.ts, DMD's term, not SenseFlow's): L_reg = mean((G's 1-step sample
//      from a teacher pair's noise - the teacher's 50-step sample)^2), a chunk of pairs drawn per generator step.
//      With emaDecay > 0: ema <- emaDecay ema + (1 - emaDecay) theta (the student that is sampled, evaluated, exported).
//   3. Fake score step, every iteration: flow matching on sg(x) with s ~ logit-normal(0, 1), no guidance.
//   4. With the GAN term, the discriminator's hinge step on real renders against sg(x), every iteration.
// The real score's guidance w ~ U(guidance range), drawn per iteration; with dmdGuidanceMaxSigma (a guidance interval),
// DMD noise levels above it use w = 1.
//
// Divergence: losses and gradient norms are read back before each optimizer step; a NaN or infinity skips the
// update, restores the last good snapshot (weights and optimizer state, taken every `snapshotEvery` iterations) and
// reports it in the iteration's metrics; the run goes on from the next iteration.
import { mulberry32, streamSeed } from '../data/random';
import { nextAnchor, shift } from '../flow/schedule';
import { eulerStep, flowMatchingLoss, noiseTo, x0FromVelocity } from '../flow/tensors';
import { logitNormalSigmas } from '../flow/timesteps';
import type { Engine } from '../nn/engine';
import type { Module } from '../nn/module';
import { add, scale } from '../nn/ops/elementwise';
import { mean } from '../nn/ops/reduce';
import { randn } from '../nn/ops/random';
import { concat } from '../nn/ops/shape';
import { AdamW, parseOptimizerState, serializeOptimizerState } from '../nn/optim';
import { clipGradNorm, gradNorm, lerpParameters } from '../nn/params';
import { loadModule, saveModule } from '../nn/safetensors';
import { backward, fromArray, type Kept, noGrad, Tensor, tidy } from '../nn/tensor';
import { type DistillConfig, isgApplies, trainingAnchors } from './config';
import { adversarialGeneratorLoss, discriminate, FeatureDiscriminator, freeze, hingeDiscriminatorLoss } from './adversarial';
import { dmdGradient, dmdLoss, isgLoss } from './losses';
import { regressionChunks, regressionLoss, TeacherPairs } from './regression';
import type { DistillTask } from './task';

/** What one iteration did and measured (host numbers; one JSON line of a run's metrics). */
export interface IterationMetrics {
  iteration: number;
  generatorStep: boolean;
  anchorIndex: number;
  backwardSimulated: boolean;
  guidance: number;
  fakeLoss: number;
  fakeGradNorm: number;
  dmdLoss?: number;
  isgLoss?: number;
  generatorGradNorm?: number;
  /** Batch mean of DMD's per-sample normaliser mean|x - x0_real|. */
  dmdNormaliser?: number;
  /** With the GAN term: L_G (on generator steps), and the discriminator's hinge loss and gradient norm. */
  ganLoss?: number;
  discriminatorLoss?: number;
  discriminatorGradNorm?: number;
  /** With the regression term: L_reg on generator steps. */
  regressionLoss?: number;
  /** Set when a non-finite value stopped the update and the last good snapshot was restored. */
  restored?: { reason: string; toIteration: number };
}

/** Everything a run needs to continue exactly: weights, optimizer states, the next iteration. */
export interface DistillCheckpoint {
  iteration: number;
  generator: Uint8Array;
  fakeScore: Uint8Array;
  generatorOptimizer: Uint8Array;
  fakeOptimizer: Uint8Array;
  /** With the GAN term: its heads and their optimizer. */
  discriminator?: Uint8Array;
  discriminatorOptimizer?: Uint8Array;
  /** With emaDecay > 0: the generator's moving average. */
  ema?: Uint8Array;
}

export interface DistillerOptions {
  /** Iterations between in-memory snapshots for divergence recovery (default 50). */
  snapshotEvery?: number;
}

// Separate GPU noise streams of one iteration, as offsets in units of the batch's values (Philox is counter-based).
const NOISE = { input: 0, renoise: 1, dmd: 16, fake: 17 } as const;

export class SenseFlowDistiller<Net extends Module, Condition extends Kept> {
  readonly engine: Engine;
  readonly generator: Net;
  readonly fakeScore: Net;
  readonly generatorOptimizer: AdamW;
  readonly fakeOptimizer: AdamW;
  /** The GAN term's heads on the frozen evaluator (null when ganWeight is 0). */
  readonly discriminator: FeatureDiscriminator | null = null;
  readonly discriminatorOptimizer: AdamW | null = null;
  /** The generator's moving average (null when emaDecay is 0); it starts as a copy of the generator at the first step. */
  readonly ema: Net | null = null;
  readonly anchors: readonly number[];
  /**
   * With regressionWeight > 0: the teacher's noise -> sample pairs. Made on the first step that needs them unless set
   * before (the CLI stores them in the run folder, so a resumed run does not integrate the teacher again).
   */
  regressionPairs: TeacherPairs | null = null;
  /** The next iteration to run. */
  iteration = 0;
  private emaStarted = false;
  private lastGood: DistillCheckpoint | null = null;
  private readonly snapshotEvery: number;

  constructor(
    readonly task: DistillTask<Net, Condition>,
    readonly config: DistillConfig,
    readonly seed: number,
    options: DistillerOptions = {},
  ) {
    this.engine = task.teacher.engine;
    const adam = { lr: config.lr, beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay };
    if (config.ganWeight > 0) {
      if (!task.adversarial) throw new Error(`the adversarial (GAN) term needs a frozen feature network, and this ${task.name} task was made without one; run it with --gan 0`);
      const { network, featureDim, layers, textDim } = task.adversarial;
      freeze(network);
      this.discriminator = new FeatureDiscriminator(this.engine, featureDim, layers, textDim, seed);
      this.discriminatorOptimizer = new AdamW(this.engine, this.discriminator, adam);
    }
    this.generator = task.createNetwork();
    this.fakeScore = task.createNetwork();
    this.generatorOptimizer = new AdamW(this.engine, this.generator, adam);
    this.fakeOptimizer = new AdamW(this.engine, this.fakeScore, adam);
    if ((config.emaDecay ?? 0) > 0) this.ema = task.createNetwork();
    this.anchors = trainingAnchors(config);
    this.snapshotEvery = options.snapshotEvery ?? 50;
  }

  /** The student a run produces: the generator's moving average with emaDecay > 0, else the generator itself. */
  get student(): Net {
    return this.ema && this.emaStarted ? this.ema : this.generator;
  }

  /** Runs iteration `this.iteration` and advances it. */
  async step(): Promise<IterationMetrics> {
    const t = this.iteration;
    if (this.ema && !this.emaStarted) {
      lerpParameters(this.ema, this.generator, 0); // a bit-exact copy of the generator (the teacher's or --init-from's)
      this.emaStarted = true;
    }
    if (this.lastGood === null || (t % this.snapshotEvery === 0 && t !== this.lastGood.iteration)) this.lastGood = await this.checkpoint();
    const { config, task, engine } = this;
    const draws = this.draws(t);
    const regression = (config.regressionWeight ?? 0) > 0 && draws.generatorStep ? await this.teacherPairs() : null;
    const batch = config.batch;
    const noiseSeed = streamSeed(this.seed, t, 2);
    const numel = batch * task.sampleShape.reduce((a, b) => a * b, 1);
    const sI = this.anchors[draws.anchorIndex]!;
    const sNext = nextAnchor(this.anchors, draws.anchorIndex);
    const withIsg = isgApplies(config, draws.anchorIndex);
    const metrics: IterationMetrics = { iteration: t, generatorStep: draws.generatorStep, anchorIndex: draws.anchorIndex, backwardSimulated: draws.simulate, guidance: draws.guidance, fakeLoss: NaN, fakeGradNorm: NaN };

    // Phase 1: the student's input, the generator's x0 and (on generator steps) its losses and gradients.
    const phase1 = tidy(engine, () => {
      const { condition, x0: real } = task.batch(streamSeed(this.seed, t, 0), batch);
      const sigmaI = this.fill(sI);
      const xI = noGrad(engine, () =>
        draws.simulate
          ? this.backwardSimulation(condition, draws.anchorIndex, noiseSeed)
          : noiseTo(real, randn(engine, real.shape, noiseSeed, NOISE.input * numel), sI),
      );
      if (!draws.generatorStep) {
        const x = noGrad(engine, () => x0FromVelocity(xI, task.velocity(this.generator, xI, sigmaI, condition), sI));
        return { condition, real, x, readings: [] as Tensor[] };
      }
      const vG = task.velocity(this.generator, xI, sigmaI, condition);
      const x = x0FromVelocity(xI, vG, sI);
      const { g, norm } = noGrad(engine, () => {
        const sigma = fromArray(engine, [batch], draws.dmdSigmas, 'f32', 'dmd.sigma');
        const xs = noiseTo(x, randn(engine, x.shape, noiseSeed, NOISE.dmd * numel), sigma);
        const x0Real = x0FromVelocity(xs, task.guidedVelocity(xs, sigma, condition, this.dmdGuidance(draws.guidance, draws.dmdSigmas)), sigma);
        const x0Fake = x0FromVelocity(xs, task.velocity(this.fakeScore, xs, sigma, condition), sigma);
        return dmdGradient(x, x0Real, x0Fake);
      });
      const dmd = dmdLoss(x, g);
      let total = dmd;
      let isg: Tensor | null = null;
      if (withIsg) {
        const target = this.isgTarget(condition, xI, sI, draws.isgMid, sNext, draws.guidance);
        isg = isgLoss(eulerStep(xI, vG, sI, sNext), target, config.isgLoss, config.pseudoHuberC);
        total = add(total, scale(isg, config.isgWeight));
      }
      let gan: Tensor | null = null;
      if (this.discriminator && task.adversarial) {
        gan = adversarialGeneratorLoss(discriminate(task.adversarial, this.discriminator, x, task.adversarial.text(condition)), (1 - sI) ** 2);
        total = add(total, scale(gan, config.ganWeight));
      }
      let reg: Tensor | null = null;
      if (regression) {
        reg = regressionLoss(task, regression, draws.regressionChunk, draws.anchorIndex, (z, s, c) => x0FromVelocity(z, task.velocity(this.generator, z, this.fill(s), c), s));
        total = add(total, scale(reg, config.regressionWeight!));
      }
      backward(total);
      const gradientNorm = this.clip(this.generator);
      return { condition, real, x, readings: [dmd, isg ?? dmd, gradientNorm, mean(norm), gan ?? dmd, reg ?? dmd] };
    });
    phase1.x.requiresGrad = false; // the fake score trains on sg(x)
    try {
      if (draws.generatorStep) {
        const [dmd, isg, norm, normaliser, gan, reg] = await readAll(phase1.readings);
        Object.assign(metrics, { dmdLoss: dmd, generatorGradNorm: norm, dmdNormaliser: normaliser }, withIsg ? { isgLoss: isg } : {}, this.discriminator ? { ganLoss: gan } : {}, regression ? { regressionLoss: reg } : {});
        if (![dmd, isg, norm, normaliser, gan, reg].every(Number.isFinite)) return await this.recover(metrics, 'generator');
        this.generatorOptimizer.step();
        this.generatorOptimizer.zeroGrad();
        this.discriminatorOptimizer?.zeroGrad(); // the heads' gradients from L_G are not theirs to follow
        if (this.ema) lerpParameters(this.ema, this.generator, this.config.emaDecay!);
        this.alignFakeScore();
      }

      // Phase 2: the fake score's flow-matching step on the generator's (detached) samples.
      const fake = tidy(engine, () => {
        const x = phase1.x;
        const sigma = fromArray(engine, [batch], draws.fakeSigmas, 'f32', 'fake.sigma');
        const eps = randn(engine, x.shape, noiseSeed, NOISE.fake * numel);
        const loss = flowMatchingLoss(task.velocity(this.fakeScore, noiseTo(x, eps, sigma), sigma, phase1.condition), x, eps);
        backward(loss);
        return [loss, this.clip(this.fakeScore)];
      });
      const [fakeLoss, fakeGradNorm] = await readAll(fake);
      Object.assign(metrics, { fakeLoss, fakeGradNorm });
      if (!Number.isFinite(metrics.fakeLoss) || !Number.isFinite(metrics.fakeGradNorm)) return await this.recover(metrics, 'fake score');
      this.fakeOptimizer.step();
      this.fakeOptimizer.zeroGrad();
      if (this.discriminator && this.discriminatorOptimizer && task.adversarial) {
        // Phase 3: the discriminator's hinge step, real renders against the generator's (detached) samples.
        const adversarial = task.adversarial;
        const discriminator = this.discriminator;
        const readings = tidy(engine, () => {
          const pooled = adversarial.text(phase1.condition);
          const loss = hingeDiscriminatorLoss(discriminate(adversarial, discriminator, phase1.real, pooled), discriminate(adversarial, discriminator, phase1.x, pooled));
          backward(loss);
          return [loss, this.clip(discriminator)];
        });
        const [discriminatorLoss, discriminatorGradNorm] = await readAll(readings);
        Object.assign(metrics, { discriminatorLoss, discriminatorGradNorm });
        if (!Number.isFinite(discriminatorLoss) || !Number.isFinite(discriminatorGradNorm)) return await this.recover(metrics, 'discriminator');
        this.discriminatorOptimizer.step();
        this.discriminatorOptimizer.zeroGrad();
      }
      this.iteration = t + 1;
      return metrics;
    } finally {
      disposeTensors(phase1);
    }
  }

  /**
   * ISG's target for the segment s_i -> s_next (no gradient): the teacher's guided Euler step s_i -> s_mid, then the
   * generator's Euler step s_mid -> s_next: x_mid + (s_next - s_mid) v_G(x_mid), x_mid = x_i + (s_mid - s_i) v_real(x_i).
   */
  isgTarget(condition: Condition, xI: Tensor, sI: number, sMid: number, sNext: number, guidance: number): Tensor {
    const { engine, task } = this;
    const size = xI.shape[0]!;
    const fill = (s: number) => fromArray(engine, [size], new Float32Array(size).fill(s), 'f32', 'sigma');
    return noGrad(engine, () => {
      const xMid = eulerStep(xI, task.guidedVelocity(xI, fill(sI), condition, guidance), sI, sMid);
      return eulerStep(xMid, task.velocity(this.generator, xMid, fill(sMid), condition), sMid, sNext);
    });
  }

  /** The regression term's pairs, integrating the teacher for them on first use. */
  async teacherPairs(onChunk?: (done: number, of: number) => void): Promise<TeacherPairs> {
    this.regressionPairs ??= await TeacherPairs.generate(this.task, this.config, this.seed, onChunk);
    return this.regressionPairs;
  }

  /**
   * IDA after a generator step: phi <- lambda phi + (1 - lambda) theta (or toward the frozen teacher in the
   * pull-to-teacher arm); lambda = 1 leaves the fake score alone. The fake score's optimizer moments are untouched.
   */
  alignFakeScore(): void {
    const { idaLambda, alignment } = this.config;
    if (idaLambda < 1) lerpParameters(this.fakeScore, alignment === 'generator' ? this.generator : this.task.teacher, idaLambda);
  }

  /** The real score's guidance in DMD: the drawn w, or with a guidance interval w per sample (1 above its top). */
  private dmdGuidance(w: number, dmdSigmas: Float32Array): number | Tensor {
    const top = this.config.dmdGuidanceMaxSigma;
    if (top === undefined) return w;
    const weights = Float32Array.from(dmdSigmas, (s) => (s > top ? 1 : w));
    return fromArray(this.engine, [weights.length], weights, 'f32', 'dmd.guidance');
  }

  /** The host draws of iteration t (anchor, guidance, noise levels), a function of (seed, t). */
  draws(t: number) {
    const { config } = this;
    const random = mulberry32(streamSeed(this.seed, t, 1));
    const anchorIndex = Math.min(this.anchors.length - 1, Math.floor(random() * this.anchors.length));
    const simulate = anchorIndex > 0 && random() < config.backwardSimulation;
    const [gMin, gMax] = config.guidance;
    const guidance = gMin + (gMax - gMin) * random();
    const [lo, hi] = config.dmdSigmaRange;
    const dmdSigmas = Float32Array.from({ length: config.batch }, () => shift(lo + (hi - lo) * random(), config.dmdShift));
    const sI = this.anchors[anchorIndex]!;
    const sNext = nextAnchor(this.anchors, anchorIndex);
    const isgMid = isgMidpoint(sI, sNext, config.isgMargin, random());
    const fakeSigmas = logitNormalSigmas(config.batch, random);
    // The regression term's chunk from a stream of its own, so adding the term leaves every other draw as it was.
    const regressionChunk = Math.floor(mulberry32(streamSeed(this.seed, t, 3))() * regressionChunks(config));
    return { generatorStep: t % config.fakeStepsPerGeneratorStep === 0, anchorIndex, simulate, guidance, dmdSigmas, isgMid, fakeSigmas, regressionChunk };
  }

  /**
   * Backward simulation: G (no gradient) from pure noise at anchors[0] through anchors[1..index] with x0-renoise
   * steps, returning x at anchors[index]: the input the student sees at inference (DMD2 sec. 4.5).
   */
  backwardSimulation(condition: Condition, index: number, noiseSeed: number): Tensor {
    return this.runAnchors(condition, index, noiseSeed, 'input');
  }

  /**
   * The student's sample (the moving average when there is one) with the x0-renoise sampler over `anchors`
   * (e.g. [1], [1, 0.75], [1, 0.9, 0.75, 0.5]):
   * x0 at the last anchor. Noise from Philox(noiseSeed): the start at offset 0, renoise j at (1 + j) * numel.
   */
  sample(condition: Condition, anchors: readonly number[], noiseSeed: number, size: number): Tensor {
    return noGrad(this.engine, () => runAnchorsWith(this.task, this.student, condition, anchors, anchors.length, noiseSeed, size, 'x0'));
  }

  private runAnchors(condition: Condition, index: number, noiseSeed: number, what: 'input'): Tensor {
    return runAnchorsWith(this.task, this.generator, condition, this.anchors, index, noiseSeed, this.config.batch, what);
  }

  private fill(s: number): Tensor {
    return fromArray(this.engine, [this.config.batch], new Float32Array(this.config.batch).fill(s), 'f32', 'sigma');
  }

  private clip(net: Module): Tensor {
    return this.config.gradClip > 0 ? clipGradNorm(net.parameters(), this.config.gradClip) : gradNorm(net.parameters());
  }

  private async recover(metrics: IterationMetrics, where: string): Promise<IterationMetrics> {
    this.generatorOptimizer.zeroGrad();
    this.fakeOptimizer.zeroGrad();
    this.discriminatorOptimizer?.zeroGrad();
    const snapshot = this.lastGood!;
    this.restore(snapshot);
    metrics.restored = { reason: `a non-finite loss or gradient norm in the ${where} step`, toIteration: snapshot.iteration };
    this.iteration = metrics.iteration + 1; // the same draws would diverge again: go on with the next iteration
    return metrics;
  }

  async checkpoint(): Promise<DistillCheckpoint> {
    const [generator, fakeScore, g, f] = await Promise.all([saveModule(this.generator), saveModule(this.fakeScore), this.generatorOptimizer.state(), this.fakeOptimizer.state()]);
    const checkpoint: DistillCheckpoint = { iteration: this.iteration, generator, fakeScore, generatorOptimizer: serializeOptimizerState(g), fakeOptimizer: serializeOptimizerState(f) };
    if (this.discriminator && this.discriminatorOptimizer) {
      checkpoint.discriminator = await saveModule(this.discriminator);
      checkpoint.discriminatorOptimizer = serializeOptimizerState(await this.discriminatorOptimizer.state());
    }
    if (this.ema && this.emaStarted) checkpoint.ema = await saveModule(this.ema);
    return checkpoint;
  }

  /** Puts a checkpoint back (weights, optimizer moments); the next iteration is the checkpoint's. */
  restore(checkpoint: DistillCheckpoint): void {
    loadModule(this.generator, checkpoint.generator);
    loadModule(this.fakeScore, checkpoint.fakeScore);
    this.generatorOptimizer.loadState(parseOptimizerState(checkpoint.generatorOptimizer));
    this.fakeOptimizer.loadState(parseOptimizerState(checkpoint.fakeOptimizer));
    if (this.discriminator && this.discriminatorOptimizer) {
      if (!checkpoint.discriminator || !checkpoint.discriminatorOptimizer) throw new Error('the checkpoint has no GAN heads, but this run has the GAN term: resume it with the same --gan');
      loadModule(this.discriminator, checkpoint.discriminator);
      this.discriminatorOptimizer.loadState(parseOptimizerState(checkpoint.discriminatorOptimizer));
    }
    if (this.ema) {
      // A checkpoint taken before the first step has none: the average starts again from the restored generator.
      if (checkpoint.ema) loadModule(this.ema, checkpoint.ema);
      this.emaStarted = checkpoint.ema !== undefined;
    }
    this.iteration = checkpoint.iteration;
    this.lastGood = checkpoint;
  }

  dispose(): void {
    if (this.discriminator) this.task.adversarial?.release?.();
    this.discriminatorOptimizer?.dispose();
    this.discriminator?.dispose();
    this.generatorOptimizer.dispose();
    this.fakeOptimizer.dispose();
    this.generator.dispose();
    this.fakeScore.dispose();
    this.ema?.dispose();
  }
}

/** s_mid = s_next + (s_i - s_next) (margin + (1 - 2 margin) u): inside the segment, `margin` of it away from each end. */
export function isgMidpoint(sI: number, sNext: number, margin: number, u: number): number {
  return sNext + (sI - sNext) * (margin + (1 - 2 * margin) * u);
}

/** The noise the few-step sampler starts from (runAnchorsWith; sample() with the same seed starts here too). */
export const samplerStartNoise = (engine: Engine, shape: readonly number[], noiseSeed: number): Tensor => randn(engine, shape, noiseSeed, NOISE.input * shape.reduce((a, b) => a * b, 1));

/**
 * From pure noise at anchors[0]: for j < until, x0_j = x_j - s_j v(x_j); x_{j+1} = (1 - s_{j+1}) x0_j + s_{j+1} eps_j.
 * what 'input': returns x_until (backward simulation); 'x0': returns x0 at the last anchor (until = anchors.length);
 * 'path': every state on the way, [2 until, size, ...]: x_0, x0_0, x_1, x0_1, ..., x0_{until-1} (the Distill tab's
 * trajectories, whose last point is then exactly what 'x0' returns).
 */
export function runAnchorsWith<Net extends Module, Condition extends Kept>(
  task: DistillTask<Net, Condition>,
  generator: Net,
  condition: Condition,
  anchors: readonly number[],
  until: number,
  noiseSeed: number,
  size: number,
  what: 'input' | 'x0' | 'path',
): Tensor {
  const engine = generator.engine;
  const shape = [size, ...task.sampleShape];
  const numel = shape.reduce((a, b) => a * b, 1);
  const sigma = (s: number) => fromArray(engine, [size], new Float32Array(size).fill(s), 'f32', 'sigma');
  // One scope: at most 4 anchors' intermediates are alive at once, and only the result leaves it.
  return tidy(engine, () => {
    let x = samplerStartNoise(engine, shape, noiseSeed);
    const states: Tensor[] = [];
    for (let j = 0; j < until; j++) {
      const s = anchors[j]!;
      const x0 = x0FromVelocity(x, task.velocity(generator, x, sigma(s), condition), s);
      if (what === 'path') states.push(x, x0);
      if (what === 'x0' && j + 1 === until) return x0;
      if (what === 'path' && j + 1 === until) return concat(states, 0);
      x = noiseTo(x0, randn(engine, shape, noiseSeed, (NOISE.renoise + j) * numel), anchors[j + 1]!);
    }
    return x;
  });
}

/** Reads scalars back, each tensor once however often it is listed (absent terms stand in as the DMD loss), then frees them. */
async function readAll(tensors: readonly Tensor[]): Promise<number[]> {
  const unique = [...new Set(tensors)];
  const values = new Map(await Promise.all(unique.map(async (t) => [t, await t.item()] as const)));
  for (const t of unique) t.dispose();
  return tensors.map((t) => values.get(t)!);
}

/** Disposes the tensors in a plain object or array (what tidy returned to a caller outside any scope). */
export function disposeTensors(value: unknown, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) return value.dispose();
  if (!value || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  for (const v of Object.values(value)) disposeTensors(v, seen);
}
