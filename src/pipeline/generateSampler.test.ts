// The sampler paths of the inference pipeline against fake denoisers with known answers, through the real step
// graphs on ORT's wasm provider: flow Euler (with and without guidance), flow x0-renoise, and both epsilon paths;
// the plans' numbers; the seeded noise; LatestWins. No model files, no GPU.
import * as ortModule from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { cfgCombine, eulerStep, sampleEuler, sampleX0Renoise, x0FromVelocity } from '../flow/samplers';
import { anchorSigmas, eulerSigmas } from '../flow/schedule';
import { randn } from '../nn/host';
import type { Ort } from '../onnx/exportOrt';
import { LatestWins } from './generateLatest';
import { alphaBar, levelsFor, planSampler, type SamplerName, trailingTimesteps } from './generatePlan';
import { type DenoiseCall, runSampler, type SamplerOutput } from './generateSampler';
import { HostSteps, StepGraphs } from './generateStepGraph';
import { gaussianNoise, imageSeed, NoiseStream } from './noise';

const ort = ortModule as unknown as Ort;
let stepGraphs: StepGraphs;
beforeAll(() => {
  ort.env.wasm.numThreads = 1;
  stepGraphs = new StepGraphs(ort, { executionProviders: ['wasm'] });
});

const SHAPE = [3, 4, 5] as const; // not square, not a multiple of anything
const SIZE = 3 * 4 * 5;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** A distinct target image per (image, text|null). */
function target(image: number, text: boolean): Float32Array {
  return Float32Array.from({ length: SIZE }, (_, i) => Math.sin(0.7 * i + 1.3 * image + (text ? 0 : 2.1)) * 0.8);
}

/**
 * A denoiser that knows the answer: row r of the batch (image r % N, text rows first) is predicted so that its x0
 * estimate is exactly that row's target. Records what it was given.
 */
function exactFake(kind: 'flow' | 'epsilon', batch: number, seen: Float32Array[]): DenoiseCall {
  return async (x, level) => {
    const data = x.data as Float32Array;
    seen.push(data.slice());
    const out = new Float32Array(data.length);
    for (let r = 0; r < data.length / SIZE; r++) {
      const t = target(r % batch, r < batch);
      for (let i = 0; i < SIZE; i++) {
        const xi = data[r * SIZE + i]!;
        if (kind === 'flow') out[r * SIZE + i] = (xi - t[i]!) / level; // v = (x - x0) / s
        else out[r * SIZE + i] = (xi - Math.sqrt(alphaBar(level)) * t[i]!) / Math.sqrt(1 - alphaBar(level));
      }
    }
    return new ort.Tensor('float32', out, x.dims);
  };
}

/** A denoiser with no answer in mind (an affine map of x that depends on the level), for comparing trajectories. */
function affineFake(x: Float32Array, level: number): Float32Array {
  return x.map((v, i) => 0.6 * v + 0.2 * Math.cos((i % SIZE) + 3 * level)); // the same map for every image of a batch
}
const affineCall: DenoiseCall = async (x, level) => new ort.Tensor('float32', affineFake(x.data as Float32Array, level), x.dims);

async function sample(kind: 'flow' | 'epsilon', sampler: SamplerName, levels: number[], denoise: DenoiseCall, options: { guidance?: number; batch?: number; seed?: number } = {}) {
  const guidance = options.guidance ?? 1;
  const out = await runSampler({
    ort,
    stepGraphs,
    plan: planSampler(kind, sampler, levels),
    guidance,
    guided: guidance !== 1,
    shape: SHAPE,
    seeds: Array.from({ length: options.batch ?? 1 }, (_, b) => imageSeed(options.seed ?? 5, b)),
    denoise,
    previews: true,
  });
  const x0 = (await out.x0.getData()) as Float32Array;
  out.x0.dispose();
  return { ...out, image: x0 } as SamplerOutput & { image: Float32Array };
}

