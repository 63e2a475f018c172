// The flags of `npm run eval` (src/cli/eval.ts) and where its captions come from: a file of one caption per line, every
// line checked by the grammar (a file with a bad line is refused, each bad line named by number and reason), or
// `--count N` random grammar captions drawn from TEACHER_CAPTIONS_SEED, the captions `npm run measure` uses.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeBatch } from '../data/dataset';
import { parseCaption } from '../data/grammar';
import type { Statement } from '../data/shapes';
import { TEACHER_CAPTIONS_SEED } from '../eval/seeds';
import type { NodeAdapterKind } from '../gpu/node';
import { SAMPLER_NAMES, type SamplerName } from '../pipeline/generatePlan';
import { adapterFlag, guidanceFlag, integerFlag, UsageError } from './options';

export const EVAL_USAGE = `usage: npm run eval -- --model BUNDLE_DIR --steps N --out RESULTS.json [--captions FILE | --count N (default 1000)]
         [--sampler ${SAMPLER_NAMES.join('|')}] [--guidance W] [--batch N (captions per call, 1-64; default 1)]
         [--teacher DIR (default models/shapes-teacher)] [--teacher-steps N (default 50)]
         [--cache-dir DIR (default runs/eval-cache: teacher and real-render features)] [--teacher-cache FILE (default in --cache-dir)]
         [--evaluator DIR (default models/evaluator)] [--real-count N (default 2000)] [--adapter llvmpipe|swiftshader|default]`;

export const DEFAULT_EVAL_COUNT = 1000;
export const DEFAULT_REAL_COUNT = 2000;
export const DEFAULT_TEACHER_STEPS = 50;
export const DEFAULT_CACHE_DIR = 'runs/eval-cache';

export interface EvalOptions {
  model: string;
  steps: number;
  out: string;
  /** A caption file, or undefined for `count` grammar captions from TEACHER_CAPTIONS_SEED. */
  captionsFile?: string;
  count: number;
  sampler?: SamplerName;
  guidance?: number;
  /** Captions per pipeline call (1: Pipeline.generate takes one prompt per call, see eval.ts). */
  batch: number;
  teacher: string;
  /** Euler steps of the teacher's reference samples (50: the teacher's own quality measurement). */
  teacherSteps: number;
  /** Where the reference features are cached (the teacher's, the real renders' statistics), in files named by their key. */
  cacheDir: string;
  /** The teacher's cache file (default: one in cacheDir named by its key). */
  teacherCache?: string;
  evaluator: string;
  /** Real renders (REAL_REFERENCE_SEED) the FD to real data is measured against. */
  realCount: number;
  adapter: NodeAdapterKind;
  /** The flags as given (recorded in results.json). */
  argv: string[];
}

