// An optional regression term on the teacher's own noise -> sample pairs (DMD, Yin et al. 2024, sec. 3.3; not part of
// SenseFlow's recipe, nor of DMD2's, which dropped it as too costly at SDXL's scale). At our scale the pairs are cheap:
// `regressionPairs` starting noises z, each integrated by the teacher (TEACHER_STEPS guided Euler steps, guidance the
// middle of the real score's range) to x_T(z). On every generator step the student's 1-step sample from a chunk of
// those noises is pulled toward the teacher's:
//   L_reg = mean((z - v_G(z, s_0) - x_T(z))^2)   (s_0 = 1, the first anchor; the 1-step sampler's sample),
// added to the generator's loss with weight `regressionWeight`. DMD only sees the student's samples through noise; this
// tells the 1-step map which layout each noise should commit to (the teacher's), where DMD alone leaves faint copies
// of an object at several positions (docs/ARCHITECTURE.md, "What is left: extra objects").
//
// With regressionAnchors 'all' (ours, not DMD's) the pairs also keep the teacher's trajectory x_traj(s_i; z) at each
// anchor after the first (the point its Euler path passes at s_i), and a generator step whose anchor is s_i > s_0
// adds the same pull from there:
//   L_reg += mean((x0_G(x_traj(s_i; z), s_i) - x_T(z))^2),
// the teacher's ODE mapping that point to x_T(z) (a consistency target, as in consistency distillation). The point
// has the marginal of the noisy data at s_i, which is what the x0-renoise sampler feeds the later anchors, so this
// teaches the 2- and 4-step samplers the teacher's map where the first-anchor term alone only trains s_0 (and, on
// Shapes, costs the 4-step sampler accuracy the longer it runs: docs/ARCHITECTURE.md, the seventh run).
//
// Pairs come in chunks of the run's batch size. Chunk j: conditions from task.batch(streamSeed(seed, j, PAIR_STREAM)),
// noise Philox(streamSeed(seed, j, PAIR_STREAM)) at offset 0. Both are functions of (seed, j), so the conditions are
// made again when a chunk is used rather than stored; only the noises and the teacher's samples are kept (host arrays).
import { streamSeed } from '../data/random';
import { anchorSigmas } from '../flow/schedule';
import { add } from '../nn/ops/elementwise';
import { mseLoss } from '../nn/ops/loss';
import { randn } from '../nn/ops/random';
import { type HostArray, parseSafetensors, serializeSafetensors } from '../nn/safetensors';
import type { Module } from '../nn/module';
import { fromArray, type Kept, type Tensor } from '../nn/tensor';
import type { DistillConfig } from './config';
import { type DistillTask, teacherTrajectory } from './task';

/** The teacher's Euler steps per pair: the sampler its bundled metrics are measured with. */
export const TEACHER_STEPS = 50;
/** The pairs' stream in streamSeed(seed, chunk, stream): apart from the iteration streams (0-2) and the chunk draw (3). */
const PAIR_STREAM = 7;

/** The teacher's samples x_T(z) from the noises z, per chunk of `batch` (host arrays, [batch, ...sampleShape] each). */
export class TeacherPairs {
  constructor(
    readonly seed: number,
    readonly batch: number,
    readonly guidance: number,
    readonly noise: readonly Float32Array[],
    readonly samples: readonly Float32Array[],
    /** With regressionAnchors 'all': the trajectory's points at `anchors[1..]`, points[a - 1][chunk]; else none. */
    readonly points: readonly (readonly Float32Array[])[] = [],
    /** The noise levels of the points, anchors[1..] (the trajectory's start, anchors[0] = 1, is the noise itself). */
    readonly pointSigmas: readonly number[] = [],
  ) {
    if (noise.length !== samples.length || noise.length === 0) throw new Error(`teacher pairs: ${noise.length} noise chunks for ${samples.length} sample chunks`);
    if (points.length !== pointSigmas.length || points.some((p) => p.length !== noise.length)) throw new Error(`teacher pairs: trajectory points for ${pointSigmas.length} noise levels do not match ${noise.length} chunks`);
  }

