// `npm run eval`: flags and caption files refused by name, the teacher cache's key, and two tiny evaluations of the
// bundled teacher (4 captions, a few steps, 16 real renders) through main(): a well-formed results.json, then the
// teacher against its own cached reference at identical settings, where FD-T must be ~0 (the second evaluation reads
// the caches the first wrote: the two run in order, as vitest runs a file's tests).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeBatch } from '../data/dataset';
import { EVAL_NOISE_SEED, TEACHER_CAPTIONS_SEED } from '../eval/seeds';
import { adapterKindFromEnv } from '../gpu/node';
import { commandLine, evalSeeds, main } from './eval';
import { median, summarizeTimings } from './evalGenerate';
import { DEFAULT_EVAL_COUNT, loadEvalCaptions, parseCaptionLines, parseEvalOptions } from './evalOptions';
import { readTeacherCache, type TeacherCacheKey, type TeacherReference, writeTeacherCache } from './evalTeacher';
import { UsageError } from './options';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TEACHER_DIR = join(ROOT, 'models', 'shapes-teacher');
const EVALUATOR_DIR = join(ROOT, 'models', 'evaluator');
const BASE = ['--model', 'models/student', '--steps', '2', '--out', 'r.json'];

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'senseflow-eval-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('eval options', () => {
  it('fills in defaults and reads every flag', () => {
    expect(parseEvalOptions(BASE)).toEqual({
      model: 'models/student',
      steps: 2,
      out: 'r.json',
      count: DEFAULT_EVAL_COUNT,
      batch: 1,
      teacher: 'models/shapes-teacher',
      teacherSteps: 50,
      cacheDir: 'runs/eval-cache',
      evaluator: 'models/evaluator',
      realCount: 2000,
      adapter: 'llvmpipe',
      argv: BASE,
    });
    const full = parseEvalOptions([
      ...BASE,
      ...['--sampler', 'x0', '--guidance', '1', '--batch', '1', '--captions', 'c.txt', '--teacher', 't', '--teacher-steps', '8'],
      ...['--teacher-cache', 'c/t.json', '--cache-dir', 'c', '--evaluator', 'e', '--real-count', '100', '--adapter', 'swiftshader'],
    ]);
    expect(full).toMatchObject({ sampler: 'x0', guidance: 1, batch: 1, captionsFile: 'c.txt', teacher: 't', teacherSteps: 8, teacherCache: 'c/t.json', cacheDir: 'c', evaluator: 'e', realCount: 100, adapter: 'swiftshader' });
    expect(parseEvalOptions([...BASE, '--count', '4']).count).toBe(4);
  });

  it('refuses a missing, malformed or contradictory flag, naming it', () => {
    const refused = (argv: string[], message: string | RegExp) => {
      expect(() => parseEvalOptions(argv)).toThrow(UsageError);
      expect(() => parseEvalOptions(argv)).toThrow(message);
    };
    refused(['--steps', '2', '--out', 'r.json'], '--model is required');
    refused(['--model', 'm', '--out', 'r.json'], '--steps is required');
    refused(['--model', 'm', '--steps', '2'], '--out is required');
    refused(['--model', 'm', '--steps', '2', '--out', 'r.txt'], '--out must name a .json file, got "r.txt"');
    refused([...BASE, '--steps', 'two'], '--steps must be an integer from 1 to 1000, got "two"');
    refused([...BASE, '--count', '1'], '--count must be an integer from 2 up, got "1"');
    refused([...BASE, '--count', '4', '--captions', 'c.txt'], '--captions and --count exclude each other');
    refused([...BASE, '--sampler', 'ddim'], '--sampler must be one of euler, x0, got "ddim"');
    refused([...BASE, '--guidance=-1'], '--guidance must be a number >= 0, got "-1"');
    refused([...BASE, '--batch', '0'], '--batch must be an integer from 1 to 64, got "0"');
    refused([...BASE, '--teacher-steps', '0'], '--teacher-steps must be an integer from 1');
    refused([...BASE, '--teacher-cache', 't.bin'], '--teacher-cache must name a .json file');
    refused([...BASE, '--real-count', '1'], '--real-count must be an integer from 2 up');
    refused([...BASE, '--adapter', 'cuda'], '--adapter must be one of swiftshader, llvmpipe, default, got "cuda"');
    refused([...BASE, '--prompt', 'a red circle'], /--prompt/);
  });

  it('records the command so that it can be run again', () => {
    expect(commandLine(['--model', 'models/x', '--captions', "my caps's.txt"])).toBe(`npm run eval -- --model models/x --captions 'my caps'\\''s.txt'`);
  });
});

