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
// Pairs come in chunks of the run's batch size. Chunk j: conditions from task.batch(streamSeed(seed, j, PAIR_STREAM)),
// noise Philox(streamSeed(seed, j, PAIR_STREAM)) at offset 0. Both are functions of (seed, j), so the conditions are
// made again when a chunk is used rather than stored; only the noises and the teacher's samples are kept (host arrays).
import { streamSeed } from '../data/random';
import { mseLoss } from '../nn/ops/loss';
import { randn } from '../nn/ops/random';
import { type HostArray, parseSafetensors, serializeSafetensors } from '../nn/safetensors';
import type { Module } from '../nn/module';
import { fromArray, type Kept, type Tensor } from '../nn/tensor';
import type { DistillConfig } from './config';
import { type DistillTask, teacherEuler } from './task';

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
  ) {
    if (noise.length !== samples.length || noise.length === 0) throw new Error(`teacher pairs: ${noise.length} noise chunks for ${samples.length} sample chunks`);
  }

  get chunks(): number {
    return this.noise.length;
  }

  /** The seed of chunk j's conditions and noise. */
  chunkSeed(j: number): number {
    return streamSeed(this.seed, j, PAIR_STREAM);
  }

  /** Integrates the teacher from each chunk's noise; `onChunk` after each chunk (progress). */
  static async generate<Net extends Module, Condition extends Kept>(
    task: DistillTask<Net, Condition>,
    config: DistillConfig,
    seed: number,
    onChunk: (done: number, of: number) => void = () => {},
  ): Promise<TeacherPairs> {
    const { batch } = config;
    const chunks = regressionChunks(config);
    const guidance = pairGuidance(config);
    const engine = task.teacher.engine;
    const shape = [batch, ...task.sampleShape];
    const noise: Float32Array[] = [];
    const samples: Float32Array[] = [];
    for (let j = 0; j < chunks; j++) {
      const chunkSeed = streamSeed(seed, j, PAIR_STREAM);
      const z = randn(engine, shape, chunkSeed, 0);
      const x = teacherEuler(task, () => task.batch(chunkSeed, batch).condition, () => z, TEACHER_STEPS, guidance);
      noise.push(await z.read());
      samples.push(await x.read());
      z.dispose();
      x.dispose();
      onChunk(j + 1, chunks);
    }
    return new TeacherPairs(seed, batch, guidance, noise, samples);
  }

  /** The pairs as one array, every chunk's noise then every chunk's samples (the Distill tab's cache holds arrays). */
  pack(): Float32Array {
    const size = this.noise[0]!.length;
    const packed = new Float32Array(2 * this.chunks * size);
    [...this.noise, ...this.samples].forEach((chunk, i) => packed.set(chunk, i * size));
    return packed;
  }

  /** What pack() made, for `config` and `seed` (views into `packed`). */
  static unpack(packed: Float32Array, config: DistillConfig, seed: number): TeacherPairs {
    const chunks = regressionChunks(config);
    const size = packed.length / (2 * chunks);
    if (!Number.isInteger(size) || size % config.batch !== 0) throw new Error(`teacher pairs: ${packed.length} values are not ${chunks} chunks of noise and samples of batch ${config.batch}`);
    const chunk = (i: number) => packed.subarray(i * size, (i + 1) * size);
    const indices = Array.from({ length: chunks }, (_, j) => j);
    return new TeacherPairs(seed, config.batch, pairGuidance(config), indices.map(chunk), indices.map((j) => chunk(chunks + j)));
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
    return serializeSafetensors(tensors, { seed: String(this.seed), batch: String(this.batch), guidance: String(this.guidance), teacherSteps: String(TEACHER_STEPS), teacher });
  }

  /** Reads what serialize() wrote, refusing pairs made for other settings (another teacher, seed, batch, count or guidance). */
  static parse(bytes: Uint8Array, config: DistillConfig, seed: number, sampleShape: readonly number[], teacher: string): TeacherPairs {
    const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
    const { tensors, metadata } = parseSafetensors(bytes);
    const chunks = regressionChunks(config);
    const expected = { seed: String(seed), batch: String(config.batch), guidance: String(pairGuidance(config)), teacherSteps: String(TEACHER_STEPS), teacher };
    for (const [key, value] of Object.entries(expected)) {
      if (metadata[key] !== value) throw new Error(`the stored teacher pairs were made with ${key} ${metadata[key] ?? '(none)'}, this run needs ${value}: delete the file to make them again`);
    }
    const read = (name: string) => {
      const t = tensors[name];
      if (!t || t.data.length !== config.batch * sampleSize) throw new Error(`the stored teacher pairs lack ${name} (${chunks} chunks of ${config.batch} expected): delete the file to make them again`);
      return t.data;
    };
    const indices = Array.from({ length: chunks }, (_, j) => j);
    return new TeacherPairs(seed, config.batch, pairGuidance(config), indices.map((j) => read(`noise.${j}`)), indices.map((j) => read(`sample.${j}`)));
  }
}

/** Chunks of `batch` pairs that hold at least regressionPairs pairs. */
export function regressionChunks(config: DistillConfig): number {
  return Math.max(1, Math.ceil((config.regressionPairs ?? DEFAULT_REGRESSION_PAIRS) / config.batch));
}

/** The pairs' guidance: the middle of the real score's range (4 for Shapes' [3, 5], the teacher's bundled metric's). */
export const pairGuidance = (config: DistillConfig): number => (config.guidance[0] + config.guidance[1]) / 2;

export const DEFAULT_REGRESSION_PAIRS = 512;

/**
 * L_reg of chunk j: the student's 1-step sample from the chunk's noise against the teacher's samples, mean squared.
 * `oneStep` maps (noise, condition) to the generator's x0 at the first anchor, with gradient.
 */
export function regressionLoss<Net extends Module, Condition extends Kept>(
  task: DistillTask<Net, Condition>,
  pairs: TeacherPairs,
  j: number,
  oneStep: (z: Tensor, condition: Condition) => Tensor,
): Tensor {
  const engine = task.teacher.engine;
  const shape = [pairs.batch, ...task.sampleShape];
  const { condition } = task.batch(pairs.chunkSeed(j), pairs.batch);
  const z = fromArray(engine, shape, pairs.noise[j]!, 'f32', 'regression.noise');
  const target = fromArray(engine, shape, pairs.samples[j]!, 'f32', 'regression.target');
  return mseLoss(oneStep(z, condition), target);
}