  get chunks(): number {
    return this.noise.length;
  }

  /** The seed of chunk j's conditions and noise. */
  chunkSeed(j: number): number {
    return streamSeed(this.seed, j, PAIR_STREAM);
  }

  /**
   * Integrates the teacher from each chunk's noise; `onChunk` after each chunk (progress, and `sofar` for a caller
   * that stores the pairs as they come). With `from` (pairs stored earlier for the same settings, perhaps fewer
   * chunks: an interrupted integration, or a run asking for more pairs), its chunks are kept and only the rest are
   * integrated: chunk j is a function of (seed, j) alone, so the result is the same as integrating them all.
   */
  static async generate<Net extends Module, Condition extends Kept>(
    task: DistillTask<Net, Condition>,
    config: DistillConfig,
    seed: number,
    onChunk: (done: number, of: number, sofar: () => TeacherPairs) => void = () => {},
    from?: TeacherPairs,
  ): Promise<TeacherPairs> {
    const { batch } = config;
    const chunks = regressionChunks(config);
    const guidance = pairGuidance(config);
    const engine = task.teacher.engine;
    const shape = [batch, ...task.sampleShape];
    const pointSigmas = trajectorySigmas(config);
    const kept = from ? Math.min(from.chunks, chunks) : 0;
    if (from && (from.seed !== seed || from.batch !== batch || from.guidance !== guidance || (pointSigmas.length > 0 && JSON.stringify(from.pointSigmas) !== JSON.stringify(pointSigmas)))) {
      throw new Error(`teacher pairs: the pairs to continue were made for seed ${from.seed}, batch ${from.batch}, guidance ${from.guidance}, trajectory points at ${JSON.stringify(from.pointSigmas)}; this run needs ${seed}, ${batch}, ${guidance}, ${JSON.stringify(pointSigmas)}`);
    }
    const noise = from ? from.noise.slice(0, kept) : [];
    const samples = from ? from.samples.slice(0, kept) : [];
    const points = pointSigmas.map((_, a) => (from ? from.points[a]!.slice(0, kept) : []));
    const sofar = () => new TeacherPairs(seed, batch, guidance, noise.slice(), samples.slice(), points.map((p) => p.slice()), pointSigmas);
    for (let j = kept; j < chunks; j++) {
      const chunkSeed = streamSeed(seed, j, PAIR_STREAM);
      const z = randn(engine, shape, chunkSeed, 0);
      const run = teacherTrajectory(task, () => task.batch(chunkSeed, batch).condition, () => z, TEACHER_STEPS, guidance, pointSigmas);
      noise.push(await z.read());
      samples.push(await run.sample.read());
      for (const [a, point] of run.points.entries()) points[a]!.push(await point.read());
      for (const t of [z, run.sample, ...run.points]) t.dispose();
      onChunk(j + 1, chunks, sofar);
    }
    return sofar();
  }

  /** Chunk j's input and noise level at anchor a (a = 0: the noise at s = 1; later: the trajectory's point). */
  inputAt(a: number, j: number): { x: Float32Array; sigma: number } {
    if (a === 0) return { x: this.noise[j]!, sigma: 1 };
    const x = this.points[a - 1]?.[j];
    if (!x) throw new Error(`teacher pairs: no trajectory point at anchor ${a} (the pairs were made for the first anchor only)`);
    return { x, sigma: this.pointSigmas[a - 1]! };
  }

  /**
   * The pairs as one array, every chunk's noise then every chunk's samples, then (with trajectory points) every
   * chunk's point at each later anchor in turn (the Distill tab's cache holds arrays).
   */
  pack(): Float32Array {
    const size = this.noise[0]!.length;
    const all = [...this.noise, ...this.samples, ...this.points.flat()];
    const packed = new Float32Array(all.length * size);
    all.forEach((chunk, i) => packed.set(chunk, i * size));
    return packed;
  }

