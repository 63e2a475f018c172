// The teacher's reference samples for FD-T (src/cli/eval.ts): the teacher bundle's Euler samples at its default
// guidance (50 steps unless --teacher-steps) on the evaluation's captions and seeds, read by the evaluator. Costs
// count * steps * 2 denoiser rows (about 3 s an image on two busy cores), so the evaluator's readings are cached in a
// JSON file keyed by everything they depend on: the teacher's files (sha256), the sampler settings, the captions, the
// seeds, the evaluator's weights and the pixel format (not the adapter the evaluator ran on: its readings agree
// across adapters to float rounding). A cache whose key differs is recomputed and overwritten. Timings are not taken
// from the cache: a hit re-generates a few images to time the teacher in this run (TeacherCacheUse.timedImages).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { IMAGE_CHANNELS, IMAGE_SIZE } from '../data/render';
import { evaluateImages } from '../eval/evaluate';
import type { AttributeScore, CheckedAttribute, CountErrors } from '../eval/promptAccuracy';
import { highFrequency } from '../eval/texture';
import type { Statement } from '../data/shapes';
import type { AttributeEvaluator } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import type { Ort } from '../onnx/exportOrt';
import type { LoadedBundle } from '../pipeline/bundle';
import { denoiserSha256 } from '../pipeline/generate';
import { generateForCaptions, type SharedSettings, type TimingSummary } from './evalGenerate';

const CACHE_FORMAT = 1;

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** What the teacher's features depend on; two evaluations share a cache file only when these are equal. */
export interface TeacherCacheKey {
  format: number;
  teacher: { name: string; denoiserSha256: string; filesSha256: string };
  sampler: 'euler';
  steps: number;
  guidance: number;
  provider: 'wasm';
  pixels: 'rgba8';
  captions: { count: number; sha256: string };
  seeds: { count: number; first: number; sha256: string };
  evaluatorSha256: string;
}

export interface TeacherReference {
  key: TeacherCacheKey;
  settings: SharedSettings;
  /** [count, dim] row-major. */
  features: Float32Array;
  dim: number;
  promptAccuracy: number;
  perAttribute: Record<CheckedAttribute, AttributeScore>;
  /** How its count failures split; absent in caches written before it was recorded. */
  countErrors?: CountErrors;
  /** eval/texture.ts over the teacher's images; absent in caches written before it was measured. */
  highFrequency?: number;
  timings: TimingSummary;
  createdAt: string;
}

export interface TeacherCacheUse {
  path: string;
  /** 'hit': read from the file; 'miss': no file; 'stale': a file with another key, overwritten. */
  status: 'hit' | 'miss' | 'stale';
  /**
   * How many of the teacher's images the reported timings come from, generated in this run: all of them on a miss;
   * on a hit the first few again (TIMING_IMAGES, or one call of --batch), so the teacher's ms per image is measured
   * beside the model's on the same machine under the same load, not read from whichever run filled the cache.
   */
  timedImages: number;
}

/** Teacher images re-generated on a cache hit to time it (one 50-step image is ~0.4 s on llvmpipe). */
export const TIMING_IMAGES = 8;

export function teacherCacheKey(bundle: LoadedBundle, captions: readonly string[], seeds: readonly number[], steps: number, evaluatorSha256: string): TeacherCacheKey {
  const { manifest } = bundle;
  const files = [...manifest.files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => `${f.path} ${f.sha256}`);
  return {
    format: CACHE_FORMAT,
    teacher: { name: manifest.name, denoiserSha256: denoiserSha256(manifest), filesSha256: sha256(files.join('\n')) },
    sampler: 'euler',
    steps,
    guidance: manifest.guidance.default,
    provider: 'wasm',
    pixels: 'rgba8',
    captions: { count: captions.length, sha256: sha256(captions.join('\n')) },
    seeds: { count: seeds.length, first: seeds[0]!, sha256: sha256(seeds.join(',')) },
    evaluatorSha256,
  };
}

export const defaultTeacherCachePath = (cacheDir: string, key: TeacherCacheKey): string => join(cacheDir, `teacher-${sha256(JSON.stringify(key)).slice(0, 16)}.json`);

function encodeFeatures(features: Float32Array): string {
  return Buffer.from(features.buffer, features.byteOffset, features.byteLength).toString('base64');
}

function decodeFeatures(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The cached reference at `path` when its key is `key`; null when there is none or it was made for another key. */
export function readTeacherCache(path: string, key: TeacherCacheKey): { reference: TeacherReference | null; stale: boolean } {
  if (!existsSync(path)) return { reference: null, stale: false };
  let saved;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return { reference: null, stale: true };
  }
  if (JSON.stringify(saved?.key) !== JSON.stringify(key)) return { reference: null, stale: true };
  const features = decodeFeatures(saved.features);
  if (features.length !== key.captions.count * saved.dim) return { reference: null, stale: true };
  return { reference: { ...saved, features }, stale: false };
}

export function writeTeacherCache(path: string, reference: TeacherReference): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ ...reference, features: encodeFeatures(reference.features) })}\n`);
}

/** The teacher's reference readings on these captions and seeds: from the cache, or generated, read and cached. */
export async function teacherReference(
  engine: Engine,
  evaluator: AttributeEvaluator,
  ort: Ort,
  teacher: LoadedBundle,
  run: {
    captions: readonly string[];
    statements: readonly Statement[];
    seeds: readonly number[];
    steps: number;
    /** Captions per pipeline call: speed only (the images are the same to float rounding), so not in the cache key. */
    batch?: number;
    evaluatorSha256: string;
    cacheDir: string;
    cachePath?: string;
  },
  log: (line: string) => void,
): Promise<{ reference: TeacherReference; cache: TeacherCacheUse }> {
  const key = teacherCacheKey(teacher, run.captions, run.seeds, run.steps, run.evaluatorSha256);
  const path = run.cachePath ?? defaultTeacherCachePath(run.cacheDir, key);
  const cached = readTeacherCache(path, key);
  if (cached.reference) {
    const n = Math.min(run.captions.length, Math.max(TIMING_IMAGES, run.batch ?? 1));
    log(`teacher reference from ${path}; timing the teacher on ${n} of its images`);
    const timed = await generateForCaptions(ort, teacher, run.captions.slice(0, n), run.seeds.slice(0, n), { steps: run.steps, sampler: 'euler', batch: run.batch ?? 1 }, log);
    return { reference: { ...cached.reference, timings: timed.timings }, cache: { path, status: 'hit', timedImages: n } };
  }
  log(`teacher reference: ${cached.stale ? `${path} was made for other settings; ` : ''}generating ${run.captions.length} images at ${run.steps} Euler steps`);
  const generated = await generateForCaptions(ort, teacher, run.captions, run.seeds, { steps: run.steps, sampler: 'euler', batch: run.batch ?? 1 }, log);
  const evaluation = await evaluateImages(engine, evaluator, generated.images, run.statements);
  const reference: TeacherReference = {
    key,
    settings: generated.settings,
    features: evaluation.features,
    dim: evaluation.dim,
    promptAccuracy: evaluation.promptAccuracy,
    perAttribute: evaluation.perAttribute,
    countErrors: evaluation.countErrors,
    highFrequency: highFrequency(generated.images, IMAGE_CHANNELS, IMAGE_SIZE, IMAGE_SIZE),
    timings: generated.timings,
    createdAt: new Date().toISOString(),
  };
  writeTeacherCache(path, reference);
  log(`teacher reference cached in ${path}`);
  return { reference, cache: { path, status: cached.stale ? 'stale' : 'miss', timedImages: run.captions.length } };
}
