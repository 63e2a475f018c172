// `npm run ablation -- toy2d|shapes [options]`: every arm x seed of SenseFlow's ablation, run one after another in
// this process with one engine (each run is distill() with options from a distill command line, see
// ablationPlan.ts), then the aggregation and the report (ablationResults.ts, ablationReport.ts). --report-only
// skips the training and re-aggregates the run folders that exist.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../nn/engine';
import { ABLATION_USAGE, type AblationOptions, type AblationSetting, ablationSettings, distillOptionsOf, parseAblationOptions, type PlannedRun, plannedRuns } from './ablationPlan';
import { writeAblationReport } from './ablationReport';
import { type AblationResults, aggregateAblation, seedsPresent, STATUS_FILE } from './ablationResults';
import { distill } from './distill';
import { withEngine } from './engine';
import { gitCommit } from './git';
import { UsageError } from './options';
import { formatDuration } from './trainLoop';

type RunState = 'empty' | 'unfinished' | 'finished';

/** What a run folder holds: nothing, a run short of `steps` iterations, or a finished one (longer is refused). */
export function runState(dir: string, steps: number): RunState {
  const config = join(dir, 'config.json');
  if (existsSync(config)) {
    const iterations = (JSON.parse(readFileSync(config, 'utf8')) as { iterations: number }).iterations;
    if (iterations > steps) throw new UsageError(`${dir} holds a run of ${iterations} iterations, longer than --steps ${steps}: give --steps ${iterations}, or another --out`);
    return iterations === steps ? 'finished' : 'unfinished';
  }
  return existsSync(join(dir, 'metrics.jsonl')) || existsSync(join(dir, 'checkpoint')) ? 'unfinished' : 'empty';
}

/** Which runs to do (and whether to resume each); refuses to overwrite a run without --resume. */
export function schedule(options: AblationOptions, runs: readonly PlannedRun[]): { run: PlannedRun; resume: boolean }[] {
  const states = runs.map((run) => ({ run, state: runState(run.dir, options.steps) }));
  const occupied = states.filter((s) => s.state !== 'empty');
  if (!options.resume && occupied.length > 0) {
    const names = occupied.slice(0, 3).map((s) => s.run.dir).join(', ');
    throw new UsageError(`${occupied.length} run folder(s) already hold a run (${names}${occupied.length > 3 ? ', ...' : ''}): pass --resume to keep finished runs and continue the others, or give another --out`);
  }
  return states.filter((s) => s.state !== 'finished').map((s) => ({ run: s.run, resume: s.state === 'unfinished' }));
}

/**
 * Shapes runs each cache the teacher's reference features; a run starts with a copy of any other planned run's,
 * finished in this invocation or an earlier one (distill checks its key, and makes a new one if it does not match).
 */
export function shareTeacherReference(options: Pick<AblationOptions, 'task'>, run: Pick<PlannedRun, 'dir'>, others: readonly Pick<PlannedRun, 'dir'>[]): void {
  const name = 'teacher-reference.json';
  if (options.task !== 'shapes' || existsSync(join(run.dir, name))) return;
  const source = others.find((d) => existsSync(join(d.dir, name)));
  if (!source) return;
  mkdirSync(run.dir, { recursive: true });
  copyFileSync(join(source.dir, name), join(run.dir, name));
}

/** Trains the scheduled runs in order; an arm that is not implemented is recorded as skipped, another error as failed. */
export async function trainAblation(engine: Engine, options: AblationOptions, work: readonly { run: PlannedRun; resume: boolean }[], planned: readonly PlannedRun[]): Promise<{ failed: number }> {
  let failed = 0;
  for (const [index, { run, resume }] of work.entries()) {
    const started = performance.now();
    const label = `[ablation ${index + 1}/${work.length}] ${run.setting.folder} seed ${run.seed}`;
    console.log(`${label}: ${resume ? 'resuming' : 'starting'} in ${run.dir}`);
    rmSync(join(run.dir, STATUS_FILE), { force: true });
    try {
      const distillOptions = distillOptionsOf(options, run, resume);
      shareTeacherReference(options, run, planned);
      const { iterations } = await distill(engine, distillOptions);
      console.log(`${label}: ${iterations} iterations, ${formatDuration((performance.now() - started) / 1000)}; live GPU memory after the run ${(engine.stats().liveBytes / 2 ** 20).toFixed(1)} MiB`);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const skipped = /not implemented/i.test(reason);
      if (!skipped) failed++;
      mkdirSync(run.dir, { recursive: true });
      writeFileSync(join(run.dir, STATUS_FILE), `${JSON.stringify({ status: skipped ? 'skipped' : 'failed', reason, date: new Date().toISOString() }, null, 2)}\n`);
      console.warn(`${label}: ${skipped ? 'skipped' : 'FAILED'}: ${reason}`);
    }
  }
  return { failed };
}