  /** What pack() made, for `config` and `seed` (views into `packed`). */
  static unpack(packed: Float32Array, config: DistillConfig, seed: number): TeacherPairs {
    const chunks = regressionChunks(config);
    const pointSigmas = trajectorySigmas(config);
    const arrays = (2 + pointSigmas.length) * chunks;
    const size = packed.length / arrays;
    if (!Number.isInteger(size) || size % config.batch !== 0) {
      const points = pointSigmas.length > 0 ? ` and trajectory points at ${pointSigmas.length} noise levels` : '';
      throw new Error(`teacher pairs: ${packed.length} values are not ${chunks} chunks of noise and samples${points} of batch ${config.batch}`);
    }
    const chunk = (i: number) => packed.subarray(i * size, (i + 1) * size);
    const part = (p: number) => Array.from({ length: chunks }, (_, j) => chunk(p * chunks + j));
    return new TeacherPairs(seed, config.batch, pairGuidance(config), part(0), part(1), pointSigmas.map((_, a) => part(2 + a)), pointSigmas);
  }

  /**
   * The pairs as safetensors (noise.j, sample.j; seed, batch, guidance and `teacher`, what identifies the teacher
   * that integrated them, e.g. its weights' sha256, in the metadata).
   */
  serialize(sampleShape: readonly number[], teacher: string): Uint8Array {
    const tensors: Record<string, HostArray> = {};
    const shape = [this.batch, ...sampleShape];
    this.noise.forEach((data, j) => (tensors[`noise.${j}`] = { shape, data }));
    this.samples.forEach((data, j) => (tensors[`sample.${j}`] = { shape, data }));
    this.points.forEach((chunks, a) => chunks.forEach((data, j) => (tensors[`point.${a + 1}.${j}`] = { shape, data })));
    const trajectory: Record<string, string> = this.pointSigmas.length > 0 ? { pointSigmas: JSON.stringify(this.pointSigmas) } : {};
    return serializeSafetensors(tensors, { seed: String(this.seed), batch: String(this.batch), guidance: String(this.guidance), teacherSteps: String(TEACHER_STEPS), teacher, ...trajectory });
  }

