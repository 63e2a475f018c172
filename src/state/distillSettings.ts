// The Distill tab's settings as the form holds them (text, as typed), the presets that set them to an ablation arm
// (distill/config.ts ARMS), the task's own defaults (withTask), and readRunSettings: the form checked into a run's
// settings, naming the control at fault. The 2D toy's base is the CLI's (cli/distill.ts): lr 1e-3 and the teacher at
// guidance 1 (its conditional). Shapes' is the first run of the bundled student (models/shapes-senseflow): batch 16,
// lr 2e-4, guidance 3 to 5 (its later runs continued at lr 1e-4 with a moving average, docs/ARCHITECTURE.md).
import { ARMS, type ArmName, checkDistillConfig, DEFAULT_DISTILL_CONFIG, type DistillConfig } from '../distill/config';
import type { IsgLossKind } from '../distill/losses';
import { type DistillTaskName, isToyTask, type RunIdentity, type RunSettings } from '../workers/distillApi';

/** Every arm, in the order the presets show them; every task runs all of them (the GAN term's frozen features: Shapes' evaluator, a copy of the toy teacher). */
export const PRESET_ARMS = ['dmd', 'ida', 'isg', 'senseflow', 'gan', 'pull-to-teacher'] as const satisfies readonly ArmName[];

export const MAX_SEED = 2 ** 32 - 1;
/** The largest moving-average decay the tab takes (a half-life of ~7,000 generator steps). */
export const MAX_EMA_DECAY = 0.9999;

export interface DistillForm {
  task: DistillTaskName;
  idaLambda: string;
  alignment: DistillConfig['alignment'];
  isgWeight: string;
  isgLoss: IsgLossKind;
  /** ISG on the last anchor's segment ('on', the paper's) or only between anchors ('off'). */
  isgLast: 'on' | 'off';
  isgFirst: 'on' | 'off';
  ganWeight: string;
  ttur: string;
  guidanceMin: string;
  guidanceMax: string;
  lr: string;
  batch: string;
  anchorSteps: string;
  shift: string;
  backwardSimulation: string;
  /** The student's moving average of the generator's weights: its decay, 0 for off. */
  emaDecay: string;
  /** DMD's regression term on the teacher's noise -> sample pairs (distill/regression.ts): its weight, 0 for off. */
  regressionWeight: string;
  seed: string;
  iterations: string;
  checkpointEvery: string;
  figureEvery: string;
  /** Shapes: captions per evaluation. */
  evalCaptions: string;
}

/** The toy's distillation defaults (the SenseFlow arm), as in `npm run distill -- toy2d`. */
export const TOY_BASE: Partial<DistillConfig> = { batch: 256, lr: 1e-3, guidance: [1, 1] };
/** Shapes' defaults: those of the bundled student's first run. */
export const SHAPES_BASE: Partial<DistillConfig> = { batch: 16, lr: 2e-4, guidance: [3, 5] };
export const taskBase = (task: DistillTaskName): Partial<DistillConfig> => (isToyTask(task) ? TOY_BASE : SHAPES_BASE);

/** Per task: its base's fields, and a cadence that suits its speed (a Shapes iteration costs ~100 toy ones). */
function taskFields(task: DistillTaskName): Pick<DistillForm, 'task' | 'lr' | 'batch' | 'guidanceMin' | 'guidanceMax' | 'iterations' | 'checkpointEvery' | 'figureEvery'> {
  const base = taskBase(task);
  const cadence = isToyTask(task) ? { iterations: '2000', checkpointEvery: '100', figureEvery: '50' } : { iterations: '600', checkpointEvery: '20', figureEvery: '20' };
  return { task, lr: String(base.lr), batch: String(base.batch), guidanceMin: String(base.guidance![0]), guidanceMax: String(base.guidance![1]), ...cadence };
}

function armFields(arm: ArmName): Pick<DistillForm, 'idaLambda' | 'isgWeight' | 'alignment' | 'ganWeight'> {
  const overrides: Partial<DistillConfig> = ARMS[arm].overrides;
  return {
    idaLambda: String(overrides.idaLambda ?? DEFAULT_DISTILL_CONFIG.idaLambda),
    isgWeight: String(overrides.isgWeight ?? DEFAULT_DISTILL_CONFIG.isgWeight),
    alignment: overrides.alignment ?? 'generator',
    ganWeight: String(overrides.ganWeight ?? 0),
  };
}

