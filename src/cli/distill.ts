// `npm run distill -- toy2d|shapes [options] --out runs/<name>`: SenseFlow distillation (src/distill/senseflow.ts) of a
// bundled teacher into a few-step student, with progress lines, metrics as JSON lines, evaluations at intervals,
// checkpoints to resume from exactly (--resume), and the run folder `npm run export` turns into a bundle:
//   <out>/config.json            task, teacher, anchors, shift, arm, seed, iterations, wall time, adapter, command, distill
//   <out>/generator.safetensors  the student (the generator, or its moving average with --ema; at every checkpoint and the end)
//   <out>/metrics.jsonl          {"kind":"train",...} per iteration, {"kind":"eval",...} at intervals, {"kind":"restore",...}
//   <out>/eval.json              the last evaluation
//   <out>/regression-pairs.safetensors  with --regression: the teacher's noise -> sample pairs (made once, reused on --resume,
//                                continued where a stopped run left them or a run asks for more)
//   <out>/checkpoint/            generator, fake score, both optimizers, state.json (and the GAN heads, the average)
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { anchorSigmas } from '../flow/schedule';
import { ARM_NAMES, type ArmName, distillConfig, type DistillConfig, servedStepCounts } from '../distill/config';
import { regressionChunks, TEACHER_STEPS, TeacherPairs } from '../distill/regression';
import { type DistillCheckpoint, type IterationMetrics, SenseFlowDistiller } from '../distill/senseflow';
import { evaluateToy, referenceGuidance, toyTeacherReference } from '../distill/toyEval';
import { toyTask } from '../distill/toyTask';
import { shapesTask } from '../distill/shapesTask';
import type { NodeAdapterKind } from '../gpu/node';
import { loadEvaluator } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import type { Module } from '../nn/module';
import { loadModule } from '../nn/safetensors';
import type { Kept } from '../nn/tensor';
import type { Manifest } from '../pipeline/manifest';
import { checkSameRun, checkpointDir, readBytes, writeCheckpointFiles } from './checkpoint';
import { readBundleManifest } from './bundleParts';
import { adapterLabel, withEngine } from './engine';
import { loadShapesTeacher, loadToyTeacher } from './distillTeachers';
import { adapterFlag, integerAtLeast, numberFlag, positiveNumberFlag, UsageError } from './options';
import { formatDuration } from './trainLoop';

export const DISTILL_USAGE = `usage: npm run distill -- toy2d|shapes --out DIR [--arm ${ARM_NAMES.join('|')}]
         [--ida LAMBDA|off] [--isg WEIGHT|off] [--gan 0|W] [--ttur K] [--steps N] [--seed S] [--batch B] [--lr LR]
         [--guidance W|MIN:MAX] [--backward-simulation P] [--isg-loss pseudo-huber|l2] [--isg-last on|off] [--isg-first on|off] [--align generator|teacher]
         [--dmd-shift K (DMD's noise levels shift(u, K), u ~ U(0.02, 0.98); default 3, 1 = uniform)]
         [--dmd-guidance-max S (a guidance interval: DMD's real score unguided, w = 1, at noise levels above S)]
         [--teacher BUNDLE_DIR] [--eval-every N] [--checkpoint-every N] [--log-every N] [--max-minutes M]
         [--adapter llvmpipe|swiftshader|default] [--resume] [--init-from STUDENT_BUNDLE_OR_RUN_DIR] [--ema DECAY|off]
         [--regression W|off (DMD's regression on the teacher's 50-step noise -> sample pairs; not SenseFlow's)] [--regression-pairs N]
         [--regression-anchors first|all (all: also the later anchors, from the teacher's trajectory points)]
         [--regression-guidance W (the pairs' guidance; default the middle of --guidance's range)]
       --steps 0 only measures the starting generator (the teacher's weights, or --init-from's) and writes eval.json`;

export interface DistillOptions {
  task: 'toy2d' | 'shapes';
  out: string;
  teacher: string;
  arm: ArmName;
  config: DistillConfig;
  steps: number;
  seed: number;
  evalEvery: number;
  checkpointEvery: number;
  logEvery: number;
  maxMinutes?: number;
  adapter: NodeAdapterKind;
  resume: boolean;
  /** Start the generator from this student (a bundle, or a distill run folder) instead of the teacher's weights. */
  initFrom?: string;
  argv: readonly string[];
}