  /**
   * Reads what serialize() wrote, refusing pairs made for other settings (another teacher, seed, batch or guidance).
   * A file may hold fewer chunks than the run needs (an integration stopped part way, or a run now asking for more
   * pairs): the chunks it holds come back, and generate(..., from) integrates the rest; more chunks than needed, the
   * first ones. A chunk that is there but the wrong size, or lacks a trajectory point the run needs, is refused, as
   * is continuing a file with trajectory points in a run that makes none (the points would be lost).
   */
  static parse(bytes: Uint8Array, config: DistillConfig, seed: number, sampleShape: readonly number[], teacher: string): TeacherPairs {
    const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
    const { tensors, metadata } = parseSafetensors(bytes);
    const pointSigmas = trajectorySigmas(config);
    const expected = { seed: String(seed), batch: String(config.batch), guidance: String(pairGuidance(config)), teacherSteps: String(TEACHER_STEPS), teacher };
    for (const [key, value] of Object.entries(expected)) {
      if (metadata[key] !== value) throw new Error(`the stored teacher pairs were made with ${key} ${metadata[key] ?? '(none)'}, this run needs ${value}: delete the file to make them again`);
    }
    // Pairs with trajectory points serve a first-anchor run too (it reads what it needs); the reverse needs new pairs.
    if (pointSigmas.length > 0 && metadata.pointSigmas !== JSON.stringify(pointSigmas)) {
      throw new Error(`the stored teacher pairs have trajectory points at ${metadata.pointSigmas ?? '(none)'}, this run (regressionAnchors all) needs them at ${JSON.stringify(pointSigmas)}: delete the file to make them again`);
    }
    const needed = regressionChunks(config);
    let stored = 0;
    while (stored < needed && tensors[`noise.${stored}`] && tensors[`sample.${stored}`]) stored++;
    if (stored === 0) throw new Error('the stored teacher pairs hold no whole chunk (noise.0 and sample.0): delete the file to make them again');
    // Continued by a run that makes no trajectory points, the rewritten file would lose the stored ones.
    if (stored < needed && pointSigmas.length === 0 && metadata.pointSigmas) {
      throw new Error(`the stored teacher pairs hold ${stored} of the ${needed} chunks this run needs, with trajectory points (at ${metadata.pointSigmas}) that a first-anchor run does not make: continuing them would drop the points; run with regressionAnchors all (--regression-anchors all), or move the file away to make new pairs`);
    }
    const read = (name: string) => {
      const t = tensors[name];
      if (!t || t.data.length !== config.batch * sampleSize) throw new Error(`the stored teacher pairs ${t ? `have ${name} of ${t.data.length} values, not ${config.batch * sampleSize}` : `lack ${name}`}: delete the file to make them again`);
      return t.data;
    };
    const indices = Array.from({ length: stored }, (_, j) => j);
    const points = pointSigmas.map((_, a) => indices.map((j) => read(`point.${a + 1}.${j}`)));
    return new TeacherPairs(seed, config.batch, pairGuidance(config), indices.map((j) => read(`noise.${j}`)), indices.map((j) => read(`sample.${j}`)), points, pointSigmas);
  }
}

/** The noise levels whose trajectory points the pairs keep: the anchors after the first with regressionAnchors 'all', else none. */
export function trajectorySigmas(config: DistillConfig): number[] {
  return config.regressionAnchors === 'all' ? anchorSigmas(config.anchorSteps, config.shift).slice(1) : [];
}

/** Chunks of `batch` pairs that hold at least regressionPairs pairs. */
export function regressionChunks(config: DistillConfig): number {
  return Math.max(1, Math.ceil((config.regressionPairs ?? DEFAULT_REGRESSION_PAIRS) / config.batch));
}

/**
 * The pairs' guidance: regressionGuidance where set, else the middle of the real score's range (4 for Shapes' [3, 5],
 * the teacher's bundled metric's).
 */
export const pairGuidance = (config: DistillConfig): number => config.regressionGuidance ?? (config.guidance[0] + config.guidance[1]) / 2;

export const DEFAULT_REGRESSION_PAIRS = 512;

/**
 * L_reg of chunk j: the student's 1-step sample from the chunk's noise against the teacher's samples, mean squared;
 * with trajectory points and an iteration anchor a > 0, plus the same distance for the generator's x0 from the
 * chunk's point at anchor a. `x0At` maps (x, sigma, condition) to the generator's x0 there, with gradient.
 */
export function regressionLoss<Net extends Module, Condition extends Kept>(
  task: DistillTask<Net, Condition>,
  pairs: TeacherPairs,
  j: number,
  anchorIndex: number,
  x0At: (x: Tensor, sigma: number, condition: Condition) => Tensor,
): Tensor {
  const engine = task.teacher.engine;
  const shape = [pairs.batch, ...task.sampleShape];
  const { condition } = task.batch(pairs.chunkSeed(j), pairs.batch);
  const target = fromArray(engine, shape, pairs.samples[j]!, 'f32', 'regression.target');
  const pull = (a: number) => {
    const { x, sigma } = pairs.inputAt(a, j);
    return mseLoss(x0At(fromArray(engine, shape, x, 'f32', 'regression.input'), sigma, condition), target);
  };
  const first = pull(0);
  return anchorIndex > 0 && pairs.pointSigmas.length > 0 ? add(first, pull(anchorIndex)) : first;
}