describe('the sampler plans', () => {
  it('take the manifest levels, a teacher grid, or refuse an unlisted step count of a few-step model', () => {
    const teacher = { name: 'teacher', kind: 'flow' as const, shift: 1, steps: { default: 50, schedule: 'euler-grid' as const, sigmas: { '2': [1, 0.4] } } };
    expect(levelsFor(teacher, 2)).toEqual([1, 0.4]);
    expect(levelsFor(teacher, 4)).toEqual(eulerSigmas(4).slice(0, -1));
    const student = { name: 'student', kind: 'flow' as const, shift: 3, steps: { default: 4, schedule: 'anchors' as const, sigmas: { '1': [1], '4': anchorSigmas(4) } } };
    expect(levelsFor(student, 4)).toEqual(anchorSigmas(4));
    expect(() => levelsFor(student, 3)).toThrow('student is a few-step model: it runs at 1, 4 steps, not 3');
    expect(() => levelsFor(student, 0)).toThrow('steps must be an integer >= 1');
    expect(levelsFor({ ...teacher, kind: 'epsilon', steps: { ...teacher.steps, sigmas: {} } }, 4)).toEqual([999, 749, 499, 249]);
  });

  it("use SD's scaled-linear schedule and trailing timesteps for epsilon models", () => {
    expect(trailingTimesteps(1)).toEqual([999]);
    expect(trailingTimesteps(4)).toEqual([999, 749, 499, 249]);
    expect(alphaBar(0)).toBeCloseTo(1 - 0.00085, 10);
    expect(alphaBar(999)).toBeCloseTo(0.0047, 4); // diffusers' alphas_cumprod[-1] for SD 1.x/2.x
    expect(alphaBar(10.5)).toBeCloseTo((alphaBar(10) + alphaBar(11)) / 2, 12);
    const plan = planSampler('epsilon', 'x0', [999, 499]);
    expect(plan.startScale).toBeCloseTo(Math.sqrt(1 - alphaBar(999)), 12);
    expect(plan.steps[1]).toMatchObject({ level: 499, f: 0 }); // the last step is x0 itself
  });
});

describe('the seeded noise', () => {
  it('is nn/host randn for the same seed, one stream per image, and continues for the fresh noise', () => {
    expect(maxAbsDiff(gaussianNoise(42, 100), Float32Array.from(randn([100], 42).data))).toBe(0);
    const stream = new NoiseStream(42);
    const first = stream.next(30);
    const second = stream.next(70);
    expect(maxAbsDiff([...first, ...second], gaussianNoise(42, 100))).toBe(0);
    expect(imageSeed(0xffffffff, 2)).toBe(1);
    expect(() => new NoiseStream(-1)).toThrow('a seed is an integer in [0, 2^32)');
    expect(() => new NoiseStream(1.5)).toThrow();
  });
});