const DEFAULT_TEACHERS = { toy2d: 'models/toy2d/ring', shapes: 'models/shapes-teacher' } as const;

/** Per-task defaults the recipe leaves open: the toy's teacher is sampled at guidance 1 (its conditional). */
const TASK_DEFAULTS: Record<DistillOptions['task'], Partial<DistillConfig>> = {
  toy2d: { batch: 256, lr: 1e-3, guidance: [1, 1] },
  shapes: { batch: 32, lr: 1e-4, guidance: [3, 5] },
};

export function parseDistillOptions(argv: readonly string[]): DistillOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(
          ['out', 'arm', 'ida', 'isg', 'gan', 'ttur', 'steps', 'seed', 'batch', 'lr', 'guidance', 'backward-simulation', 'isg-loss', 'isg-last', 'isg-first', 'align', 'dmd-shift', 'teacher', 'eval-every', 'checkpoint-every', 'log-every', 'max-minutes', 'adapter', 'init-from', 'ema', 'regression', 'regression-pairs', 'regression-anchors', 'regression-guidance', 'dmd-guidance-max'].map(
            (name) => [name, { type: 'string' as const }],
          ),
        ),
        resume: { type: 'boolean' as const },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  const v = (name: string) => values[name] as string | undefined;
  const task = positionals[0];
  if (positionals.length !== 1 || (task !== 'toy2d' && task !== 'shapes')) throw new UsageError(`give one task, toy2d or shapes${positionals.length ? `, got ${positionals.join(' ')}` : ''}`);
  const out = v('out');
  if (!out) throw new UsageError('--out DIR is required (e.g. --out runs/senseflow-toy)');
  const arm = (v('arm') ?? 'senseflow') as ArmName;
  if (!ARM_NAMES.includes(arm)) throw new UsageError(`--arm must be one of ${ARM_NAMES.join(', ')}, got "${arm}"`);
  const adapter = adapterFlag(v('adapter') ?? 'llvmpipe');

  const overrides: Partial<DistillConfig> = {};
  const ida = v('ida');
  if (ida !== undefined) overrides.idaLambda = ida === 'off' ? 1 : numberFlag(ida, 'ida', (n) => n >= 0 && n <= 1, 'a lambda in [0, 1] or "off"');
  const isg = v('isg');
  if (isg !== undefined) overrides.isgWeight = isg === 'off' ? 0 : numberFlag(isg, 'isg', (n) => n >= 0, 'a weight >= 0 or "off"');
  const gan = numberFlag(v('gan'), 'gan', (n) => n >= 0, 'a weight >= 0');
  if (gan !== undefined) overrides.ganWeight = gan;
  const ema = v('ema');
  // Only a decay above 0 enters the settings: a run without the average keeps the settings (and resume key) it had.
  if (ema !== undefined && ema !== 'off') {
    const decay = numberFlag(ema, 'ema', (n) => n >= 0 && n < 1, 'a decay in [0, 1) or "off"')!;
    if (decay > 0) overrides.emaDecay = decay;
  }
  // Like --ema: only a weight above 0 enters the settings, so runs without the term keep their resume keys.
  const regression = v('regression');
  if (regression !== undefined && regression !== 'off') {
    const weight = numberFlag(regression, 'regression', (n) => n >= 0, 'a weight >= 0 or "off"')!;
    if (weight > 0) overrides.regressionWeight = weight;
  }
  const pairs = integerAtLeast(v('regression-pairs'), 'regression-pairs', 1);
  if (pairs !== undefined) {
    if (overrides.regressionWeight === undefined) throw new UsageError('--regression-pairs needs --regression W (a weight above 0)');
    overrides.regressionPairs = pairs;
  }
  const regressionAnchors = v('regression-anchors');
  if (regressionAnchors !== undefined) {
    if (regressionAnchors !== 'first' && regressionAnchors !== 'all') throw new UsageError(`--regression-anchors must be first or all, got "${regressionAnchors}"`);
    if (overrides.regressionWeight === undefined) throw new UsageError('--regression-anchors needs --regression W (a weight above 0)');
    if (regressionAnchors === 'all') overrides.regressionAnchors = 'all';
  }
  const regressionGuidance = numberFlag(v('regression-guidance'), 'regression-guidance', (n) => n >= 0, 'a guidance weight >= 0');
  if (regressionGuidance !== undefined) {
    if (overrides.regressionWeight === undefined) throw new UsageError('--regression-guidance needs --regression W (a weight above 0)');
    overrides.regressionGuidance = regressionGuidance;
  }
  const guidanceMax = numberFlag(v('dmd-guidance-max'), 'dmd-guidance-max', (n) => n > 0 && n <= 1, 'a noise level in (0, 1]');
  if (guidanceMax !== undefined) overrides.dmdGuidanceMaxSigma = guidanceMax;
  const ttur = integerAtLeast(v('ttur'), 'ttur', 1);
  if (ttur !== undefined) overrides.fakeStepsPerGeneratorStep = ttur;
  const batch = integerAtLeast(v('batch'), 'batch', 1);
  if (batch !== undefined) overrides.batch = batch;
  const lr = positiveNumberFlag(v('lr'), 'lr');
  if (lr !== undefined) overrides.lr = lr;
  const guidance = v('guidance');
  if (guidance !== undefined) {
    const parts = guidance.split(':').map((p) => numberFlag(p, 'guidance', (n) => n >= 0, 'W or MIN:MAX with numbers >= 0')!);
    if (parts.length > 2 || parts[0]! > parts.at(-1)!) throw new UsageError(`--guidance must be W or MIN:MAX with MIN <= MAX, got "${guidance}"`);
    overrides.guidance = [parts[0]!, parts.at(-1)!];
  }
  const backwardSimulation = numberFlag(v('backward-simulation'), 'backward-simulation', (n) => n >= 0 && n <= 1, 'a probability in [0, 1]');
  if (backwardSimulation !== undefined) overrides.backwardSimulation = backwardSimulation;
  const dmdShift = positiveNumberFlag(v('dmd-shift'), 'dmd-shift');
  if (dmdShift !== undefined) overrides.dmdShift = dmdShift;
  const isgLoss = v('isg-loss');
  if (isgLoss !== undefined) {
    if (isgLoss !== 'pseudo-huber' && isgLoss !== 'l2') throw new UsageError(`--isg-loss must be pseudo-huber or l2, got "${isgLoss}"`);
    overrides.isgLoss = isgLoss;
  }
  // ISG on the last (first) anchor's segment: on (the default) is the setting's absence, so earlier runs keep their keys.
  const isgLast = v('isg-last');
  if (isgLast !== undefined) {
    if (isgLast !== 'on' && isgLast !== 'off') throw new UsageError(`--isg-last must be on or off, got "${isgLast}"`);
    if (isgLast === 'off') overrides.isgLastSegment = false;
  }
  const isgFirst = v('isg-first');
  if (isgFirst !== undefined) {
    if (isgFirst !== 'on' && isgFirst !== 'off') throw new UsageError(`--isg-first must be on or off, got "${isgFirst}"`);
    if (isgFirst === 'off') overrides.isgFirstSegment = false;
  }
  const align = v('align');
  if (align !== undefined) {
    if (align !== 'generator' && align !== 'teacher') throw new UsageError(`--align must be generator (IDA) or teacher (pull-to-teacher), got "${align}"`);
    overrides.alignment = align;
  }
  let config: DistillConfig;
  try {
    config = distillConfig(arm, overrides, TASK_DEFAULTS[task]);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const steps = integerAtLeast(v('steps'), 'steps', 0) ?? (task === 'toy2d' ? 2000 : 1000);
  return {
    task,
    out,
    teacher: v('teacher') ?? DEFAULT_TEACHERS[task],
    arm,
    config,
    steps,
    seed: integerAtLeast(v('seed'), 'seed', 0) ?? 1,
    evalEvery: integerAtLeast(v('eval-every'), 'eval-every', 1) ?? Math.max(1, Math.round(steps / 10)),
    checkpointEvery: integerAtLeast(v('checkpoint-every'), 'checkpoint-every', 1) ?? Math.max(50, Math.round(steps / 10)),
    logEvery: integerAtLeast(v('log-every'), 'log-every', 1) ?? 50,
    maxMinutes: numberFlag(v('max-minutes'), 'max-minutes', (n) => n > 0, 'a positive number of minutes'),
    adapter,
    resume: values.resume === true,
    ...(v('init-from') !== undefined ? { initFrom: v('init-from') } : {}),
    argv,
  };
}