export const DEFAULT_FORM: Readonly<DistillForm> = {
  ...taskFields('ring'),
  ...armFields('senseflow'),
  isgLoss: DEFAULT_DISTILL_CONFIG.isgLoss,
  isgLast: 'on',
  isgFirst: 'on',
  ttur: String(DEFAULT_DISTILL_CONFIG.fakeStepsPerGeneratorStep),
  anchorSteps: String(DEFAULT_DISTILL_CONFIG.anchorSteps),
  shift: String(DEFAULT_DISTILL_CONFIG.shift),
  backwardSimulation: String(DEFAULT_DISTILL_CONFIG.backwardSimulation),
  emaDecay: '0',
  regressionWeight: '0',
  seed: '1',
  evalCaptions: '64',
};

/** The form with an arm's settings (IDA on or off and toward what, ISG and the GAN term on or off); the other knobs stay. */
export function withPreset(form: DistillForm, arm: ArmName): DistillForm {
  return { ...form, ...armFields(arm) };
}

/**
 * The form for another task: its learning rate, batch, guidance and cadence (the toy's would not train Shapes, and
 * Shapes' would crawl on the toy); the recipe's knobs stay.
 */
export function withTask(form: DistillForm, task: DistillTaskName): DistillForm {
  if (task === form.task) return form;
  return { ...form, ...taskFields(task) };
}

/** The arm whose settings the form holds, or null ("custom") when the knobs match none. */
export function activePreset(form: DistillForm): ArmName | null {
  return (
    PRESET_ARMS.find((arm) => {
      const fields = armFields(arm);
      return (
        Number(form.idaLambda) === Number(fields.idaLambda) &&
        Number(form.isgWeight) === Number(fields.isgWeight) &&
        Number(form.ganWeight) === Number(fields.ganWeight) &&
        (Number(form.idaLambda) === 1 || form.alignment === fields.alignment)
      );
    }) ?? null
  );
}

type Checked<T> = { value: T } | { error: string };

function readNumber(text: string, label: string, { min, max, integer = false, note = '' }: { min: number; max: number; integer?: boolean; note?: string }): Checked<number> {
  const n = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(n) && n >= min && n <= max && (!integer || Number.isInteger(n));
  if (ok) return { value: n };
  return { error: `${label} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}${note}, not "${text}".` };
}