export function parseEvalOptions(argv: readonly string[]): EvalOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        model: { type: 'string' },
        steps: { type: 'string' },
        out: { type: 'string' },
        captions: { type: 'string' },
        count: { type: 'string' },
        sampler: { type: 'string' },
        guidance: { type: 'string' },
        batch: { type: 'string' },
        teacher: { type: 'string', default: 'models/shapes-teacher' },
        'teacher-steps': { type: 'string' },
        'cache-dir': { type: 'string', default: DEFAULT_CACHE_DIR },
        'teacher-cache': { type: 'string' },
        evaluator: { type: 'string', default: 'models/evaluator' },
        'real-count': { type: 'string' },
        adapter: { type: 'string', default: 'llvmpipe' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!values.model) throw new UsageError('--model is required (a bundle folder, e.g. models/shapes-teacher)');
  const steps = integerFlag(values.steps, 'steps', 1, 1000);
  if (steps === undefined) throw new UsageError('--steps is required (denoiser steps per image)');
  if (!values.out) throw new UsageError('--out is required (a .json file)');
  if (!values.out.toLowerCase().endsWith('.json')) throw new UsageError(`--out must name a .json file, got "${values.out}"`);
  if (values.captions !== undefined && values.count !== undefined) throw new UsageError('--captions and --count exclude each other (a file, or N grammar captions)');
  const options: EvalOptions = {
    model: values.model,
    steps,
    out: values.out,
    count: integerFlag(values.count, 'count', 2) ?? DEFAULT_EVAL_COUNT,
    batch: integerFlag(values.batch, 'batch', 1, 64) ?? 1,
    teacher: values.teacher!,
    teacherSteps: integerFlag(values['teacher-steps'], 'teacher-steps', 1, 1000) ?? DEFAULT_TEACHER_STEPS,
    cacheDir: values['cache-dir']!,
    evaluator: values.evaluator!,
    realCount: integerFlag(values['real-count'], 'real-count', 2) ?? DEFAULT_REAL_COUNT,
    adapter: adapterFlag(values.adapter!),
    argv: [...argv],
  };
  if (values.captions !== undefined) {
    if (values.captions.trim() === '') throw new UsageError('--captions must name a file');
    options.captionsFile = values.captions;
  }
  if (values.sampler !== undefined) {
    if (!(SAMPLER_NAMES as readonly string[]).includes(values.sampler)) throw new UsageError(`--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got "${values.sampler}"`);
    options.sampler = values.sampler as SamplerName;
  }
  const guidance = guidanceFlag(values.guidance);
  if (guidance !== undefined) options.guidance = guidance;
  if (values['teacher-cache'] !== undefined) {
    if (!values['teacher-cache'].toLowerCase().endsWith('.json')) throw new UsageError(`--teacher-cache must name a .json file, got "${values['teacher-cache']}"`);
    options.teacherCache = values['teacher-cache'];
  }
  return options;
}

export interface EvalCaptions {
  captions: string[];
  statements: Statement[];
  /** Where they came from, for results.json. */
  source: { file: string; lines: number[] } | { grammarSeed: number; count: number; how: string };
}

/**
 * The captions of a caption file: one per line, blank lines ignored. Throws a UsageError naming every line the
 * grammar refuses (its number and the grammar's reason), so a typo never silently shrinks the evaluation.
 */
export function parseCaptionLines(text: string, file: string): EvalCaptions {
  const captions: string[] = [];
  const statements: Statement[] = [];
  const lines: number[] = [];
  const refused: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const caption = raw.trim();
    if (caption === '') return;
    try {
      statements.push(parseCaption(caption));
      captions.push(caption);
      lines.push(index + 1);
    } catch (error) {
      refused.push(`  line ${index + 1}: "${caption}": ${(error as Error).message}`);
    }
  });
  if (refused.length > 0) {
    const shown = refused.slice(0, 20).join('\n') + (refused.length > 20 ? `\n  ... and ${refused.length - 20} more` : '');
    throw new UsageError(`--captions ${file}: ${refused.length} line${refused.length > 1 ? 's are' : ' is'} not a caption of the Shapes grammar (src/data/grammar.ts):\n${shown}`);
  }
  if (captions.length < 2) throw new UsageError(`--captions ${file}: ${captions.length} caption${captions.length === 1 ? '' : 's'}; the Frechet distances need at least 2`);
  return { captions, statements, source: { file, lines } };
}

/** The evaluation's captions: the --captions file, or --count grammar captions from TEACHER_CAPTIONS_SEED. */
export function loadEvalCaptions(options: Pick<EvalOptions, 'captionsFile' | 'count'>): EvalCaptions {
  if (options.captionsFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.captionsFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--captions ${options.captionsFile} cannot be read: ${(error as Error).message}`);
    }
    return parseCaptionLines(text, options.captionsFile);
  }
  const { captions, statements } = makeBatch(TEACHER_CAPTIONS_SEED, options.count);
  return { captions, statements, source: { grammarSeed: TEACHER_CAPTIONS_SEED, count: options.count, how: 'makeBatch(TEACHER_CAPTIONS_SEED, count).captions (src/data/dataset.ts)' } };
}