describe('the sampler paths against fake denoisers', () => {
  it('flow Euler with guidance lands on the guided target, through the states the closed form gives', async () => {
    const seen: Float32Array[] = [];
    const levels = eulerSigmas(5).slice(0, -1);
    const w = 3;
    const out = await sample('flow', 'euler', levels, exactFake('flow', 2, seen), { guidance: w, batch: 2, seed: 9 });
    const eps = [gaussianNoise(9, SIZE), gaussianNoise(10, SIZE)];
    for (let b = 0; b < 2; b++) {
      // v_guided = (x - T) / s with T = T_null + w (T_text - T_null), so every x0 estimate is T and x_s = (1 - s) T + s eps.
      const guided = cfgCombine(target(b, false), target(b, true), w);
      expect(maxAbsDiff(out.image.subarray(b * SIZE, (b + 1) * SIZE), guided)).toBeLessThan(2e-5);
      out.previews.forEach((step) => expect(maxAbsDiff(step[b]!, guided)).toBeLessThan(2e-5));
      levels.forEach((s, i) => {
        const expected = guided.map((t, j) => (1 - s) * t + s * eps[b]![j]!);
        expect(maxAbsDiff(seen[i]!.subarray(b * SIZE, (b + 1) * SIZE), expected), `step ${i}, image ${b}, text row`).toBeLessThan(2e-5);
        expect(maxAbsDiff(seen[i]!.subarray((2 + b) * SIZE, (3 + b) * SIZE), expected), `step ${i}, image ${b}, null row`).toBeLessThan(2e-5);
      });
    }
    expect(seen.map((x) => x.length)).toEqual(levels.map(() => 4 * SIZE)); // one call per step for the whole batch
  });

  it('flow Euler follows flow/samplers sampleEuler for any denoiser', async () => {
    const levels = eulerSigmas(6, 3).slice(0, -1);
    const out = await sample('flow', 'euler', levels, affineCall, { seed: 77 });
    const previews: Float32Array[] = [];
    const expected = await sampleEuler(
      (x, s) => {
        const v = affineFake(x, s);
        previews.push(x0FromVelocity(x, v, s));
        return v;
      },
      gaussianNoise(77, SIZE),
      [...levels, 0],
    );
    expect(maxAbsDiff(out.image, expected)).toBeLessThan(1e-5);
    previews.forEach((p, i) => expect(maxAbsDiff(out.previews[i]![0]!, p)).toBeLessThan(1e-5));
  });

  it('flow x0-renoise follows flow/samplers sampleX0Renoise, fresh noise from the image seed stream', async () => {
    const anchors = anchorSigmas(4);
    const out = await sample('flow', 'x0', anchors, affineCall, { seed: 123, batch: 2 });
    for (let b = 0; b < 2; b++) {
      const stream = new NoiseStream(123 + b);
      const start = stream.next(SIZE);
      const expected = await sampleX0Renoise((x, s) => affineFake(x, s), start, anchors, () => stream.next(SIZE));
      expect(maxAbsDiff(out.image.subarray(b * SIZE, (b + 1) * SIZE), expected), `image ${b}`).toBeLessThan(1e-5);
    }
    // An exact denoiser: the renoised states are (1 - s) T + s eps_fresh, the result T.
    const seen: Float32Array[] = [];
    const exact = await sample('flow', 'x0', anchors, exactFake('flow', 1, seen), { seed: 4 });
    expect(maxAbsDiff(exact.image, target(0, true))).toBeLessThan(2e-5);
    const stream = new NoiseStream(4);
    stream.next(SIZE);
    anchors.slice(1).forEach((s, i) => {
      const fresh = stream.next(SIZE);
      expect(maxAbsDiff(seen[i + 1]!, target(0, true).map((t, j) => (1 - s) * t + s * fresh[j]!))).toBeLessThan(2e-5);
    });
  });

  it('one-step x0 is x - s v at s = 1', async () => {
    const out = await sample('flow', 'x0', [1], affineCall, { seed: 8 });
    const eps = gaussianNoise(8, SIZE);
    expect(maxAbsDiff(out.image, x0FromVelocity(eps, affineFake(eps, 1), 1))).toBeLessThan(1e-6);
  });

  for (const sampler of ['euler', 'x0'] as const) {
    it(`epsilon ${sampler}: an exact noise prediction recovers the (guided) target`, async () => {
      const seen: Float32Array[] = [];
      const out = await sample('epsilon', sampler, [999, 749, 499, 249], exactFake('epsilon', 2, seen), { guidance: 2.5, batch: 2, seed: 31 });
      for (let b = 0; b < 2; b++) {
        const guided = cfgCombine(target(b, false), target(b, true), 2.5);
        expect(maxAbsDiff(out.image.subarray(b * SIZE, (b + 1) * SIZE), guided)).toBeLessThan(1e-4);
      }
      // The start is the seed's noise at the first timestep's level: sqrt(1 - ab_999) eps.
      const eps = gaussianNoise(31, SIZE);
      expect(maxAbsDiff(seen[0]!.subarray(0, SIZE), eps.map((e) => Math.sqrt(1 - alphaBar(999)) * e))).toBeLessThan(1e-6);
    });
  }

  it('epsilon Euler is DDIM (eta 0) for any denoiser', async () => {
    const timesteps = [999, 666, 333];
    const out = await sample('epsilon', 'euler', timesteps, affineCall, { seed: 2 });
    let x = Float64Array.from(gaussianNoise(2, SIZE), (e) => Math.sqrt(1 - alphaBar(999)) * e);
    timesteps.forEach((t, i) => {
      const ab = alphaBar(t);
      const abNext = i + 1 < timesteps.length ? alphaBar(timesteps[i + 1]!) : 1;
      const e = affineFake(Float32Array.from(x), t);
      const x0 = x.map((v, j) => (v - Math.sqrt(1 - ab) * e[j]!) / Math.sqrt(ab));
      expect(maxAbsDiff(out.previews[i]![0]!, x0), `x0 of step ${i}`).toBeLessThan(2e-5 * (1 / Math.sqrt(ab)));
      x = x0.map((v, j) => Math.sqrt(abNext) * v + Math.sqrt(1 - abNext) * e[j]!);
    });
    expect(maxAbsDiff(out.image, x)).toBeLessThan(1e-4);
  });

  it('guidance 1 and an unguided batch give the same image as the conditional model alone', async () => {
    // Not guided: one row per image; the step graph's guided form at w = 1 is the text prediction.
    const single = await sample('flow', 'euler', [1, 0.5], affineCall, { seed: 3 });
    const manual = eulerStep(gaussianNoise(3, SIZE), affineFake(gaussianNoise(3, SIZE), 1), 1, 0.5);
    const expected = x0FromVelocity(manual, affineFake(manual, 0.5), 0.5);
    expect(maxAbsDiff(single.image, expected)).toBeLessThan(1e-5);
  });
});

