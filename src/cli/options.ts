// Command-line options shared by the Node entry points (`node scripts/cli.mjs <command> ...`), parsed with
// node:util's parseArgs so an unknown or malformed flag is refused with a message that names it.
import { parseArgs } from 'node:util';
import { NODE_ADAPTER_KINDS, type NodeAdapterKind } from '../gpu/node';
import { DEFAULT_REPA_DEPTH } from '../nets/repa';

export interface PretrainOptions {
  seed: number;
  /** Total optimizer steps of the run (a resumed run continues up to this count). */
  steps: number;
  /** Folder for the checkpoints, the trained weights and the logs. */
  out: string;
  batch?: number;
  adapter: NodeAdapterKind;
  resume: boolean;
  /** Steps between checkpoints (default: about every 5% of the run, at least 50). */
  checkpointEvery?: number;
  /** Steps between progress lines. */
  logEvery: number;
  /** Peak learning rate (default: the model's, e.g. 3e-4 for the Shapes teacher). */
  lr?: number;
  /** Learning-rate decay after warm-up (default: the model's; 'constant' keeps the peak). */
  lrDecay?: 'constant' | 'cosine';
  /** Shapes only: start from this teacher's weights (a bundle or a pretraining run folder) instead of random ones. */
  initFrom?: string;
  /** toy2d only: train this mixture's teacher alone (default: ring, then grid). */
  mixture?: 'ring' | 'grid';
  /** Shapes only: training noise levels s -> shift(s, k) after the logit-normal draw (default 1: none). */
  sigmaShift?: number;
  /** Shapes only: overrides of the denoiser's architecture (nets/dit.ts ShapesDiTConfig), e.g. {"prediction": "x0"}. */
  denoiser?: Record<string, unknown>;
  /**
   * Shapes only: REPA (nets/repa.ts), the weight of the alignment of the DiT's tokens after `depth` blocks with the
   * frozen evaluator's features of the clean image. Absent: off.
   */
  repa?: { weight: number; depth: number };
  /** The flags as given (for provenance). */
  argv?: readonly string[];
  /** Wall-clock budget in minutes: checkpoint and stop after the step that crosses it (trainLoop's maxSeconds). */
  maxMinutes?: number;
}

export class UsageError extends Error {}

export const PRETRAIN_USAGE = `usage: npm run pretrain -- shapes|toy2d|evaluator --seed S --steps N --out DIR
         [--batch B] [--adapter llvmpipe|swiftshader|default] [--resume] [--checkpoint-every K] [--log-every K]
         [--lr LR] [--lr-decay constant|cosine] [--sigma-shift K] [--max-minutes M] [--mixture ring|grid (toy2d)] [--init-from DIR (shapes)]
         [--denoiser JSON (shapes: architecture overrides, e.g. '{"prediction":"x0"}')]
         [--repa W|off [--repa-depth K] (shapes: REPA, align the DiT's tokens after K blocks (default 1) with the
          evaluator's features of the clean image, weight W (0.5 is REPA's))]`;

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

