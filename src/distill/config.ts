// The distillation's hyper-parameters (names as in the SenseFlow paper and shared/DESIGN.md), their defaults, the
// checks that give a clear message for a bad value, and the ablation arms as named presets.
import { anchorSigmas, ANCHOR_SHIFT } from '../flow/schedule';
import type { IsgLossKind } from './losses';

/** What IDA's lerp pulls the fake score toward after each generator step. */
export type Alignment = 'generator' | 'teacher';

export interface DistillConfig {
  /** Samples per iteration. */
  batch: number;
  /** AdamW learning rate of both the generator and the fake score (the paper uses one rate for both). */
  lr: number;
  /** AdamW betas (torch's defaults; DMD2 trains SDXL with the same). */
  beta1: number;
  beta2: number;
  weightDecay: number;
  /** Global gradient-norm clip for each network (0: off). */
  gradClip: number;
  /** TTUR: fake score updates per generator update (the generator updates on iterations t with t % ratio == 0). */
  fakeStepsPerGeneratorStep: number;
  /** IDA: phi <- idaLambda phi + (1 - idaLambda) theta after each generator step; 1 turns it off. */
  idaLambda: number;
  /** 'generator' is IDA; 'teacher' is the pull-to-teacher control arm (the same lerp toward the frozen teacher). */
  alignment: Alignment;
  /** ISG weight; 0 turns it off. */
  isgWeight: number;
  isgLoss: IsgLossKind;
  /** s_mid is drawn in the middle (1 - 2 margin) of the segment [s_next, s_i]. */
  isgMargin: number;
  /**
   * ISG on the last anchor's segment too (s_next = 0; absent or true, as the paper's code does). Its target steps the
   * generator out of an s_mid below every anchor, where the generator is never trained. false: ISG on the segments
   * between anchors only; on Shapes-32 the last segment's target carried the generator's untrained low-noise output,
   * a dotted texture, into the 4-step sampler's last step (docs/ARCHITECTURE.md, "The 4-step texture").
   * Optional so that the settings of runs made before it, and their resume keys, stay what they were.
   */
  isgLastSegment?: boolean;
  /**
   * ISG on the first anchor's segment too (s_i = 1; absent or true, as the paper's code does). Its target pulls the
   * generator's velocity at pure noise toward the teacher's, whose x0 there is the mean over every layout the caption
   * allows; the 1-step sampler uses that same output as its sample. false: no ISG out of the first anchor.
   * Optional for the same reason as isgLastSegment.
   */
  isgFirstSegment?: boolean;
  /** c of the pseudo-Huber loss. */
  pseudoHuberC: number;
  /** Weight of the adversarial term on a frozen network's features (0: off; distill/adversarial.ts): Shapes' evaluator, the toy's teacher copy. */
  ganWeight: number;
  /** Probability of backward simulation for the student's input (else real data noised to the anchor). */
  backwardSimulation: number;
  /** The real score's guidance weight is drawn uniformly in [min, max] per iteration. */
  guidance: readonly [number, number];
  /** DMD's noise level: shift(u, dmdShift) with u ~ U(min, max). */
  dmdSigmaRange: readonly [number, number];
  dmdShift: number;
  /** The student's anchors: anchorSigmas(anchorSteps, shift); fewer-step samplers use its prefixes (1 and 2 of 4). */
  anchorSteps: number;
  shift: number;
  /**
   * An exponential moving average of the generator's weights, ema <- emaDecay ema + (1 - emaDecay) theta after each
   * generator step; the average is the student that is evaluated and exported. Absent or 0: off (the generator itself).
   * Optional so that the settings of runs made before it, and their resume keys, stay what they were.
   */
  emaDecay?: number;
  /**
   * Weight of the optional regression term on the teacher's noise -> sample pairs (distill/regression.ts; DMD's, not
   * SenseFlow's): the student's 1-step sample from a pair's noise against the teacher's 50-step sample. Absent or 0:
   * off. Optional so that the settings of runs made before it, and their resume keys, stay what they were.
   */
  regressionWeight?: number;
  /** How many pairs the regression term uses (rounded up to whole batches; default 512). */
  regressionPairs?: number;
  /**
   * 'all': the regression term also trains the later anchors: the pairs keep the teacher's trajectory at each anchor
   * after the first, and on a generator step whose anchor is s_i > s_0 the generator's x0 from that trajectory point
   * is pulled toward the same teacher sample (a consistency target: the teacher's ODE maps the point to it). Absent:
   * the first anchor only (DMD's term). Optional for the same reason as regressionWeight.
   */
  regressionAnchors?: 'all';
  /**
   * The guidance the teacher's pairs are integrated with. Absent: the middle of the real score's range (4 for [3, 5]),
   * so a run that changes the real score's range can keep the pairs (and the 50-step samples they hold) it had.
   */
  regressionGuidance?: number;
  /**
   * A guidance interval for the real score (Kynkaanniemi et al. 2024, "Applying guidance in a limited interval"): DMD
   * noise levels above this use the teacher's conditional velocity (w = 1), those at or below it the drawn w. At
   * high noise the guided teacher's x0 is its mean over every layout the caption allows pushed w times away from the
   * unconditional one, which asks the student for more of the prompt everywhere. Absent: guidance at every level.
   */
  dmdGuidanceMaxSigma?: number;
}

