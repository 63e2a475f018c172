// The optional regression term (distill/regression.ts) on a small random toy teacher: the pairs are the teacher's
// guided Euler samples from their noise (checked against a host Euler loop), L_reg is the mean squared distance of
// the generator's 1-step sample from that noise to them, the term leaves the iteration's other draws alone, it
// pulls the 1-step sample toward the teacher's, and stored pairs made for other settings are refused. With
// regressionAnchors 'all': the trajectory's points at the later anchors (host Euler loop with part steps), the added
// pull at a later anchor, and their storage.
import { beforeAll, describe, expect, it } from 'vitest';
import { RING } from '../data/toy2d';
import { anchorSigmas, eulerSigmas } from '../flow/schedule';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { randnReference } from '../nn/ops/random';
import { serializeSafetensors } from '../nn/safetensors';
import { allclose, testEngine } from '../nn/testing';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import { type DistillConfig, distillConfig } from './config';
import { pairGuidance, regressionChunks, TEACHER_STEPS, TeacherPairs } from './regression';
import { SenseFlowDistiller } from './senseflow';
import { toyTask } from './toyTask';

let engine: Engine;
let teacher: Toy2DTeacher;
beforeAll(async () => {
  engine = await testEngine();
  teacher = new Toy2DTeacher(engine, { labels: RING.labels.length, hidden: 16, embeddingDim: 8 }, 3);
});

const config = (overrides: Partial<DistillConfig> = {}) => distillConfig('senseflow', { batch: 8, lr: 1e-2, guidance: [1, 3], fakeStepsPerGeneratorStep: 1, regressionWeight: 1, regressionPairs: 12, ...overrides });

async function read(f: () => Tensor): Promise<Float32Array> {
  const t = noGrad(engine, () => tidy(engine, f));
  const data = await t.read();
  t.dispose();
  return data;
}

