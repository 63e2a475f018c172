// The options of `npm run ablation` and the runs they stand for: every arm x seed of a task, and on the toy the
// stress regime (the grid mixture, guidance 3) with a TTUR x IDA-lambda sweep. Each run's distill options are
// built with parseDistillOptions from a distill command line, so every run folder records the same provenance a
// hand-typed `npm run distill` would, and a bad combination is refused before any training starts.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ARM_NAMES, ARMS, type ArmName } from '../distill/config';
import type { NodeAdapterKind } from '../gpu/node';
import { type DistillOptions, parseDistillOptions } from './distill';
import { adapterFlag, integerFlag, positiveNumberFlag, UsageError } from './options';

export type AblationTask = 'toy2d' | 'shapes';

export const ABLATION_DEFAULTS = {
  // Measured on the 2-core development machine (llvmpipe, shared with other jobs): a ring run costs ~7 s of setup,
  // ~0.6 s per evaluation and 0.07 (dmd) to 0.11 (senseflow) s per iteration; the 15 runs of 5 arms (before the GAN arm ran on the
  // toy) took 15.5 minutes at --steps 600 --eval-every 50, so these defaults take about half an hour (30 to 35 minutes).
  toy2d: { steps: 1500, evalEvery: 100 },
  // A Shapes iteration is several DiT passes at batch 32 (seconds each on a CPU adapter), and every evaluation
  // samples 100 captions at 1, 2 and 4 steps: the default only checks the pipeline end to end.
  shapes: { steps: 100, evalEvery: 50 },
  seeds: 3,
  arms: ['dmd', 'ida', 'isg', 'senseflow', 'gan', 'pull-to-teacher'] as ArmName[],
  out: 'runs/ablation',
  docs: 'docs',
} as const;

/**
 * The stress regime: the hard mixture, high guidance; its arms, then the sweep (no ISG, to isolate TTUR x lambda). +IDA
 * alone is the sweep's TTUR 5 x lambda 0.97 cell; the control arm tells IDA from damping, +ISG says where ISG's gain is.
 */
export const STRESS = {
  teacher: 'models/toy2d/grid',
  guidance: '3',
  arms: ['dmd', 'isg', 'senseflow', 'pull-to-teacher'] as ArmName[],
  ttur: [1, 5],
  idaLambda: ['off', '0.9', '0.97'],
} as const;

export const ABLATION_USAGE = `usage: npm run ablation -- toy2d|shapes [--seeds N] [--steps N] [--eval-every N] [--arms a,b,...]
         [--batch B] [--lr LR] [--stress] [--out runs/ablation] [--docs docs] [--adapter llvmpipe|swiftshader|default] [--resume] [--report-only]
  Runs every arm (default ${ABLATION_DEFAULTS.arms.join(',')}) x seeds 1..N (default ${ABLATION_DEFAULTS.seeds}) of the task in
  this process, one after another, into <out>/<task>/<arm>/seed<k>; then writes <docs>/results/ablation-<task>.json,
  the task's section of <docs>/ABLATION.md and <docs>/figures/ablation-<task>-*.svg. An arm distill refuses on the
  task is reported as not run, with distill's reason (the GAN arm runs on both: on toy2d its features are a frozen copy
  of the teacher MLP, on shapes the attribute evaluator).
  toy2d: --steps ${ABLATION_DEFAULTS.toy2d.steps} --eval-every ${ABLATION_DEFAULTS.toy2d.evalEvery} by default: 2 to 3 minutes a run on 2 CPU cores, about half an hour in all.
         --stress adds the grid mixture at guidance 3: arms ${STRESS.arms.join(', ')}, and TTUR {${STRESS.ttur.join(', ')}} x IDA lambda
         {${STRESS.idaLambda.join(', ')}} without ISG, into <out>/toy2d/stress/: ${STRESS.arms.length + STRESS.ttur.length * STRESS.idaLambda.length - 1} more settings x seeds (one sweep cell is the dmd arm's runs),
         slower ones (on 2 CPU cores about 7 iterations/s at TTUR 5 and 4 at TTUR 1, evaluations included): about
         1 hour at --steps 600, some 2.5 hours at the default length.
  shapes: --steps ${ABLATION_DEFAULTS.shapes.steps} --eval-every ${ABLATION_DEFAULTS.shapes.evalEvery} by default, a smoke test: a Shapes iteration is several DiT
         passes. On 2 CPU cores --batch 8 --lr 2e-4 --steps 500 --eval-every 100 takes about 1.7 hours (18 runs of ~5.5
         minutes; docs/ABLATION.md); lengths of 1,000+ iterations at batch 32 need a GPU adapter (--adapter default).
  --batch, --lr  passed to every run's distill (default: distill's, per task); they become part of each run's
               config, so --resume continues a run only with the values it was started with.
  --resume     keeps finished runs (config.json iterations == --steps) and continues unfinished ones from their
               checkpoints; without it, a run folder that already holds a run is refused.
  --report-only  aggregates the existing run folders (no training): seeds are the seed<k> folders present, and the
               stress settings are included when <out>/toy2d/stress exists.`;