describe('eval captions', () => {
  it('reads a caption file, skipping blank lines and keeping line numbers', () => {
    const read = parseCaptionLines('a red circle\n\n  a blue square at the top left on a green background  \r\n', 'c.txt');
    expect(read.captions).toEqual(['a red circle', 'a blue square at the top left on a green background']);
    expect(read.statements[1]).toEqual({ objects: [{ color: 'blue', shape: 'square', position: 'top left' }], background: 'green' });
    expect(read.source).toEqual({ file: 'c.txt', lines: [1, 3] });
  });

  it('refuses a file with lines outside the grammar, naming every one by number', () => {
    let error: Error | undefined;
    try {
      parseCaptionLines('a red circle\na red dragon\na green square\na red circle on a red background\n', 'c.txt');
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect(error!.message).toMatch(/^--captions c.txt: 2 lines are not a caption of the Shapes grammar/);
    expect(error!.message).toMatch(/line 2: "a red dragon": .*dragon/);
    expect(error!.message).toMatch(/line 4: "a red circle on a red background": /);
    expect(error!.message).not.toMatch(/line [13]:/);
    expect(() => parseCaptionLines('a red circle\n', 'one.txt')).toThrow('--captions one.txt: 1 caption; the Frechet distances need at least 2');
    expect(() => loadEvalCaptions({ captionsFile: join(tempDir(), 'none.txt'), count: 2 })).toThrow(/--captions .*none.txt cannot be read/);
  });

  it('draws --count captions from TEACHER_CAPTIONS_SEED (the captions npm run measure uses) and fixed seeds', () => {
    const drawn = loadEvalCaptions({ count: 5 });
    expect(drawn.captions).toEqual(makeBatch(TEACHER_CAPTIONS_SEED, 5).captions);
    expect(drawn.source).toMatchObject({ grammarSeed: TEACHER_CAPTIONS_SEED, count: 5 });
    expect(evalSeeds(3)).toEqual([EVAL_NOISE_SEED, EVAL_NOISE_SEED + 1, EVAL_NOISE_SEED + 2]);
  });
});

describe('eval helpers', () => {
  it('summarises timings with medians and the share outside the models', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const t = (totalMs: number, pipelineOverheadMs: number) => ({ tokenizeMs: 0, textEncoderMs: 1, stepMs: [], denoiserMs: [totalMs - pipelineOverheadMs - 1], decodeMs: 0, totalMs, pipelineOverheadMs });
    expect(summarizeTimings([{ timings: t(100, 5), images: 1 }, { timings: t(300, 15), images: 1 }], 500)).toEqual({
      msPerImage: 250,
      imagesPerCall: 1,
      medianTotalMs: 200,
      medianTextEncoderMs: 1,
      medianDenoiserMs: 189,
      medianPipelineOverheadMs: 10,
      overheadFraction: 0.05,
    });
    // Batched calls: the medians are per image of each call, the last (smaller) call counted by its own size.
    const batched = summarizeTimings([{ timings: t(400, 20), images: 4 }, { timings: t(400, 20), images: 4 }, { timings: t(300, 30), images: 2 }], 1000);
    expect(batched).toMatchObject({ msPerImage: 100, imagesPerCall: 4, medianTotalMs: 100, medianPipelineOverheadMs: 5, overheadFraction: 70 / 1100 });
  });

  it('uses a teacher cache only under its own key (a different caption set, seed or teacher is recomputed)', () => {
    const key = { format: 1, teacher: { name: 't', denoiserSha256: 'a', filesSha256: 'b' }, steps: 50, captions: { count: 2, sha256: 'c' } } as unknown as TeacherCacheKey;
    const reference = { key, features: Float32Array.of(1, 2, 3, 4.5), dim: 2, promptAccuracy: 0.5 } as unknown as TeacherReference;
    const path = join(tempDir(), 'cache', 'teacher.json');
    expect(readTeacherCache(path, key)).toEqual({ reference: null, stale: false });
    writeTeacherCache(path, reference);
    const read = readTeacherCache(path, key);
    expect(read.stale).toBe(false);
    expect(Array.from(read.reference!.features)).toEqual([1, 2, 3, 4.5]);
    expect(read.reference!.promptAccuracy).toBe(0.5);
    expect(readTeacherCache(path, { ...key, captions: { count: 2, sha256: 'd' } })).toEqual({ reference: null, stale: true });
    writeFileSync(path, 'not json');
    expect(readTeacherCache(path, key)).toEqual({ reference: null, stale: true });
  });
});