/** The training invocation recorded by the results a --report-only invocation replaces (null: none recorded). */
function previousTraining(path: string): AblationResults['training'] {
  if (!existsSync(path)) return null;
  try {
    const previous = JSON.parse(readFileSync(path, 'utf8')) as Partial<AblationResults>;
    if (previous.training !== undefined) return previous.training;
    // Results written before the field: their own invocation, unless it was a report-only one.
    const command = previous.command;
    return command && !command.includes('--report-only') ? { command, seconds: previous.wallSeconds?.invocation ?? NaN, commit: previous.commit ?? 'unknown' } : null;
  } catch {
    return null;
  }
}

/** Aggregates the run folders and writes the report; report-only takes the seeds (and stress settings) that are there. */
export async function reportAblation(options: AblationOptions, settings: readonly AblationSetting[], invocationSeconds: number) {
  const folders = settings.map((s) => join(options.out, options.task, s.folder));
  const seeds = options.reportOnly ? seedsPresent(folders) : options.seeds;
  const command = `npm run ablation -- ${options.argv.join(' ')}`;
  const previous = options.reportOnly || options.resume ? previousTraining(join(options.docs, 'results', `ablation-${options.task}.json`)) : null;
  const results = aggregateAblation({
    task: options.task,
    root: options.out,
    settings,
    seeds,
    ...(options.reportOnly && !options.stepsGiven ? {} : { steps: options.steps }),
    command,
    training: options.reportOnly ? previous : 'this',
    ...(options.resume && !options.reportOnly ? { priorTraining: previous } : {}),
    commit: gitCommit(),
    invocationSeconds,
  });
  const written = await writeAblationReport(options.docs, results);
  console.log(`[ablation] wrote ${written.json}, ${written.markdown} and the figures under ${join(options.docs, 'figures')}`);
  return results;
}

export async function runAblationCommand(options: AblationOptions) {
  const started = performance.now();
  const stress = options.stress || (options.reportOnly && options.task === 'toy2d' && existsSync(join(options.out, 'toy2d', 'stress')));
  const settings = ablationSettings(options.task, options.arms, stress);
  let failed = 0;
  if (!options.reportOnly) {
    const runs = plannedRuns(options, settings);
    const work = schedule(options, runs);
    for (const { run, resume } of work) distillOptionsOf(options, run, resume); // every run's options checked before any trains
    const notRun = settings.filter((s) => s.notApplicable).map((s) => `${s.name} (${s.notApplicable})`);
    console.log(`[ablation] ${options.task}: ${runs.length} runs (seeds ${options.seeds.join(', ')}; settings sharing a configuration share runs), ${runs.length - work.length} already finished, ${work.length} to do${notRun.length ? `; not run: ${notRun.join('; ')}` : ''}`);
    if (work.length > 0) ({ failed } = await withEngine(options.adapter, (engine) => trainAblation(engine, options, work, runs)));
  }
  const results = await reportAblation(options, settings, (performance.now() - started) / 1000);
  return { results, failed };
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: AblationOptions;
  try {
    options = parseAblationOptions(argv);
    const { failed } = await runAblationCommand(options);
    if (failed > 0) console.error(`[ablation] ${failed} run(s) failed; see ablation-status.json in their folders`);
    return failed > 0 ? 1 : 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${ABLATION_USAGE}`);
    return 2;
  }
}