export interface AblationOptions {
  task: AblationTask;
  seeds: number[];
  steps: number;
  /** True when --steps was given (report-only then checks the runs' length against it). */
  stepsGiven: boolean;
  evalEvery: number;
  /** --batch / --lr as given, passed on to every run's distill command line. */
  distillFlags: string[];
  arms: ArmName[];
  stress: boolean;
  out: string;
  docs: string;
  adapter: NodeAdapterKind;
  resume: boolean;
  reportOnly: boolean;
  argv: readonly string[];
}

export function parseAblationOptions(argv: readonly string[]): AblationOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        seeds: { type: 'string' },
        steps: { type: 'string' },
        'eval-every': { type: 'string' },
        arms: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        stress: { type: 'boolean' },
        out: { type: 'string' },
        docs: { type: 'string' },
        adapter: { type: 'string' },
        resume: { type: 'boolean' },
        'report-only': { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const task = positionals[0];
  if (positionals.length !== 1 || (task !== 'toy2d' && task !== 'shapes')) throw new UsageError(`give one task, toy2d or shapes${positionals.length ? `, got ${positionals.join(' ')}` : ''}`);
  const seedCount = integerFlag(values.seeds, 'seeds', 1, 100) ?? ABLATION_DEFAULTS.seeds;
  const steps = integerFlag(values.steps, 'steps', 1);
  const evalEvery = integerFlag(values['eval-every'], 'eval-every', 1) ?? ABLATION_DEFAULTS[task].evalEvery;
  const arms = values.arms === undefined ? [...ABLATION_DEFAULTS.arms] : values.arms.split(',').map((a) => a.trim());
  for (const arm of arms) if (!(ARM_NAMES as string[]).includes(arm)) throw new UsageError(`--arms: "${arm}" is not an arm; the arms are ${ARM_NAMES.join(', ')}`);
  if (arms.length === 0 || new Set(arms).size !== arms.length) throw new UsageError(`--arms must list distinct arms, got "${values.arms}"`);
  const distillFlags: string[] = [];
  const batch = integerFlag(values.batch, 'batch', 1);
  if (batch !== undefined) distillFlags.push('--batch', String(batch));
  if (positiveNumberFlag(values.lr, 'lr') !== undefined) distillFlags.push('--lr', values.lr!);
  const adapter = adapterFlag(values.adapter ?? 'llvmpipe');
  if (values.stress && task !== 'toy2d') throw new UsageError('--stress is a toy2d regime (the grid mixture at guidance 3)');
  if (values.resume && values['report-only']) throw new UsageError('--report-only trains nothing: drop --resume');
  return {
    task,
    seeds: Array.from({ length: seedCount }, (_, i) => i + 1),
    steps: steps ?? ABLATION_DEFAULTS[task].steps,
    stepsGiven: steps !== undefined,
    evalEvery,
    distillFlags,
    arms: arms as ArmName[],
    stress: values.stress === true,
    out: values.out ?? ABLATION_DEFAULTS.out,
    docs: values.docs ?? ABLATION_DEFAULTS.docs,
    adapter,
    resume: values.resume === true,
    reportOnly: values['report-only'] === true,
    argv,
  };
}

