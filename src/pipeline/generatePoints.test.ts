// The inference pipeline on a label-conditioned bundle of 2D points (models/toy2d/ring), on ORT's wasm provider in
// Node: the prompt names a label, an image is a scatter of N points from one seed, drawn as RGBA. Checked: labels
// (case, spaces, empty, unknown), reproducible seeds, batches equal to single runs, the same numbers as a plain
// host-side loop over the same ONNX file for Euler with guidance and for x0-renoise at anchors (the Distill tab's
// students), points on the label's modes, and the scatter image itself.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ortModule from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toRGBA } from '../data/render';
import { labelOf, MIXTURES, modeOf } from '../data/toy2d';
import { cfgCombine, eulerStep, noiseTo, x0FromVelocity } from '../flow/samplers';
import type { Ort } from '../onnx/exportOrt';
import { type LoadedBundle, loadBundle } from './bundle';
import { directorySource } from './bundleWrite';
import { type GenerateResult, Pipeline } from './generate';
import { DEFAULT_POINT_COUNT, labelIndex } from './generatePoints';
import { NoiseStream } from './noise';
import { POINTS_IMAGE_SIZE, rasterizePoints } from './pointsImage';

const ort = ortModule as unknown as Ort;
const RING_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'toy2d', 'ring');
const RING = MIXTURES.ring;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Fraction of points [n, 2] within 3 sd of one of the label's modes. */
function onLabelModes(points: Float32Array, label: string): number {
  const modes = new Set(labelOf(RING, label).modes);
  let on = 0;
  for (let i = 0; i < points.length; i += 2) if (modes.has(modeOf(RING, points[i]!, points[i + 1]!))) on++;
  return on / (points.length / 2);
}

describe('labels', () => {
  const manifest = { name: 'toy2d-ring', labels: ['any', 'east-west', 'north-south'] };
  it('matches a prompt to a label trimmed and case-insensitively; empty is label 0', () => {
    expect(labelIndex(manifest, 'north-south')).toBe(2);
    expect(labelIndex(manifest, '  East-West ')).toBe(1);
    expect(labelIndex(manifest, '')).toBe(0);
    expect(labelIndex(manifest, '   ')).toBe(0);
  });

  it('refuses an unknown label, naming the labels there are', () => {
    expect(() => labelIndex(manifest, ' a red circle ')).toThrow(
      'toy2d-ring has no label "a red circle": it draws points for a label, so type one of "any", "east-west", "north-south" as the prompt (empty means "any").',
    );
  });
});

describe('the scatter image', () => {
  it('is the [-3, 3] view with y up: a dark background, lines at the integers, a bright dot where a point is', () => {
    const size = POINTS_IMAGE_SIZE;
    const blank = rasterizePoints(new Float32Array(0), 2);
    const dot = rasterizePoints(Float32Array.of(1.5, 1.5), 2);
    const pixel = (rgba: Uint8ClampedArray, column: number, row: number) => Array.from(rgba.slice((row * size + column) * 4, (row * size + column) * 4 + 4));
    expect(blank.length).toBe(size * size * 4);
    expect(pixel(blank, 20, 20)).toEqual([13, 15, 20, 255]); // background
    expect(pixel(blank, 20, 128)[0]).toBeGreaterThan(60); // the x axis (y = 0) crosses the middle row
    // (1.5, 1.5) is right of and above the centre: column (1.5 + 3) / 6 * 256 = 192, row (3 - 1.5) / 6 * 256 = 64.
    expect(pixel(dot, 192, 64)[2]).toBeGreaterThan(150);
    expect(pixel(dot, 64, 192)).toEqual(pixel(blank, 64, 192));
    let changed = 0;
    for (let i = 0; i < blank.length; i++) if (blank[i] !== dot[i]) changed++;
    expect(changed).toBeLessThanOrEqual(9 * 3); // one 3x3 splat
  });

  it('brightens with density and leaves out what is outside the view', () => {
    const one = rasterizePoints(Float32Array.of(0.5, 0.5), 2);
    const many = rasterizePoints(new Float32Array(40).fill(0.5), 2);
    const centre = (106 * POINTS_IMAGE_SIZE + 149) * 4; // (0.5, 0.5): row (3 - 0.5) / 6 * 256, column (0.5 + 3) / 6 * 256
    expect(many[centre]!).toBeGreaterThan(one[centre]! + 50);
    expect(rasterizePoints(Float32Array.of(5, 0, Number.NaN, 1), 2)).toEqual(rasterizePoints(new Float32Array(0), 2));
  });
});