describe.skipIf(!existsSync(join(TEACHER_DIR, 'manifest.json')) || !existsSync(join(EVALUATOR_DIR, 'evaluator.safetensors')))('npm run eval on the bundled teacher', () => {
  let dir: string;
  let cacheDir: string;
  const logs: string[] = [];
  beforeAll(() => {
    dir = tempDir();
    cacheDir = join(dir, 'cache');
  });
  afterEach(() => vi.restoreAllMocks());
  const quietly = async (argv: string[]) => {
    vi.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(line));
    return main(argv);
  };
  // 4 captions, 16 real renders, the teacher's reference at 4 steps instead of 50: seconds, not minutes.
  const common = () => ['--count', '4', '--teacher', TEACHER_DIR, '--teacher-steps', '4', '--evaluator', EVALUATOR_DIR, '--real-count', '16', '--cache-dir', cacheDir, '--adapter', adapterKindFromEnv()];

  it('exits 2 with the usage on a bad flag or a caption file outside the grammar, before loading anything', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    expect(await main(['--model', TEACHER_DIR, '--out', 'r.json'])).toBe(2);
    const captions = join(dir, 'bad.txt');
    writeFileSync(captions, 'a red circle\na red circel\n');
    expect(await main(['--model', TEACHER_DIR, '--steps', '2', '--captions', captions, '--out', join(dir, 'r.json')])).toBe(2);
    expect(errors.join('\n')).toMatch(/--steps is required[\s\S]*usage: npm run eval[\s\S]*line 2: "a red circel"/);
  });

  it('writes a results.json with the metrics and everything that reproduces them', async () => {
    const out = join(dir, 'results.json');
    expect(await quietly(['--model', TEACHER_DIR, '--steps', '2', ...common(), '--out', out])).toBe(0);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    const manifest = JSON.parse(readFileSync(join(TEACHER_DIR, 'manifest.json'), 'utf8'));
    const denoiserSha = manifest.files.find((f: { path: string }) => f.path === 'denoiser.onnx').sha256;
    expect(results.command).toMatch(/^npm run eval -- --model \S+shapes-teacher --steps 2 --count 4 /);
    expect(results.model).toEqual({ dir: TEACHER_DIR, name: 'shapes-teacher', sha256: denoiserSha, kind: 'flow', schedule: 'euler-grid' });
    expect(results.sampling).toEqual({ steps: 2, sampler: 'euler', guidance: 4, levels: [1, 0.5], provider: 'wasm', imagesPerCall: 1 });
    const { metrics } = results;
    expect(metrics.promptAccuracy).toBeGreaterThanOrEqual(0);
    expect(metrics.promptAccuracy).toBeLessThanOrEqual(1);
    expect(Object.keys(metrics.perAttribute).sort()).toEqual(['background', 'color', 'count', 'position', 'shape', 'size']);
    expect(metrics.perAttribute.count.total).toBe(4);
    // The count failures split by direction, and each image says how many objects it was asked for and shows.
    const { tooFew, tooMany } = metrics.countErrors;
    expect(tooFew + tooMany).toBe(4 - metrics.perAttribute.count.passed);
    for (const image of results.images as { caption: string; objects: { stated: number; seen: number }; attributes: { count: boolean } }[]) {
      expect(image.objects.stated).toBe(image.caption.includes(' and a ') ? 2 : 1);
      expect(image.attributes.count).toBe(image.objects.seen === image.objects.stated);
    }
    expect(results.teacher.countErrors).toBeDefined(); // recorded with the reference it has just made
    for (const value of [metrics.fdReal, metrics.fdTeacher, metrics.msPerImage, metrics.highFrequency]) {
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(0); // 2 steps are not the teacher's 4
    }
    expect(results.teacher.highFrequency).toBeGreaterThan(0); // measured with the reference it has just made
    expect(results.reference.real.highFrequency.count).toBe(16);
    expect(results.reference.real.highFrequency.value).toBeGreaterThan(0);
    expect(results.captions).toMatchObject({ count: 4, source: { grammarSeed: TEACHER_CAPTIONS_SEED, count: 4 } });
    expect(results.seeds).toMatchObject({ first: EVAL_NOISE_SEED, last: EVAL_NOISE_SEED + 3 });
    const captions = makeBatch(TEACHER_CAPTIONS_SEED, 4).captions;
    expect(results.images.map((i: { caption: string; seed: number }) => [i.caption, i.seed])).toEqual(captions.map((c, i) => [c, EVAL_NOISE_SEED + i]));
    expect(results.teacher).toMatchObject({ name: 'shapes-teacher', sha256: denoiserSha, sampling: { steps: 4, sampler: 'euler', guidance: 4, provider: 'wasm' }, cache: { status: 'miss', timedImages: 4 } });
    expect(results.teacher.cache.key).toMatchObject({ steps: 4, captions: { count: 4 }, seeds: { count: 4, first: EVAL_NOISE_SEED } });
    expect(existsSync(results.teacher.cache.path)).toBe(true);
    expect(results.reference.real).toMatchObject({ count: 16, cache: { status: 'miss' } });
    expect(results.evaluator.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(results.adapter.kind).toBe(adapterKindFromEnv());
    expect(results.timings.overheadFraction).toBeGreaterThan(0);
    expect(logs.some((line) => line.includes('[eval] wrote'))).toBe(true);
  });

  it("gives FD-T ~0 for the teacher against its own reference at identical settings (from the cache)", async () => {
    const out = join(dir, 'self.json');
    expect(await quietly(['--model', TEACHER_DIR, '--steps', '4', '--sampler', 'euler', ...common(), '--out', out])).toBe(0);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results.teacher.cache.status).toBe('hit');
    // Its timing is this run's: 4 images re-generated (all of them here; TIMING_IMAGES on a larger evaluation).
    expect(results.teacher.cache.timedImages).toBe(4);
    expect(results.reference.real.cache.status).toBe('hit');
    expect(results.metrics.fdTeacher).toBeLessThan(1e-6);
    expect(results.metrics.promptAccuracy).toBe(results.teacher.promptAccuracy);
    expect(results.metrics.fdReal).toBeCloseTo(results.teacher.fdReal, 6);
    expect(results.metrics.highFrequency).toBeCloseTo(results.teacher.highFrequency, 9); // the same pixels, read back from the cache
    expect(results.metrics.countErrors).toEqual(results.teacher.countErrors);
  });

  it('batches captions (--batch 3: calls of 3 and 1) into the same images as one caption per call', async () => {
    const out = join(dir, 'batched.json');
    expect(await quietly(['--model', TEACHER_DIR, '--steps', '4', '--sampler', 'euler', '--batch', '3', ...common(), '--out', out])).toBe(0);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results.sampling.imagesPerCall).toBe(3);
    expect(results.timings.imagesPerCall).toBe(3);
    expect(results.teacher.cache.status).toBe('hit'); // made one caption per call by the test above
    expect(results.images.map((i: { passed: boolean }) => i.passed)).toEqual(JSON.parse(readFileSync(join(dir, 'self.json'), 'utf8')).images.map((i: { passed: boolean }) => i.passed));
    expect(results.metrics.fdTeacher).toBeLessThan(1e-3); // 8-bit pixels: a float-rounding difference may move one level
  });
});