describe('the regression term on teacher pairs', () => {
  it("pairs: whole chunks of the batch, each the teacher's guided 50-step Euler sample from the chunk's Philox noise", async () => {
    const c = config();
    const task = toyTask(teacher, RING);
    const pairs = await TeacherPairs.generate(task, c, 4);
    expect(regressionChunks(c)).toBe(2); // 12 pairs in batches of 8
    expect(pairs.chunks).toBe(2);
    expect(pairs.guidance).toBe(2); // the middle of [1, 3]
    const sigmas = eulerSigmas(TEACHER_STEPS);
    for (let j = 0; j < pairs.chunks; j++) {
      allclose(pairs.noise[j]!, randnReference(pairs.chunkSeed(j), 16), { atol: 1e-5, rtol: 1e-5 }, `chunk ${j} noise`);
      let x = Float32Array.from(pairs.noise[j]!);
      for (let k = 0; k < TEACHER_STEPS; k++) {
        const v = await read(() => task.guidedVelocity(fromArray(engine, [8, 2], x), fromArray(engine, [8], new Float32Array(8).fill(sigmas[k]!)), task.batch(pairs.chunkSeed(j), 8).condition, 2));
        x = x.map((value, i) => value + (sigmas[k + 1]! - sigmas[k]!) * v[i]!);
      }
      allclose(pairs.samples[j]!, x, { atol: 1e-4, rtol: 1e-4 }, `chunk ${j} teacher sample`);
    }
    expect(pairs.chunkSeed(0)).not.toBe(pairs.chunkSeed(1));
  });

  it("L_reg is the mean squared distance of the generator's 1-step sample from a pair's noise to the teacher's sample", async () => {
    const distiller = new SenseFlowDistiller(toyTask(teacher, RING), config(), 6);
    await distiller.step(); // the generator now differs from the teacher
    const pairs = await distiller.teacherPairs();
    const t = distiller.iteration;
    const j = distiller.draws(t).regressionChunk;
    const z = pairs.noise[j]!;
    const v = await read(() => distiller.task.velocity(distiller.generator, fromArray(engine, [8, 2], z), fromArray(engine, [8], new Float32Array(8).fill(1)), distiller.task.batch(pairs.chunkSeed(j), 8).condition));
    const expected = z.reduce((total, value, i) => total + (value - v[i]! - pairs.samples[j]![i]!) ** 2, 0) / z.length;
    const metrics = await distiller.step();
    expect(metrics.generatorStep).toBe(true);
    expect(metrics.regressionLoss).toBeCloseTo(expected, 5);
    distiller.dispose();
  });

  it("changes the generator's update and nothing else the iteration draws; without it no regression loss is reported", async () => {
    const withTerm = new SenseFlowDistiller(toyTask(teacher, RING), config(), 7);
    const without = new SenseFlowDistiller(toyTask(teacher, RING), config({ regressionWeight: undefined, regressionPairs: undefined }), 7);
    for (let t = 0; t < 20; t++) {
      const { regressionChunk: _a, ...a } = withTerm.draws(t);
      const { regressionChunk: _b, ...b } = without.draws(t);
      expect(a).toEqual(b);
    }
    const [m1, m2] = [await withTerm.step(), await without.step()];
    expect(Number.isFinite(m1.regressionLoss)).toBe(true);
    expect(m2.regressionLoss).toBeUndefined();
    expect(m1.dmdLoss).toBeCloseTo(m2.dmdLoss!, 6); // the same start, input and draws: only the added term differs
    const [w1, w2] = [await read(() => withTerm.generator.parameters()[0]!), await read(() => without.generator.parameters()[0]!)];
    expect(w1.some((value, i) => value !== w2[i])).toBe(true);
    withTerm.dispose();
    without.dispose();
  });

  it("pulls the 1-step sample toward the teacher's: L_reg falls over a short run with a large weight", async () => {
    const distiller = new SenseFlowDistiller(toyTask(teacher, RING), config({ regressionWeight: 20, regressionPairs: 8, isgWeight: 0 }), 8);
    const losses: number[] = [];
    for (let t = 0; t < 40; t++) losses.push((await distiller.step()).regressionLoss!);
    const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(meanOf(losses.slice(-5))).toBeLessThan(0.5 * meanOf(losses.slice(0, 5)));
    distiller.dispose();
  });

  it('stored pairs round-trip, and pairs made for another teacher, seed, batch or guidance are refused with a message', async () => {
    const c = config();
    const pairs = await TeacherPairs.generate(toyTask(teacher, RING), c, 4);
    const bytes = pairs.serialize([2], 'teacher-a');
    const back = TeacherPairs.parse(bytes, c, 4, [2], 'teacher-a');
    expect(back.noise).toEqual(pairs.noise);
    expect(back.samples).toEqual(pairs.samples);
    expect(back.guidance).toBe(pairGuidance(c));
    expect(() => TeacherPairs.parse(bytes, c, 5, [2], 'teacher-a')).toThrow('the stored teacher pairs were made with seed 4, this run needs 5: delete the file to make them again');
    expect(() => TeacherPairs.parse(bytes, config({ batch: 4 }), 4, [2], 'teacher-a')).toThrow('made with batch 8, this run needs 4');
    expect(() => TeacherPairs.parse(bytes, config({ guidance: [3, 5] }), 4, [2], 'teacher-a')).toThrow('made with guidance 2, this run needs 4');
    expect(() => TeacherPairs.parse(bytes, c, 4, [2], 'teacher-b')).toThrow('made with teacher teacher-a, this run needs teacher-b');
    // A run that moves the real score's range keeps its pairs by naming their guidance, and integrates with it.
    const moved = config({ guidance: [3, 5], regressionGuidance: 2 });
    expect(TeacherPairs.parse(bytes, moved, 4, [2], 'teacher-a').samples).toEqual(pairs.samples);
    expect((await TeacherPairs.generate(toyTask(teacher, RING), moved, 4)).samples).toEqual(pairs.samples);
    // As one array (the Distill tab's cache): every chunk's noise, then every chunk's samples.
    const packed = pairs.pack();
    expect(Array.from(packed.subarray(0, 16))).toEqual(Array.from(pairs.noise[0]!));
    expect(Array.from(packed.subarray(32, 48))).toEqual(Array.from(pairs.samples[0]!));
    const unpacked = TeacherPairs.unpack(packed, c, 4);
    expect(unpacked.noise).toEqual(pairs.noise);
    expect(unpacked.samples).toEqual(pairs.samples);
    expect(unpacked.guidance).toBe(pairGuidance(c));
    expect(() => TeacherPairs.unpack(packed.subarray(0, 40), c, 4)).toThrow('teacher pairs: 40 values are not 2 chunks of noise and samples of batch 8');
  });

  it('fewer stored chunks than the run needs are continued: the same pairs as integrating them all, with points too', async () => {
    for (const extra of [{}, { regressionAnchors: 'all' as const }]) {
      const small = config({ regressionPairs: 8, ...extra }); // 1 chunk
      const large = config({ regressionPairs: 24, ...extra }); // 3 chunks
      const task = toyTask(teacher, RING);
      const stored = TeacherPairs.parse((await TeacherPairs.generate(task, small, 4)).serialize([2], 'teacher-a'), large, 4, [2], 'teacher-a');
      expect(stored.chunks).toBe(1);
      const progress: number[] = [];
      const continued = await TeacherPairs.generate(task, large, 4, (done, _of, sofar) => progress.push(done * 10 + sofar().chunks), stored);
      expect(progress).toEqual([22, 33]); // chunk 0 was not integrated again; sofar holds every chunk done
      const whole = await TeacherPairs.generate(task, large, 4);
      expect(continued.noise).toEqual(whole.noise);
      expect(continued.samples).toEqual(whole.samples);
      expect(continued.points).toEqual(whole.points);
      // More chunks than needed: the first ones.
      expect(TeacherPairs.parse(whole.serialize([2], 'teacher-a'), small, 4, [2], 'teacher-a').samples).toEqual([whole.samples[0]]);
    }
    // Pairs with points, too few for a first-anchor run: continuing them would rewrite the file without its points.
    const withPoints = (await TeacherPairs.generate(toyTask(teacher, RING), config({ regressionPairs: 8, regressionAnchors: 'all' }), 4)).serialize([2], 'teacher-a');
    expect(() => TeacherPairs.parse(withPoints, config({ regressionPairs: 24 }), 4, [2], 'teacher-a')).toThrow(
      'the stored teacher pairs hold 1 of the 3 chunks this run needs, with trajectory points (at [0.9,0.75,0.5]) that a first-anchor run does not make: continuing them would drop the points',
    );
    expect(TeacherPairs.parse(withPoints, config({ regressionPairs: 8 }), 4, [2], 'teacher-a').points).toEqual([]); // enough chunks: read as before
    const c = config({ regressionPairs: 24 });
    const other = await TeacherPairs.generate(toyTask(teacher, RING), config({ regressionPairs: 8 }), 5);
    await expect(TeacherPairs.generate(toyTask(teacher, RING), c, 4, undefined, other)).rejects.toThrow('teacher pairs: the pairs to continue were made for seed 5');
    const empty = serializeSafetensors({}, { seed: '4', batch: '8', guidance: '2', teacherSteps: String(TEACHER_STEPS), teacher: 'teacher-a' });
    expect(() => TeacherPairs.parse(empty, c, 4, [2], 'teacher-a')).toThrow('the stored teacher pairs hold no whole chunk (noise.0 and sample.0): delete the file to make them again');
    const wrong = serializeSafetensors({ 'noise.0': { shape: [4, 2], data: new Float32Array(8) }, 'sample.0': { shape: [4, 2], data: new Float32Array(8) } }, { seed: '4', batch: '8', guidance: '2', teacherSteps: String(TEACHER_STEPS), teacher: 'teacher-a' });
    expect(() => TeacherPairs.parse(wrong, c, 4, [2], 'teacher-a')).toThrow('the stored teacher pairs have noise.0 of 8 values, not 16: delete the file to make them again');
  });

  it("with regressionAnchors 'all': the pairs keep the teacher's Euler path at the later anchors (off-grid ones by a part step)", async () => {
    const c = config({ regressionAnchors: 'all', regressionPairs: 8 });
    const task = toyTask(teacher, RING);
    const pairs = await TeacherPairs.generate(task, c, 4);
    const anchors = anchorSigmas(c.anchorSteps, c.shift);
    expect(pairs.pointSigmas).toEqual(anchors.slice(1));
    expect(anchors.slice(1).some((a) => Math.abs(a * TEACHER_STEPS - Math.round(a * TEACHER_STEPS)) > 1e-6)).toBe(true); // one lies between two grid levels
    const sigmas = eulerSigmas(TEACHER_STEPS);
    const expected: Float32Array[] = [];
    let x = Float32Array.from(pairs.noise[0]!);
    for (let k = 0; k < TEACHER_STEPS; k++) {
      const v = await read(() => task.guidedVelocity(fromArray(engine, [8, 2], x), fromArray(engine, [8], new Float32Array(8).fill(sigmas[k]!)), task.batch(pairs.chunkSeed(0), 8).condition, 2));
      for (const [a, s] of pairs.pointSigmas.entries()) if (s <= sigmas[k]! && s > sigmas[k + 1]!) expected[a] = x.map((value, i) => value + (s - sigmas[k]!) * v[i]!);
      x = x.map((value, i) => value + (sigmas[k + 1]! - sigmas[k]!) * v[i]!);
    }
    allclose(pairs.samples[0]!, x, { atol: 1e-4, rtol: 1e-4 }, 'teacher sample');
    pairs.pointSigmas.forEach((s, a) => allclose(pairs.points[a]![0]!, expected[a]!, { atol: 1e-4, rtol: 1e-4 }, `point at ${s}`));
    // The same noises and samples as first-anchor pairs of the seed: only the points are added.
    const plain = await TeacherPairs.generate(task, config({ regressionPairs: 8 }), 4);
    expect(plain.points).toEqual([]);
    expect(pairs.noise).toEqual(plain.noise);
    allclose(pairs.samples[0]!, plain.samples[0]!, { atol: 1e-6, rtol: 1e-6 }, 'the same teacher sample');
  });

  it("with regressionAnchors 'all', a step at a later anchor adds the pull of the generator's x0 from the trajectory point there", async () => {
    const c = config({ regressionAnchors: 'all', regressionPairs: 16 });
    const distiller = new SenseFlowDistiller(toyTask(teacher, RING), c, 6);
    await distiller.step();
    const pairs = await distiller.teacherPairs();
    let t = distiller.iteration;
    while (distiller.draws(t).anchorIndex === 0 || !distiller.draws(t).generatorStep) t++;
    while (distiller.iteration < t) await distiller.step();
    const { anchorIndex, regressionChunk: j } = distiller.draws(t);
    const condition = () => distiller.task.batch(pairs.chunkSeed(j), 8).condition;
    const sq = async (x: Float32Array, s: number) => {
      const v = await read(() => distiller.task.velocity(distiller.generator, fromArray(engine, [8, 2], x), fromArray(engine, [8], new Float32Array(8).fill(s)), condition()));
      return x.reduce((total, value, i) => total + (value - s * v[i]! - pairs.samples[j]![i]!) ** 2, 0) / x.length;
    };
    const { x: point, sigma } = pairs.inputAt(anchorIndex, j);
    expect(sigma).toBe(anchorSigmas(c.anchorSteps, c.shift)[anchorIndex]);
    const expected = (await sq(pairs.noise[j]!, 1)) + (await sq(point, sigma));
    const metrics = await distiller.step();
    expect(metrics.anchorIndex).toBe(anchorIndex);
    expect(metrics.regressionLoss).toBeCloseTo(expected, 5);
    distiller.dispose();
  });

  it('trajectory pairs round-trip (file and packed); first-anchor pairs are refused for an all-anchors run, not the reverse', async () => {
    const all = config({ regressionAnchors: 'all' });
    const pairs = await TeacherPairs.generate(toyTask(teacher, RING), all, 4);
    const bytes = pairs.serialize([2], 'teacher-a');
    const back = TeacherPairs.parse(bytes, all, 4, [2], 'teacher-a');
    expect(back.points).toEqual(pairs.points);
    expect(back.pointSigmas).toEqual(pairs.pointSigmas);
    const firstOnly = TeacherPairs.parse(bytes, config(), 4, [2], 'teacher-a');
    expect(firstOnly.points).toEqual([]);
    expect(firstOnly.samples).toEqual(pairs.samples);
    const plainBytes = (await TeacherPairs.generate(toyTask(teacher, RING), config(), 4)).serialize([2], 'teacher-a');
    expect(() => TeacherPairs.parse(plainBytes, all, 4, [2], 'teacher-a')).toThrow(
      `the stored teacher pairs have trajectory points at (none), this run (regressionAnchors all) needs them at ${JSON.stringify(pairs.pointSigmas)}: delete the file to make them again`,
    );
    const unpacked = TeacherPairs.unpack(pairs.pack(), all, 4);
    expect(unpacked.points).toEqual(pairs.points);
    expect(unpacked.noise).toEqual(pairs.noise);
    expect(() => TeacherPairs.unpack(pairs.pack().subarray(0, 64), all, 4)).toThrow('are not 2 chunks of noise and samples and trajectory points at 3 noise levels of batch 8');
    expect(() => firstOnly.inputAt(1, 0)).toThrow('no trajectory point at anchor 1 (the pairs were made for the first anchor only)');
  });

  it('checks its settings', () => {
    expect(() => config({ regressionAnchors: 'some' as 'all' })).toThrow('regressionAnchors must be "all" or absent (the first anchor only), got "some"');
    expect(() => config({ regressionWeight: -1 })).toThrow('regressionWeight must be >= 0 (0: off), got -1');
    expect(() => config({ regressionPairs: 0 })).toThrow('regressionPairs must be an integer >= 1, got 0');
    expect(() => config({ regressionGuidance: -1 })).toThrow('regressionGuidance must be a number >= 0, got -1');
  });
});