describe.skipIf(!existsSync(join(RING_DIR, 'manifest.json')))('the pipeline on models/toy2d/ring (wasm)', () => {
  let bundle: LoadedBundle;
  let pipeline: Pipeline;
  /** 'east-west' from seed 3 with the manifest's defaults (50 Euler steps, guidance 1), 1,000 points. */
  let reference: GenerateResult;
  beforeAll(async () => {
    ort.env.wasm.numThreads = 1;
    bundle = await loadBundle(directorySource(RING_DIR));
    pipeline = await Pipeline.create(ort, bundle, { provider: 'wasm' });
    reference = await pipeline.generate({ prompt: ' East-West', seed: 3 });
  });
  afterAll(() => pipeline?.release());

  it('says what it ran: the label as the manifest spells it, the defaults, a scatter image with its points', () => {
    const { manifest } = bundle;
    expect(pipeline.drawsPoints).toBe(true);
    expect(reference.settings).toEqual({
      prompt: 'east-west',
      seed: 3,
      steps: manifest.steps.default,
      sampler: 'euler',
      guidance: manifest.guidance.default,
      batch: 1,
      levels: manifest.steps.sigmas[String(manifest.steps.default)],
      points: DEFAULT_POINT_COUNT,
    });
    const [image] = reference.images;
    expect(image).toMatchObject({ seed: 3, width: POINTS_IMAGE_SIZE, height: POINTS_IMAGE_SIZE, channels: 3, previews: [] });
    expect(image!.points!.length).toBe(2 * DEFAULT_POINT_COUNT);
    expect(image!.rgba).toEqual(rasterizePoints(image!.points!, 2));
    expect(image!.rgba).toEqual(toRGBA(image!.chw, 3, POINTS_IMAGE_SIZE, POINTS_IMAGE_SIZE));
    expect(reference.timings.stepMs.length).toBe(manifest.steps.default);
    console.info(`1,000 points, 50 Euler steps on wasm: ${Math.round(reference.timings.totalMs)} ms`);
  });

  it('puts the points on the modes of the label (50 Euler steps at the manifest guidance)', () => {
    const fraction = onLabelModes(reference.images[0]!.points!, 'east-west');
    console.info(`east-west, seed 3: ${(100 * fraction).toFixed(1)}% of 1,000 points within 3 sd of an east-west mode`);
    expect(fraction).toBeGreaterThan(0.8);
    // Both modes of the label (east and west), not one.
    const points = reference.images[0]!.points!;
    let east = 0;
    for (let i = 0; i < points.length; i += 2) if (points[i]! > 0) east++;
    expect(east / DEFAULT_POINT_COUNT).toBeGreaterThan(0.3);
    expect(east / DEFAULT_POINT_COUNT).toBeLessThan(0.7);
  });

  it('gives identical points and image for the same seed, other points for another seed', async () => {
    const again = await pipeline.generate({ prompt: 'east-west', seed: 3 });
    expect(maxAbsDiff(again.images[0]!.points!, reference.images[0]!.points!)).toBe(0);
    expect(again.images[0]!.rgba).toEqual(reference.images[0]!.rgba);
    const other = await pipeline.generate({ prompt: 'east-west', seed: 4 });
    expect(maxAbsDiff(other.images[0]!.points!, reference.images[0]!.points!)).toBeGreaterThan(0.1);
  });

  it('makes a batch of N scatters from seeds seed .. seed + N - 1, equal to N single runs', async () => {
    const batch = await pipeline.generate({ prompt: 'north-south', seed: 8, steps: 6, batch: 2, points: 50 });
    expect(batch.images.map((i) => i.seed)).toEqual([8, 9]);
    expect(batch.timings.denoiserMs.length).toBe(6); // one denoiser call per step for the batch
    for (let b = 0; b < 2; b++) {
      const single = await pipeline.generate({ prompt: 'north-south', seed: 8 + b, steps: 6, points: 50 });
      expect(maxAbsDiff(batch.images[b]!.points!, single.images[0]!.points!), `image ${b}`).toBeLessThan(1e-5);
    }
  });

  it('batches different labels and seeds (generateEach), each scatter the one its label and seed give alone', async () => {
    const items = [
      { prompt: 'North-South', seed: 3 },
      { prompt: 'east-west', seed: 90 },
    ];
    const batch = await pipeline.generateEach(items, { steps: 4, points: 30 });
    expect(batch.images.map(({ prompt, seed }) => ({ prompt, seed }))).toEqual([{ prompt: 'north-south', seed: 3 }, { prompt: 'east-west', seed: 90 }]);
    for (const [i, item] of items.entries()) {
      const single = await pipeline.generate({ ...item, steps: 4, points: 30 });
      expect(maxAbsDiff(batch.images[i]!.points!, single.images[0]!.points!), `image ${i}`).toBeLessThan(1e-5);
    }
    await expect(pipeline.generateEach([{ prompt: 'any', seed: 1 }, { prompt: 'up-down', seed: 2 }])).rejects.toThrow('image 1: toy2d-ring has no label "up-down"');
  });

  it('computes what a host-side Euler loop with guidance (label 0 as the null row) computes over the same ONNX file', async () => {
    const [count, steps, guidance, seed] = [40, 5, 3, 21];
    const result = await pipeline.generate({ prompt: 'northeast-southwest', seed, steps, guidance, points: count });
    const denoiser = await ort.InferenceSession.create(bundle.files.get('denoiser.onnx')!, { executionProviders: ['wasm'] });
    try {
      const levels = [...result.settings.levels, 0];
      const label = labelIndex(bundle.manifest, 'northeast-southwest');
      let x = new NoiseStream(seed).next(2 * count);
      for (let i = 0; i < steps; i++) {
        const s = levels[i]!;
        const out = await denoiser.run({
          sample: new ort.Tensor('float32', Float32Array.of(...x, ...x), [2 * count, 2]),
          sigma: new ort.Tensor('float32', new Float32Array(2 * count).fill(s), [2 * count]),
          label: new ort.Tensor('int64', BigInt64Array.from({ length: 2 * count }, (_, r) => BigInt(r < count ? label : 0)), [2 * count]),
        });
        const v2 = out.velocity!.data as Float32Array;
        x = eulerStep(x, cfgCombine(v2.slice(2 * count), v2.slice(0, 2 * count), guidance), s, levels[i + 1]!);
      }
      expect(maxAbsDiff(result.images[0]!.points!, x)).toBeLessThan(1e-4);
    } finally {
      await denoiser.release();
    }
  });

  describe('as a few-step student (anchors, x0-renoise)', () => {
    // The teacher under a student's manifest: what a 2D student the Distill tab exports looks like to the pipeline.
    let student: Pipeline;
    beforeAll(async () => {
      const manifest = { ...bundle.manifest, name: 'toy2d-ring-anchors', steps: { default: 4, schedule: 'anchors' as const, sigmas: { '1': [1], '2': [1, 0.75], '4': [1, 0.9, 0.75, 0.5] } } };
      student = await Pipeline.create(ort, { manifest, files: bundle.files }, { provider: 'wasm' });
    });
    afterAll(() => student?.release());

    it('runs x0-renoise at the anchors with the seed stream fresh noise, as a host-side loop does', async () => {
      const [count, seed] = [30, 5];
      const result = await student.generate({ prompt: 'any', seed, points: count });
      expect(result.settings).toMatchObject({ steps: 4, sampler: 'x0', levels: [1, 0.9, 0.75, 0.5], points: count });
      const denoiser = await ort.InferenceSession.create(bundle.files.get('denoiser.onnx')!, { executionProviders: ['wasm'] });
      try {
        const stream = new NoiseStream(seed);
        const anchors = [1, 0.9, 0.75, 0.5];
        let x = stream.next(2 * count);
        let x0 = x;
        for (let i = 0; i < anchors.length; i++) {
          const s = anchors[i]!;
          const out = await denoiser.run({
            sample: new ort.Tensor('float32', x, [count, 2]),
            sigma: new ort.Tensor('float32', new Float32Array(count).fill(s), [count]),
            label: new ort.Tensor('int64', new BigInt64Array(count), [count]),
          });
          x0 = x0FromVelocity(x, out.velocity!.data as Float32Array, s);
          if (i + 1 < anchors.length) x = noiseTo(x0, stream.next(2 * count), anchors[i + 1]!);
        }
        expect(maxAbsDiff(result.images[0]!.points!, x0)).toBeLessThan(1e-4);
      } finally {
        await denoiser.release();
      }
      await expect(student.generate({ prompt: 'any', seed, steps: 3 })).rejects.toThrow('toy2d-ring-anchors is a few-step model: it runs at 1, 2, 4 steps, not 3');
    });
  });

  it('refuses an unknown label before running, naming the labels', async () => {
    await expect(pipeline.generate({ prompt: 'a red circle', seed: 1 })).rejects.toThrow(
      'toy2d-ring has no label "a red circle": it draws points for a label, so type one of "any", "east-west", "northeast-southwest", "north-south", "northwest-southeast" as the prompt (empty means "any").',
    );
    await expect(pipeline.generate({ prompt: 'any', seed: 1, points: 0 })).rejects.toThrow('points must be an integer from 1 to 10000, got 0');
  });

  it('warms up, and an empty prompt is the unconditional label', async () => {
    await expect(pipeline.warmUp()).resolves.toBeUndefined();
    const empty = await pipeline.generate({ prompt: '', seed: 2, steps: 3, points: 20 });
    const any = await pipeline.generate({ prompt: 'ANY', seed: 2, steps: 3, points: 20 });
    expect(empty.settings.prompt).toBe('any');
    expect(maxAbsDiff(empty.images[0]!.points!, any.images[0]!.points!)).toBe(0);
  });
});