export const DEFAULT_DISTILL_CONFIG: Readonly<DistillConfig> = {
  batch: 32,
  lr: 1e-4,
  beta1: 0.9,
  beta2: 0.999,
  weightDecay: 0,
  gradClip: 1,
  fakeStepsPerGeneratorStep: 5,
  idaLambda: 0.97,
  alignment: 'generator',
  isgWeight: 0.5,
  isgLoss: 'pseudo-huber',
  isgMargin: 0.1,
  pseudoHuberC: 1e-3,
  ganWeight: 0,
  backwardSimulation: 0.5,
  guidance: [3, 5],
  dmdSigmaRange: [0.02, 0.98],
  dmdShift: ANCHOR_SHIFT,
  anchorSteps: 4,
  shift: ANCHOR_SHIFT,
};

/** The ablation arms (issue: DMD alone, +IDA, +ISG, +IDA+ISG, +GAN, pull-to-teacher), as overrides of the defaults. */
export const ARMS = {
  dmd: { label: 'DMD alone', overrides: { idaLambda: 1, isgWeight: 0, ganWeight: 0 } },
  ida: { label: '+IDA', overrides: { idaLambda: 0.97, isgWeight: 0, ganWeight: 0 } },
  isg: { label: '+ISG', overrides: { idaLambda: 1, isgWeight: 0.5, ganWeight: 0 } },
  senseflow: { label: 'SenseFlow (+IDA +ISG)', overrides: { idaLambda: 0.97, isgWeight: 0.5, ganWeight: 0 } },
  gan: { label: '+IDA +ISG +GAN', overrides: { idaLambda: 0.97, isgWeight: 0.5, ganWeight: 0.1 } },
  'pull-to-teacher': { label: 'pull-to-teacher (control for IDA)', overrides: { idaLambda: 0.97, alignment: 'teacher', isgWeight: 0, ganWeight: 0 } },
} as const satisfies Record<string, { label: string; overrides: Partial<DistillConfig> }>;

export type ArmName = keyof typeof ARMS;
export const ARM_NAMES = Object.keys(ARMS) as ArmName[];

/** The defaults, then an arm's overrides, then explicit options; checked. */
export function distillConfig(arm: ArmName | null, options: Partial<DistillConfig> = {}, base: Partial<DistillConfig> = {}): DistillConfig {
  const config: DistillConfig = { ...DEFAULT_DISTILL_CONFIG, ...base, ...(arm ? ARMS[arm].overrides : {}), ...options };
  checkDistillConfig(config);
  return config;
}

