// Aggregation of an ablation's run folders (runs/ablation/<task>/<setting>/seed<k>/metrics.jsonl) into
// docs/results/ablation-<task>.json: per setting, the curves (per evaluation iteration: mean, sd, min, max over
// seeds of every metric), the final values (each seed's last evaluation) and the raw per-seed finals.
//
// Metrics are the eval lines' numbers, flattened: steps["1"].energyDistance -> "energyDistance@1" (toy2d: also
// modeCoverage, offMode; Shapes: promptAccuracy, fdTeacher, fdReal), and the top-level numbers (fakeTrackingError,
// parameterDistance).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AblationSetting } from './ablationPlan';

/** What the runner leaves in a run folder whose run did not train: skipped (an arm not implemented) or failed. */
export const STATUS_FILE = 'ablation-status.json';

export interface Stats {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single value. */
  sd: number;
  min: number;
  max: number;
}

export interface Evaluation {
  iteration: number;
  metrics: Record<string, number>;
}

export interface RunRecord {
  seed: number;
  dir: string;
  status: 'finished' | 'unfinished' | 'skipped' | 'failed' | 'missing';
  reason?: string;
  /** Iterations done (config.json). */
  iterations?: number;
  wallSeconds?: number;
  adapter?: string;
  command?: string;
  /** Divergences: snapshots restored after a non-finite loss or gradient. */
  restores: number;
  /** The last evaluation. */
  final?: Evaluation;
  /** Per metric: the sd of the run's evaluations in the second half of its iterations (how much it still moves). */
  lateSd?: Record<string, number>;
}

export interface CurvePoint extends Stats {
  iteration: number;
}

export interface SettingResult {
  name: string;
  group: AblationSetting['group'];
  label: string;
  arm: string;
  folder: string;
  flags: string[];
  sweep?: AblationSetting['sweep'];
  notApplicable?: string;
  runs: RunRecord[];
  /** Per metric: the seeds' final values. */
  final: Record<string, Stats & { values: number[] }>;
  /** Per metric: the seeds' late-run sd (see RunRecord.lateSd). */
  lateSd: Record<string, Stats>;
  curves: Record<string, CurvePoint[]>;
}

export interface AblationResults {
  task: string;
  date: string;
  /** This invocation's command line. */
  command: string;
  /** The invocation that trained the runs, with its wall time (--report-only keeps the one of the results it replaces). */
  training: { command: string; seconds: number; commit: string; invocations?: number } | null;
  commit: string;
  adapter: string[];
  /** This invocation's wall time and the runs' training time (the sum of their config.json wallSeconds, setup excluded). */
  wallSeconds: { invocation: number; training: number };
  steps: number;
  seeds: number[];
  metrics: string[];
  settings: SettingResult[];
}

export function stats(values: readonly number[]): Stats {
  const finite = values.filter(Number.isFinite);
  const n = finite.length;
  if (n === 0) return { n: 0, mean: NaN, sd: NaN, min: NaN, max: NaN };
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(finite.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, min: Math.min(...finite), max: Math.max(...finite) };
}

const NOT_METRICS = new Set(['kind', 'iteration', 'evalCaptions']);

/** An eval line's metrics, flattened (see the header). */
export function flattenEvaluation(record: Record<string, unknown>): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === 'steps' && value && typeof value === 'object') {
      for (const [count, perStep] of Object.entries(value as Record<string, Record<string, unknown>>)) {
        for (const [name, v] of Object.entries(perStep)) if (typeof v === 'number') metrics[`${name}@${count}`] = v;
      }
    } else if (!NOT_METRICS.has(key) && typeof value === 'number') {
      metrics[key] = value;
    }
  }
  return metrics;
}

/** A run folder's evaluations (in iteration order) and restore count; null when it has no metrics.jsonl. */
export function readMetrics(dir: string): { evaluations: Evaluation[]; restores: number } | null {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return null;
  const evaluations: Evaluation[] = [];
  let restores = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as Record<string, unknown>;
    if (record.kind === 'eval') evaluations.push({ iteration: record.iteration as number, metrics: flattenEvaluation(record) });
    else if (record.kind === 'restore') restores++;
  }
  evaluations.sort((a, b) => a.iteration - b.iteration);
  return { evaluations, restores };
}

function readJson(path: string): Record<string, unknown> | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : null;
}

/** One run folder, read (expectedSteps decides finished vs unfinished). */
export function readRun(dir: string, seed: number, expectedSteps: number): { record: RunRecord; evaluations: Evaluation[] } {
  const status = readJson(join(dir, STATUS_FILE));
  const config = readJson(join(dir, 'config.json'));
  const metrics = readMetrics(dir);
  const record: RunRecord = { seed, dir, status: 'missing', restores: metrics?.restores ?? 0 };
  if (status) {
    record.status = status.status as 'skipped' | 'failed';
    record.reason = status.reason as string;
  }
  if (config) {
    Object.assign(record, { iterations: config.iterations, wallSeconds: config.wallSeconds, adapter: config.adapter, command: config.command });
    if (!status) record.status = (config.iterations as number) >= expectedSteps ? 'finished' : 'unfinished';
  } else if (metrics && !status) {
    record.status = 'unfinished';
  }
  const evaluations = metrics?.evaluations ?? [];
  const final = evaluations.at(-1);
  if (final) {
    record.final = final;
    const late = evaluations.filter((e) => e.iteration > final.iteration / 2);
    record.lateSd = Object.fromEntries(Object.keys(final.metrics).map((m) => [m, stats(late.map((e) => e.metrics[m] ?? NaN)).sd]));
  }
  return { record, evaluations };
}