describe('the sampler update on the host', () => {
  it('gives exactly the step graph numbers for every variant (guided, renoise), coefficients of any sign', async () => {
    const host = new HostSteps(ort);
    const k = { level: 0.6, a: 0.37, b: -1.3, c: 1.0000001, d: -0.21, f: 0.45 };
    for (const guided of [false, true]) {
      for (const renoise of [false, true]) {
        const images = 3;
        const rows = guided ? 2 * images : images;
        const fill = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed) * (1 + (i % 7)));
        const x = new ort.Tensor('float32', fill(rows * SIZE, 1), [rows, ...SHAPE]);
        const prediction = new ort.Tensor('float32', fill(rows * SIZE, 2), [rows, ...SHAPE]);
        const noise = renoise ? new ort.Tensor('float32', fill(images * SIZE, 3), [images, ...SHAPE]) : undefined;
        const graph = await stepGraphs.run({ guided, renoise }, x, prediction, 4.3, k, noise);
        const onHost = await host.run({ guided, renoise }, x, prediction, 4.3, k, noise);
        for (const name of ['next', 'x0'] as const) {
          expect(onHost[name].dims, `${name}, guided ${guided}, renoise ${renoise}`).toEqual(graph[name].dims);
          expect(Array.from(onHost[name].data as Float32Array), `${name}, guided ${guided}, renoise ${renoise}`).toEqual(Array.from(graph[name].data as Float32Array));
        }
      }
    }
  });

  it('refuses GPU tensors and a renoise step without noise', async () => {
    const host = new HostSteps(ort);
    const x = new ort.Tensor('float32', new Float32Array(SIZE), [1, ...SHAPE]);
    const k = { level: 1, a: 1, b: -1, c: 0, d: 0, f: 0 };
    await expect(host.run({ guided: false, renoise: true }, x, x, 1, k)).rejects.toThrow('a renoise step needs its fresh noise');
    const onGpu = { ...x, location: 'gpu-buffer' } as unknown as typeof x;
    await expect(host.run({ guided: false, renoise: false }, onGpu, x, 1, k)).rejects.toThrow('HostSteps needs host tensors, got x on gpu-buffer');
  });
});

describe('LatestWins', () => {
  const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** A task that takes `ms` unless aborted, checking its signal between ticks like the pipeline between steps. */
  const task = (value: string, ms: number, log: string[]) => async (signal: AbortSignal) => {
    log.push(`start ${value}`);
    for (let t = 0; t < ms; t += 5) {
      if (signal.aborted) {
        log.push(`stop ${value}`);
        throw new DOMException('aborted', 'AbortError');
      }
      await later(5);
    }
    log.push(`done ${value}`);
    return value;
  };

  it('aborts the running request, skips the waiting one, and runs the latest after the running one stopped', async () => {
    const latest = new LatestWins<string>();
    const log: string[] = [];
    const a = latest.run(task('a', 200, log));
    await later(20);
    const b = latest.run(task('b', 50, log));
    const c = latest.run(task('c', 30, log));
    expect(latest.busy).toBe(true);
    await expect(a).rejects.toMatchObject({ name: 'AbortError' });
    await expect(b).rejects.toMatchObject({ name: 'AbortError' });
    await expect(c).resolves.toBe('c');
    expect(log).toEqual(['start a', 'stop a', 'start c', 'done c']);
    await later(0);
    expect(latest.busy).toBe(false);
    latest.cancel(); // nothing running: no effect
    await expect(latest.run(task('d', 10, log))).resolves.toBe('d');
  });

  it('cancel() aborts the running request', async () => {
    const latest = new LatestWins<string>();
    const log: string[] = [];
    const a = latest.run(task('a', 500, log));
    await later(10);
    latest.cancel();
    await expect(a).rejects.toMatchObject({ name: 'AbortError' });
  });
});