/** Every problem at once, each naming the setting and its valid range. */
export function checkDistillConfig(c: DistillConfig): void {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => ok || problems.push(message);
  const finite = (v: number) => Number.isFinite(v);
  check(Number.isInteger(c.batch) && c.batch >= 1, `batch must be an integer >= 1, got ${c.batch}`);
  check(finite(c.lr) && c.lr > 0, `lr must be a positive number, got ${c.lr}`);
  check(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1, `beta1 and beta2 must be in [0, 1), got ${c.beta1}, ${c.beta2}`);
  check(finite(c.weightDecay) && c.weightDecay >= 0, `weightDecay must be >= 0, got ${c.weightDecay}`);
  check(finite(c.gradClip) && c.gradClip >= 0, `gradClip must be >= 0 (0: off), got ${c.gradClip}`);
  check(Number.isInteger(c.fakeStepsPerGeneratorStep) && c.fakeStepsPerGeneratorStep >= 1, `fakeStepsPerGeneratorStep (TTUR) must be an integer >= 1, got ${c.fakeStepsPerGeneratorStep}`);
  check(c.idaLambda >= 0 && c.idaLambda <= 1, `idaLambda must be in [0, 1] (1: IDA off), got ${c.idaLambda}`);
  check(c.alignment === 'generator' || c.alignment === 'teacher', `alignment must be "generator" (IDA) or "teacher" (pull-to-teacher), got ${JSON.stringify(c.alignment)}`);
  check(finite(c.isgWeight) && c.isgWeight >= 0, `isgWeight must be >= 0 (0: ISG off), got ${c.isgWeight}`);
  check(c.isgLoss === 'pseudo-huber' || c.isgLoss === 'l2', `isgLoss must be "pseudo-huber" or "l2", got ${JSON.stringify(c.isgLoss)}`);
  check(c.isgMargin >= 0 && c.isgMargin < 0.5, `isgMargin must be in [0, 0.5), got ${c.isgMargin}`);
  check(c.isgLastSegment === undefined || typeof c.isgLastSegment === 'boolean', `isgLastSegment must be true or false, got ${JSON.stringify(c.isgLastSegment)}`);
  check(c.isgFirstSegment === undefined || typeof c.isgFirstSegment === 'boolean', `isgFirstSegment must be true or false, got ${JSON.stringify(c.isgFirstSegment)}`);
  check(finite(c.pseudoHuberC) && c.pseudoHuberC > 0, `pseudoHuberC must be positive, got ${c.pseudoHuberC}`);
  check(finite(c.ganWeight) && c.ganWeight >= 0, `ganWeight must be >= 0 (0: off), got ${c.ganWeight}`);
  check(c.backwardSimulation >= 0 && c.backwardSimulation <= 1, `backwardSimulation must be a probability in [0, 1], got ${c.backwardSimulation}`);
  check(c.guidance.length === 2 && finite(c.guidance[0]) && c.guidance[0] >= 0 && c.guidance[0] <= c.guidance[1], `guidance must be a range [min, max] with 0 <= min <= max, got [${c.guidance.join(', ')}]`);
  check(c.dmdSigmaRange[0] > 0 && c.dmdSigmaRange[0] <= c.dmdSigmaRange[1] && c.dmdSigmaRange[1] <= 1, `dmdSigmaRange must satisfy 0 < min <= max <= 1, got [${c.dmdSigmaRange.join(', ')}]`);
  check(finite(c.dmdShift) && c.dmdShift > 0, `dmdShift must be positive, got ${c.dmdShift}`);
  check(Number.isInteger(c.anchorSteps) && c.anchorSteps >= 1 && c.anchorSteps <= 8, `anchorSteps must be an integer in 1..8, got ${c.anchorSteps}`);
  check(finite(c.shift) && c.shift > 0, `shift must be positive, got ${c.shift}`);
  check(c.emaDecay === undefined || (c.emaDecay >= 0 && c.emaDecay < 1), `emaDecay must be in [0, 1) (0: off), got ${c.emaDecay}`);
  check(c.regressionWeight === undefined || (finite(c.regressionWeight) && c.regressionWeight >= 0), `regressionWeight must be >= 0 (0: off), got ${c.regressionWeight}`);
  check(c.regressionPairs === undefined || (Number.isInteger(c.regressionPairs) && c.regressionPairs >= 1), `regressionPairs must be an integer >= 1, got ${c.regressionPairs}`);
  check(c.regressionAnchors === undefined || c.regressionAnchors === 'all', `regressionAnchors must be "all" or absent (the first anchor only), got ${JSON.stringify(c.regressionAnchors)}`);
  check(c.regressionGuidance === undefined || (finite(c.regressionGuidance) && c.regressionGuidance >= 0), `regressionGuidance must be a number >= 0, got ${c.regressionGuidance}`);
  check(c.dmdGuidanceMaxSigma === undefined || (c.dmdGuidanceMaxSigma > 0 && c.dmdGuidanceMaxSigma <= 1), `dmdGuidanceMaxSigma must be in (0, 1], got ${c.dmdGuidanceMaxSigma}`);
  if (problems.length > 0) throw new Error(`invalid distillation settings:\n  ${problems.join('\n  ')}`);
}

/** Whether ISG trains the step out of the training anchor `anchorIndex` to the next one (to 0 after the last anchor). */
export function isgApplies(config: DistillConfig, anchorIndex: number): boolean {
  if (config.isgWeight === 0) return false;
  if (anchorIndex === 0 && config.isgFirstSegment === false) return false;
  return anchorIndex < config.anchorSteps - 1 || config.isgLastSegment !== false;
}

/** The student's anchors for its largest step count (the ones training draws from). */
export const trainingAnchors = (c: DistillConfig): number[] => anchorSigmas(c.anchorSteps, c.shift);

/** The step counts a student trained on anchorSteps anchors serves: the powers of two up to it (1, 2, 4). */
export function servedStepCounts(c: DistillConfig): number[] {
  const counts: number[] = [];
  for (let n = 1; n <= c.anchorSteps; n *= 2) if (c.anchorSteps % n === 0) counts.push(n);
  return counts;
}