/** One configuration of the ablation, run once per seed. */
export interface AblationSetting {
  /** Unique key, e.g. 'dmd', 'stress/senseflow', 'stress/ttur1-ida0.9'. */
  name: string;
  group: 'arms' | 'stress' | 'sweep';
  label: string;
  arm: ArmName;
  /** The distill flags that make this setting (besides the task, steps, seed, evaluation spacing, adapter, out). */
  flags: string[];
  /** Its runs' folder under <out>/<task>/: its own name, or that of an earlier setting with the same configuration. */
  folder: string;
  sweep?: { ttur: number; idaLambda: string };
  /** Why the setting cannot run on this task (distill refuses it, e.g. the GAN term on toy2d); it has no runs. */
  notApplicable?: string;
}

/** The settings of an ablation, in report order; a sweep cell equal to a stress arm shares that arm's runs. */
export function ablationSettings(task: AblationTask, arms: readonly ArmName[], stress: boolean): AblationSetting[] {
  const settings: Omit<AblationSetting, 'folder'>[] = arms.map((arm) => ({ name: arm, group: 'arms', label: ARMS[arm].label, arm, flags: ['--arm', arm] }));
  if (stress) {
    const regime = ['--teacher', STRESS.teacher, '--guidance', STRESS.guidance];
    for (const arm of STRESS.arms) settings.push({ name: `stress/${arm}`, group: 'stress', label: `${ARMS[arm].label}, grid, guidance ${STRESS.guidance}`, arm, flags: ['--arm', arm, ...regime] });
    for (const ttur of STRESS.ttur) {
      for (const lambda of STRESS.idaLambda) {
        const arm: ArmName = lambda === 'off' ? 'dmd' : 'ida';
        settings.push({
          name: `stress/ttur${ttur}-ida${lambda === 'off' ? '-off' : lambda}`,
          group: 'sweep',
          label: `TTUR ${ttur}, IDA lambda ${lambda}, no ISG`,
          arm,
          flags: ['--arm', arm, ...regime, '--ttur', String(ttur), '--ida', lambda, '--isg', 'off'],
          sweep: { ttur, idaLambda: lambda },
        });
      }
    }
  }
  // distill's run identity (arm, teacher, settings) decides whether two settings are the same runs; a setting
  // distill refuses on this task is kept, with the reason, so the report says why it has no numbers.
  const folders = new Map<string, string>();
  return settings.map((s) => {
    let options: DistillOptions;
    try {
      options = parseDistillOptions([task, ...s.flags, '--out', '.']);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      return { ...s, folder: s.name, notApplicable: error.message };
    }
    const key = JSON.stringify({ arm: options.arm, teacher: options.teacher, config: options.config });
    if (!folders.has(key)) folders.set(key, s.name);
    return { ...s, folder: folders.get(key)! };
  });
}

/** One distill run of the plan. */
export interface PlannedRun {
  setting: AblationSetting;
  seed: number;
  dir: string;
}

export const runDir = (options: Pick<AblationOptions, 'out' | 'task'>, folder: string, seed: number): string => join(options.out, options.task, folder, `seed${seed}`);

/** The distinct runs (shared folders once), in order. */
export function plannedRuns(options: AblationOptions, settings: readonly AblationSetting[]): PlannedRun[] {
  const runs = new Map<string, PlannedRun>();
  for (const setting of settings) {
    if (setting.notApplicable) continue;
    for (const seed of options.seeds) {
      const dir = runDir(options, setting.folder, seed);
      if (!runs.has(dir)) runs.set(dir, { setting, seed, dir });
    }
  }
  return [...runs.values()];
}

/** The distill command line of a run (what its config.json records as `npm run distill -- ...`). */
export function distillArgv(options: AblationOptions, run: PlannedRun, resume: boolean): string[] {
  return [
    options.task,
    ...run.setting.flags,
    ...options.distillFlags,
    '--steps', String(options.steps),
    '--seed', String(run.seed),
    '--eval-every', String(options.evalEvery),
    '--adapter', options.adapter,
    '--out', run.dir,
    ...(resume ? ['--resume'] : []),
  ];
}

export const distillOptionsOf = (options: AblationOptions, run: PlannedRun, resume: boolean): DistillOptions => parseDistillOptions(distillArgv(options, run, resume));