/** How a task measures its student: the evaluation (JSON) and a one-line summary of it. */
interface Evaluation {
  measure(): Promise<Record<string, unknown>>;
  summary(result: Record<string, unknown>): string;
}

interface Prepared<Net extends Module, Condition extends Kept> {
  distiller: SenseFlowDistiller<Net, Condition>;
  evaluation: Evaluation;
  /** The sha256 of the teacher's engine checkpoints (checked against its manifest): what the run distils, whatever its path. */
  teacherWeights: TeacherWeights;
  /** Frees what prepare() loaded besides the distiller (the teacher, the text encoder, the evaluator). */
  dispose(): void;
}

async function prepare(engine: Engine, options: DistillOptions): Promise<Prepared<Module, Kept>> {
  const { config, seed } = options;
  if (options.task === 'toy2d') {
    const { teacher, mixture, manifest } = await loadToyTeacher(engine, options.teacher);
    const task = toyTask(teacher, mixture);
    const distiller = new SenseFlowDistiller(task, config, seed);
    const reference = await toyTeacherReference(task, mixture, referenceGuidance(config));
    const evaluation: Evaluation = {
      measure: async () => ({ ...(await evaluateToy(distiller, mixture, reference)) }),
      summary: (r) => {
        const steps = r.steps as Record<string, { energyDistance: number; modeCoverage: number }>;
        return `${Object.entries(steps).map(([n, m]) => `${n}-step ED ${m.energyDistance.toFixed(4)} modes ${(100 * m.modeCoverage).toFixed(0)}%`).join(', ')}, fake-tracking ${(r.fakeTrackingError as number).toFixed(4)}, |phi-theta| ${(r.parameterDistance as number).toFixed(3)}`;
      },
    };
    return { distiller: distiller as unknown as SenseFlowDistiller<Module, Kept>, evaluation, teacherWeights: teacherWeights(manifest), dispose: () => teacher.dispose() };
  }
  const { teacher, textEncoder, manifest } = await loadShapesTeacher(engine, options.teacher);
  const weights = teacherWeights(manifest);
  // One evaluator for the evaluations and, with --gan, the GAN term's frozen features.
  const evaluator = loadEvaluator(engine, readBytes(join('models', 'evaluator', 'evaluator.safetensors')));
  const task = shapesTask(teacher, textEncoder, config.ganWeight > 0 ? evaluator : undefined);
  const distiller = new SenseFlowDistiller(task, config, seed);
  const { shapesEvaluation } = await import('./distillShapesEval');
  return {
    distiller: distiller as unknown as SenseFlowDistiller<Module, Kept>,
    evaluation: await shapesEvaluation(engine, distiller, textEncoder, evaluator, options, weights),
    teacherWeights: weights,
    dispose: () => [teacher, textEncoder, evaluator].forEach((m) => m.dispose()),
  };
}