/** The form read into a run's settings, or the first problem, naming the control as the tab labels it. */
export function readRunSettings(form: DistillForm, teacherUrl: string): { settings: RunSettings } | { error: string } {
  const fields = {
    idaLambda: readNumber(form.idaLambda, 'IDA lambda', { min: 0, max: 1, note: ' (1: IDA off)' }),
    isgWeight: readNumber(form.isgWeight, 'ISG weight', { min: 0, max: 10, note: ' (0: ISG off)' }),
    ganWeight: readNumber(form.ganWeight, 'GAN weight', { min: 0, max: 10, note: ' (0: GAN term off)' }),
    ttur: readNumber(form.ttur, 'TTUR ratio', { min: 1, max: 50, integer: true }),
    guidanceMin: readNumber(form.guidanceMin, 'Guidance from', { min: 0, max: 30 }),
    guidanceMax: readNumber(form.guidanceMax, 'Guidance to', { min: 0, max: 30 }),
    lr: readNumber(form.lr, 'Learning rate', { min: 1e-7, max: 1 }),
    batch: readNumber(form.batch, 'Batch size', { min: 1, max: 4096, integer: true }),
    anchorSteps: readNumber(form.anchorSteps, 'Anchors', { min: 1, max: 8, integer: true }),
    shift: readNumber(form.shift, 'Shift', { min: 0.1, max: 20 }),
    backwardSimulation: readNumber(form.backwardSimulation, 'Backward simulation', { min: 0, max: 1 }),
    emaDecay: readNumber(form.emaDecay, 'Moving average', { min: 0, max: MAX_EMA_DECAY, note: ' (0: off)' }),
    regressionWeight: readNumber(form.regressionWeight, 'Regression weight', { min: 0, max: 10, note: ' (0: off)' }),
    seed: readNumber(form.seed, 'Seed', { min: 0, max: MAX_SEED, integer: true }),
    iterations: readNumber(form.iterations, 'Stop at iteration', { min: 1, max: 1_000_000, integer: true }),
    checkpointEvery: readNumber(form.checkpointEvery, 'Checkpoint every', { min: 1, max: 100_000, integer: true }),
    figureEvery: readNumber(form.figureEvery, 'Figures every', { min: 1, max: 100_000, integer: true }),
    evalCaptions: readNumber(form.evalCaptions, 'Evaluation captions', { min: 8, max: 256, integer: true }),
  };
  for (const field of Object.values(fields)) if ('error' in field) return field;
  const v = Object.fromEntries(Object.entries(fields).map(([key, field]) => [key, (field as { value: number }).value])) as Record<keyof typeof fields, number>;
  if (v.guidanceMin > v.guidanceMax) return { error: `Guidance from (${v.guidanceMin}) must not be above Guidance to (${v.guidanceMax}).` };
  const config: DistillConfig = {
    ...DEFAULT_DISTILL_CONFIG,
    ...taskBase(form.task),
    idaLambda: v.idaLambda,
    alignment: form.alignment,
    isgWeight: v.isgWeight,
    isgLoss: form.isgLoss,
    ganWeight: v.ganWeight,
    fakeStepsPerGeneratorStep: v.ttur,
    guidance: [v.guidanceMin, v.guidanceMax],
    lr: v.lr,
    batch: v.batch,
    anchorSteps: v.anchorSteps,
    shift: v.shift,
    backwardSimulation: v.backwardSimulation,
    // Off is the setting's absence, so a run without the average keeps the identity (and the saved checkpoint) it had.
    ...(v.emaDecay > 0 ? { emaDecay: v.emaDecay } : {}),
    ...(v.regressionWeight > 0 ? { regressionWeight: v.regressionWeight } : {}),
    // Likewise ISG on the last and the first segment (the defaults) are the settings' absence.
    ...(form.isgLast === 'off' ? { isgLastSegment: false } : {}),
    ...(form.isgFirst === 'off' ? { isgFirstSegment: false } : {}),
  };
  try {
    checkDistillConfig(config);
  } catch (error) {
    return { error: (error as Error).message };
  }
  const settings: RunSettings = { task: form.task, seed: v.seed, config, teacherUrl, iterations: v.iterations, checkpointEvery: v.checkpointEvery, figureEvery: v.figureEvery };
  return { settings: isToyTask(form.task) ? settings : { ...settings, evalCaptions: v.evalCaptions } };
}

/** The identity of the run the form describes (null when the form does not read). */
export function formIdentity(form: DistillForm): RunIdentity | null {
  const read = readRunSettings(form, '');
  return 'settings' in read ? { task: read.settings.task, seed: read.settings.seed, config: read.settings.config } : null;
}

/** The form that describes a saved run (its cadence fields kept from `form`). */
export function formOf(identity: RunIdentity, form: DistillForm): DistillForm {
  const c = identity.config;
  return {
    ...form,
    task: identity.task,
    idaLambda: String(c.idaLambda),
    alignment: c.alignment,
    isgWeight: String(c.isgWeight),
    isgLoss: c.isgLoss,
    isgLast: c.isgLastSegment === false ? 'off' : 'on',
    isgFirst: c.isgFirstSegment === false ? 'off' : 'on',
    ganWeight: String(c.ganWeight),
    ttur: String(c.fakeStepsPerGeneratorStep),
    guidanceMin: String(c.guidance[0]),
    guidanceMax: String(c.guidance[1]),
    lr: String(c.lr),
    batch: String(c.batch),
    anchorSteps: String(c.anchorSteps),
    shift: String(c.shift),
    backwardSimulation: String(c.backwardSimulation),
    emaDecay: String(c.emaDecay ?? 0),
    regressionWeight: String(c.regressionWeight ?? 0),
    seed: String(identity.seed),
  };
}