/** The seeds k with a seed<k> folder under any of the folders (report-only: what is there). */
export function seedsPresent(folders: readonly string[]): number[] {
  const seeds = new Set<number>();
  for (const folder of folders) {
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      const match = /^seed(\d+)$/.exec(name);
      if (match) seeds.add(Number(match[1]));
    }
  }
  return [...seeds].sort((a, b) => a - b);
}

/** A setting's runs (one per seed, already read), aggregated. */
export function aggregateSetting(setting: AblationSetting, runs: readonly { record: RunRecord; evaluations: Evaluation[] }[]): SettingResult {
  const metricNames = [...new Set(runs.flatMap((r) => r.evaluations.flatMap((e) => Object.keys(e.metrics))))];
  const iterations = [...new Set(runs.flatMap((r) => r.evaluations.map((e) => e.iteration)))].sort((a, b) => a - b);
  const curves: Record<string, CurvePoint[]> = {};
  const final: SettingResult['final'] = {};
  const lateSd: SettingResult['lateSd'] = {};
  for (const metric of metricNames) {
    curves[metric] = iterations
      .map((iteration) => ({ iteration, ...stats(runs.map((r) => r.evaluations.find((e) => e.iteration === iteration)?.metrics[metric] ?? NaN)) }))
      .filter((point) => point.n > 0);
    const values = runs.filter((r) => r.record.final).map((r) => r.record.final!.metrics[metric] ?? NaN);
    final[metric] = { ...stats(values), values };
    lateSd[metric] = stats(runs.filter((r) => r.record.lateSd).map((r) => r.record.lateSd![metric] ?? NaN));
  }
  const { name, group, label, arm, folder, flags, sweep, notApplicable } = setting;
  return { name, group, label, arm, folder, flags, ...(sweep ? { sweep } : {}), ...(notApplicable ? { notApplicable } : {}), runs: runs.map((r) => r.record), final, lateSd, curves };
}

export interface AggregateInput {
  task: string;
  root: string;
  settings: readonly AblationSetting[];
  seeds: readonly number[];
  /** The run length a finished run has; undefined: the longest run found. */
  steps?: number;
  command: string;
  /** 'this': this invocation trained (command, invocationSeconds); else what the replaced results recorded, if anything. */
  training: AblationResults['training'] | 'this';
  /** With --resume: the training recorded by the results this invocation continues (its time and invocations add up). */
  priorTraining?: AblationResults['training'];
  commit: string;
  invocationSeconds: number;
  date?: Date;
}

function thisTraining(input: AggregateInput): NonNullable<AblationResults['training']> {
  const prior = input.priorTraining;
  const seconds = input.invocationSeconds + (prior && Number.isFinite(prior.seconds) ? prior.seconds : 0);
  return { command: input.command, seconds: Math.round(seconds), commit: input.commit, invocations: (prior ? (prior.invocations ?? 1) : 0) + 1 };
}

/** Reads every setting's run folders (<root>/<task>/<folder>/seed<k>) and aggregates them. */
export function aggregateAblation(input: AggregateInput): AblationResults {
  const dirOf = (s: AblationSetting, seed: number) => join(input.root, input.task, s.folder, `seed${seed}`);
  const lengths = input.settings.flatMap((s) => input.seeds.map((seed) => (readJson(join(dirOf(s, seed), 'config.json'))?.iterations as number | undefined) ?? 0));
  const steps = input.steps ?? Math.max(0, ...lengths);
  const notRun = (s: AblationSetting, seed: number) => ({ record: { seed, dir: dirOf(s, seed), status: 'skipped' as const, reason: s.notApplicable, restores: 0 }, evaluations: [] });
  const settings = input.settings.map((s) => aggregateSetting(s, input.seeds.map((seed) => (s.notApplicable ? notRun(s, seed) : readRun(dirOf(s, seed), seed, steps)))));
  // Shared folders (a sweep cell equal to a stress arm) count once in the training time.
  const counted = new Map<string, number>();
  for (const run of settings.flatMap((s) => s.runs)) counted.set(run.dir, run.wallSeconds ?? 0);
  return {
    task: input.task,
    date: (input.date ?? new Date()).toISOString(),
    command: input.command,
    training: input.training === 'this' ? thisTraining(input) : input.training,
    commit: input.commit,
    adapter: [...new Set(settings.flatMap((s) => s.runs.map((r) => r.adapter).filter((a): a is string => !!a)))],
    wallSeconds: { invocation: Math.round(input.invocationSeconds), training: [...counted.values()].reduce((a, b) => a + b, 0) },
    steps,
    seeds: [...input.seeds],
    metrics: [...new Set(settings.flatMap((s) => Object.keys(s.final)))],
    settings,
  };
}