export type TeacherWeights = { denoiser: string; textEncoder?: string };

/** The sha256 of a teacher bundle's engine checkpoints, as its manifest lists them (loading checked the files against it). */
function teacherWeights(manifest: Manifest): TeacherWeights {
  const sha = (path: string | undefined) => manifest.files.find((f) => f.path === path)?.sha256;
  const denoiser = sha(manifest.checkpoints?.denoiser?.path)!;
  const textEncoder = sha(manifest.checkpoints?.textEncoder?.path);
  return textEncoder ? { denoiser, textEncoder } : { denoiser };
}

/** The run identity a --resume must match: the teacher by its path and by its weights (a bundle retrained in place is another teacher). */
function identity(options: DistillOptions, weights: TeacherWeights) {
  return { task: options.task, teacher: options.teacher, teacherWeights: weights, arm: options.arm, seed: options.seed, distill: options.config, ...(options.initFrom ? { initFrom: options.initFrom } : {}) };
}

/**
 * The generator weights of --init-from: a student bundle's engine checkpoint (manifest.json's checkpoints.denoiser)
 * or a distill run folder's generator.safetensors. Only the generator continues; the fake score starts from the
 * teacher as in any run (IDA and TTUR bring it to the generator's distribution within a few iterations).
 */
export function initialGenerator(dir: string, teacher?: string): Uint8Array {
  if (existsSync(join(dir, 'manifest.json'))) {
    const manifest = readBundleManifest(dir);
    const path = manifest.checkpoints?.denoiser?.path;
    if (!path) throw new UsageError(`--init-from ${dir}: its manifest.json has no checkpoints.denoiser (the engine weights a student bundle carries)`);
    if (teacher !== undefined) checkSameTextEncoder(dir, manifest, teacher);
    return readBytes(join(dir, path));
  }
  if (existsSync(join(dir, 'generator.safetensors'))) return readBytes(join(dir, 'generator.safetensors'));
  throw new UsageError(`--init-from ${dir}: neither a bundle (manifest.json) nor a distill run folder (generator.safetensors)`);
}