/** Parses `--seed S --steps N --out DIR ...` (what follows the model name). */
export function parsePretrainOptions(argv: readonly string[]): PretrainOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        seed: { type: 'string' },
        steps: { type: 'string' },
        out: { type: 'string' },
        batch: { type: 'string' },
        adapter: { type: 'string', default: 'llvmpipe' },
        resume: { type: 'boolean', default: false },
        'checkpoint-every': { type: 'string' },
        'log-every': { type: 'string', default: '10' },
        lr: { type: 'string' },
        'lr-decay': { type: 'string' },
        'sigma-shift': { type: 'string' },
        'max-minutes': { type: 'string' },
        mixture: { type: 'string' },
        'init-from': { type: 'string' },
        denoiser: { type: 'string' },
        repa: { type: 'string' },
        'repa-depth': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const options: PretrainOptions = {
    seed: required(integerAtLeast(values.seed, 'seed', 0), 'seed'),
    steps: required(integerAtLeast(values.steps, 'steps', 1), 'steps'),
    out: required(values.out, 'out'),
    adapter: adapterFlag(values.adapter!),
    resume: values.resume!,
    logEvery: integerAtLeast(values['log-every'], 'log-every', 1)!,
    argv: [...argv],
  };
  const batch = integerAtLeast(values.batch, 'batch', 1);
  if (batch !== undefined) options.batch = batch;
  const checkpointEvery = integerAtLeast(values['checkpoint-every'], 'checkpoint-every', 1);
  if (checkpointEvery !== undefined) options.checkpointEvery = checkpointEvery;
  const lr = positiveNumberFlag(values.lr, 'lr');
  if (lr !== undefined) options.lr = lr;
  const decay = values['lr-decay'];
  if (decay !== undefined) {
    if (decay !== 'constant' && decay !== 'cosine') throw new UsageError(`--lr-decay must be constant or cosine, got "${decay}"`);
    options.lrDecay = decay;
  }
  const sigmaShift = positiveNumberFlag(values['sigma-shift'], 'sigma-shift');
  if (sigmaShift !== undefined) options.sigmaShift = sigmaShift;
  if (values['init-from'] !== undefined) options.initFrom = values['init-from'];
  if (values.denoiser !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values.denoiser);
    } catch (error) {
      throw new UsageError(`--denoiser must be a JSON object, got "${values.denoiser}" (${(error as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--denoiser must be a JSON object, got "${values.denoiser}"`);
    options.denoiser = parsed as Record<string, unknown>;
  }
  const repaDepth = integerAtLeast(values['repa-depth'], 'repa-depth', 0);
  if (values.repa !== undefined && values.repa !== 'off') {
    options.repa = { weight: positiveNumberFlag(values.repa, 'repa')!, depth: repaDepth ?? DEFAULT_REPA_DEPTH };
  } else if (repaDepth !== undefined) {
    throw new UsageError('--repa-depth needs --repa W (the weight of the alignment)');
  }
  if (values.mixture !== undefined) {
    if (values.mixture !== 'ring' && values.mixture !== 'grid') throw new UsageError(`--mixture must be ring or grid, got "${values.mixture}"`);
    options.mixture = values.mixture;
  }
  const maxMinutes = positiveNumberFlag(values['max-minutes'], 'max-minutes');
  if (maxMinutes !== undefined) options.maxMinutes = maxMinutes;
  return options;
}

/** Default checkpoint spacing: about 20 checkpoints a run, none closer than 50 steps. */
export function checkpointSpacing(options: PretrainOptions): number {
  return options.checkpointEvery ?? Math.max(50, Math.ceil(options.steps / 20));
}

/** --max-minutes in seconds (undefined: no budget). */
export const maxSeconds = (options: PretrainOptions): number | undefined => (options.maxMinutes === undefined ? undefined : options.maxMinutes * 60);

// ---- the checks every command's flags go through ----

/**
 * An optional number flag: undefined when absent, the number when `accepts` takes it, else refused with
 * `--NAME must be WHAT, got "VALUE"` (an empty or non-finite value is refused too).
 */
export function numberFlag(value: string | undefined, name: string, accepts: (n: number) => boolean, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !accepts(n)) throw new UsageError(`--${name} must be ${what}, got "${value}"`);
  return n;
}

/** An optional integer flag >= minimum ("an integer >= 1"). */
export const integerAtLeast = (value: string | undefined, name: string, minimum: number): number | undefined =>
  numberFlag(value, name, (n) => Number.isSafeInteger(n) && n >= minimum, `an integer >= ${minimum}`);

/** An optional integer flag in [minimum, maximum] ("an integer from 1 to 64"). */
export const integerFlag = (value: string | undefined, name: string, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number | undefined =>
  numberFlag(value, name, (n) => Number.isSafeInteger(n) && n >= minimum && n <= maximum, `an integer from ${minimum}${maximum < Number.MAX_SAFE_INTEGER ? ` to ${maximum}` : ' up'}`);

/** An optional positive finite number flag. */
export const positiveNumberFlag = (value: string | undefined, name: string): number | undefined => numberFlag(value, name, (n) => n > 0, 'a positive number');

/** An optional guidance scale (>= 0; 1 is no guidance). */
export const guidanceFlag = (value: string | undefined): number | undefined => numberFlag(value, 'guidance', (n) => n >= 0, 'a number >= 0');

/** --adapter: one of the Node WebGPU adapters. */
export function adapterFlag(value: string): NodeAdapterKind {
  if (!(NODE_ADAPTER_KINDS as readonly string[]).includes(value)) throw new UsageError(`--adapter must be one of ${NODE_ADAPTER_KINDS.join(', ')}, got "${value}"`);
  return value as NodeAdapterKind;
}