/**
 * A text-to-image student reads its teacher's text states: a student bundle whose text encoder is not the teacher's
 * (the teacher was trained further since) would continue under conditioning it never saw. Refused, naming both hashes.
 */
function checkSameTextEncoder(dir: string, student: Manifest, teacherDir: string): void {
  if (!existsSync(join(teacherDir, 'manifest.json'))) return;
  const teacher = readBundleManifest(teacherDir);
  const hash = (m: Manifest) => m.files.find((f) => f.path === m.checkpoints?.textEncoder?.path)?.sha256;
  const [mine, theirs] = [hash(student), hash(teacher)];
  if (mine === undefined || theirs === undefined || mine === theirs) return;
  throw new UsageError(
    `--init-from ${dir}: its text encoder (sha256 ${mine.slice(0, 12)}...) is not the one of the teacher ${teacherDir} (${theirs.slice(0, 12)}...): ` +
      'the student was distilled from another teacher and would continue under text states it never saw. ' +
      'Start from the teacher (drop --init-from), or pass --teacher with the teacher it was distilled from.',
  );
}

function writeRunConfig(options: DistillOptions, weights: TeacherWeights, engine: Engine, iterations: number, wallSeconds: number): void {
  const anchors = Object.fromEntries(servedStepCounts(options.config).map((n) => [String(n), anchorSigmas(n, options.config.shift)]));
  const mixture = options.task === 'toy2d' ? { mixture: options.teacher.replace(/\/$/, '').split('/').at(-1) } : {};
  const config = {
    ...identity(options, weights),
    ...mixture,
    anchors,
    shift: options.config.shift,
    iterations,
    wallSeconds: Math.round(wallSeconds),
    adapter: adapterLabel(engine),
    command: `npm run distill -- ${options.argv.join(' ')}`,
  };
  writeFileSync(join(options.out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
}

function checkpointFiles(checkpoint: DistillCheckpoint, state: object): Record<string, Uint8Array | string> {
  return {
    'generator.safetensors': checkpoint.generator,
    'fake-score.safetensors': checkpoint.fakeScore,
    'generator-optimizer.safetensors': checkpoint.generatorOptimizer,
    'fake-optimizer.safetensors': checkpoint.fakeOptimizer,
    // The GAN term's heads and their optimizer: without them a GAN run could not resume.
    ...(checkpoint.discriminator ? { 'discriminator.safetensors': checkpoint.discriminator } : {}),
    ...(checkpoint.discriminatorOptimizer ? { 'discriminator-optimizer.safetensors': checkpoint.discriminatorOptimizer } : {}),
    ...(checkpoint.ema ? { 'ema.safetensors': checkpoint.ema } : {}),
    'state.json': `${JSON.stringify({ step: checkpoint.iteration, ...state }, null, 2)}\n`,
  };
}

function readDistillCheckpoint(out: string): { checkpoint: DistillCheckpoint; state: Record<string, unknown> } | null {
  const dir = checkpointDir(out);
  if (!dir) return null;
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Record<string, unknown>;
  const read = (name: string) => readBytes(join(dir, name));
  const checkpoint: DistillCheckpoint = {
    iteration: state.step as number,
    generator: read('generator.safetensors'),
    fakeScore: read('fake-score.safetensors'),
    generatorOptimizer: read('generator-optimizer.safetensors'),
    fakeOptimizer: read('fake-optimizer.safetensors'),
  };
  if (existsSync(join(dir, 'discriminator.safetensors'))) {
    checkpoint.discriminator = read('discriminator.safetensors');
    checkpoint.discriminatorOptimizer = read('discriminator-optimizer.safetensors');
  }
  if (existsSync(join(dir, 'ema.safetensors'))) checkpoint.ema = read('ema.safetensors');
  return { state, checkpoint };
}

/** Keeps metrics.jsonl consistent with a resumed iteration: lines of iterations not yet (re)done are dropped. */
function prepareMetricsLog(path: string, startIteration: number): void {
  if (startIteration === 0 || !existsSync(path)) {
    writeFileSync(path, '');
    return;
  }
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((line) => {
      const { kind, iteration } = JSON.parse(line) as { kind: string; iteration: number };
      return kind === 'eval' ? iteration <= startIteration : iteration < startIteration;
    });
  writeFileSync(path, kept.map((line) => `${line}\n`).join(''));
}

export async function distill(engine: Engine, options: DistillOptions): Promise<{ iterations: number; evaluation: Record<string, unknown> }> {
  mkdirSync(options.out, { recursive: true });
  const { distiller, evaluation, teacherWeights: weights, dispose } = await prepare(engine, options);
  const metricsPath = join(options.out, 'metrics.jsonl');
  const log = (record: object) => appendFileSync(metricsPath, `${JSON.stringify(record)}\n`);
  let priorSeconds = 0;
  const saved = options.resume ? readDistillCheckpoint(options.out) : null;
  if (options.resume && !saved) console.log(`[distill] --resume: ${options.out} has no checkpoint; starting from ${options.initFrom ? `the student in ${options.initFrom}` : 'the teacher'}`);
  if (saved) {
    // The moving average only watches the training, so --ema may be added, changed or dropped on resume: the run's
    // trajectory is the same; an average added here starts from the resumed generator.
    const trajectory = (state: Record<string, unknown>) => ({ ...state, distill: { ...(state.distill as object), emaDecay: undefined } });
    // Checkpoints written before the teacher's weights were recorded (2026-12-07) are matched on the rest.
    const keys = ['task', 'teacher', ...(saved.state.teacherWeights === undefined ? [] : ['teacherWeights']), 'arm', 'seed', 'distill', 'initFrom'];
    checkSameRun(trajectory(saved.state), trajectory(identity(options, weights)), keys);
    distiller.restore(saved.checkpoint);
    priorSeconds = (saved.state.wallSeconds as number) ?? 0;
    console.log(`[distill] resumed from iteration ${distiller.iteration}`);
  } else if (options.initFrom) {
    try {
      loadModule(distiller.generator, initialGenerator(options.initFrom, options.teacher));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new Error(`--init-from ${options.initFrom}: its generator does not fit the teacher ${options.teacher}: ${(error as Error).message}`);
    }
    console.log(`[distill] generator initialised from ${options.initFrom}`);
  }
  const start = distiller.iteration;
  prepareMetricsLog(metricsPath, start);
  const name = `distill ${options.task} ${options.arm}`;
  if ((options.config.regressionWeight ?? 0) > 0 && options.steps > start) await prepareRegressionPairs(distiller, options, weights, name);
  const started = performance.now();
  const elapsed = () => priorSeconds + (performance.now() - started) / 1000;
  const deadline = options.maxMinutes === undefined ? Infinity : started + options.maxMinutes * 60_000;

  const runEvaluation = async () => {
    const result = await evaluation.measure();
    log({ kind: 'eval', ...result, iteration: distiller.iteration });
    writeFileSync(join(options.out, 'eval.json'), `${JSON.stringify({ ...result, iteration: distiller.iteration }, null, 2)}\n`);
    console.log(`[${name}] eval @${distiller.iteration}: ${evaluation.summary(result)}`);
    return result;
  };
  const saveCheckpoint = async () => {
    const checkpoint = await distiller.checkpoint();
    writeCheckpointFiles(options.out, checkpointFiles(checkpoint, { ...identity(options, weights), wallSeconds: Math.round(elapsed()) }));
    writeFileSync(join(options.out, 'generator.safetensors'), checkpoint.ema ?? checkpoint.generator); // the student
    writeRunConfig(options, weights, engine, distiller.iteration, elapsed());
  };

  let last: Record<string, unknown> = {};
  if (start === 0) last = await runEvaluation();
  let windowStart = performance.now();
  let windowIterations = 0;
  while (distiller.iteration < options.steps && performance.now() < deadline) {
    const metrics: IterationMetrics = await distiller.step();
    log({ kind: 'train', ...metrics });
    if (metrics.restored) {
      log({ kind: 'restore', iteration: metrics.iteration, ...metrics.restored });
      console.warn(`[${name}] iteration ${metrics.iteration}: ${metrics.restored.reason}; restored the snapshot of iteration ${metrics.restored.toIteration} and went on`);
    }
    windowIterations++;
    const t = distiller.iteration;
    if (t % options.logEvery === 0) {
      const rate = windowIterations / ((performance.now() - windowStart) / 1000);
      const term = (label: string, value: number | undefined) => (value === undefined ? '' : ` ${label} ${value.toExponential(3)}`);
      const gen = metrics.dmdLoss === undefined ? '' : `${term('dmd', metrics.dmdLoss)}${term('isg', metrics.isgLoss)}${term('reg', metrics.regressionLoss)}`;
      console.log(`[${name}] ${t}/${options.steps} fake ${metrics.fakeLoss.toFixed(4)}${gen} | ${rate.toFixed(2)} it/s, elapsed ${formatDuration(elapsed())}, left ~${formatDuration((options.steps - t) / rate)}`);
      windowStart = performance.now();
      windowIterations = 0;
    }
    if (t % options.evalEvery === 0 || t === options.steps) last = await runEvaluation();
    if (t % options.checkpointEvery === 0) await saveCheckpoint();
  }
  if (distiller.iteration < options.steps) console.log(`[${name}] --max-minutes reached at iteration ${distiller.iteration}; continue with --resume`);
  await saveCheckpoint(); // also writes the student as generator.safetensors
  console.log(`[${name}] done: iterations ${start}..${distiller.iteration} in ${formatDuration((performance.now() - started) / 1000)}; run folder ${options.out}`);
  distiller.dispose();
  dispose();
  return { iterations: distiller.iteration, evaluation: last };
}

/**
 * The regression term's pairs: read from the run folder, or integrated by the teacher once and stored there, marked
 * with the teacher's weights so that a folder reused with another teacher does not train on the old one's samples.
 * The file is rewritten every PAIRS_SAVE_EVERY chunks while the teacher integrates (Shapes: ~3 minutes of 45 on
 * llvmpipe), so a stopped run keeps what it made; a file with fewer pairs than the run needs (stopped part way, or
 * a larger --regression-pairs) is continued, not integrated again.
 */
async function prepareRegressionPairs(distiller: SenseFlowDistiller<Module, Kept>, options: DistillOptions, weights: TeacherWeights, name: string): Promise<void> {
  const path = join(options.out, 'regression-pairs.safetensors');
  const shape = distiller.task.sampleShape;
  const { batch } = options.config;
  let stored: TeacherPairs | undefined;
  if (existsSync(path)) {
    try {
      stored = TeacherPairs.parse(readBytes(path), options.config, options.seed, shape, weights.denoiser);
    } catch (error) {
      throw new Error(`${path}: ${(error as Error).message}`);
    }
    console.log(`[${name}] regression: ${stored.chunks * batch} teacher pairs read from ${path}`);
    if (stored.chunks >= regressionChunks(options.config)) {
      distiller.regressionPairs = stored;
      return;
    }
  }
  const save = (pairs: TeacherPairs) => {
    writeFileSync(`${path}.part`, pairs.serialize(shape, weights.denoiser));
    renameSync(`${path}.part`, path); // never a half-written file where the pairs were
  };
  const started = performance.now();
  distiller.regressionPairs = await TeacherPairs.generate(
    distiller.task,
    options.config,
    options.seed,
    (done, of, sofar) => {
      if (done === of || done % 4 === 0) console.log(`[${name}] regression: teacher pairs ${done * batch}/${of * batch} (${TEACHER_STEPS} Euler steps each), ${formatDuration((performance.now() - started) / 1000)}`);
      if (done < of && done % PAIRS_SAVE_EVERY === 0) save(sofar());
    },
    stored,
  );
  save(distiller.regressionPairs);
}

/** Chunks of teacher pairs between rewrites of the pairs file while the teacher integrates them. */
const PAIRS_SAVE_EVERY = 8;

export async function main(argv: readonly string[]): Promise<number> {
  let options: DistillOptions;
  try {
    options = parseDistillOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${DISTILL_USAGE}`);
    return 2;
  }
  try {
    await withEngine(options.adapter, (engine) => distill(engine, options));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
}
