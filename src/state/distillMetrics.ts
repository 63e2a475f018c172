// A run's per-iteration metrics on the page: a ring buffer the worker's progress batches go into (outside React
// state: charts read it through store.subscribe, STYLE.md "transient updates"), and the downloads: the metrics and
// the evaluations as JSON (one file) and as CSV (one table each).
import { type DistillConfig, isgApplies, trainingAnchors } from '../distill/config';
import type { IterationMetrics } from '../distill/senseflow';
import type { ToyEvaluation } from '../distill/toyEval';
import { nextAnchor } from '../flow/schedule';
import { isShapesEvaluation, type RunEvaluation, type RunIdentity } from '../workers/distillApi';

export class MetricsRing {
  private readonly items: (IterationMetrics | undefined)[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`MetricsRing: capacity must be an integer >= 1, got ${capacity}`);
    this.items = new Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Appends in order; when full, the oldest go. */
  push(metrics: readonly IterationMetrics[]): void {
    for (const m of metrics) {
      const end = (this.start + this.count) % this.capacity;
      this.items[end] = m;
      if (this.count < this.capacity) this.count++;
      else this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Drops the iterations at or after `iteration` (a run resumed from an earlier checkpoint repeats them). */
  truncate(iteration: number): void {
    while (this.count > 0 && this.at(this.count - 1)!.iteration >= iteration) this.count--;
  }

  at(index: number): IterationMetrics | undefined {
    return index >= 0 && index < this.count ? this.items[(this.start + index) % this.capacity] : undefined;
  }

  last(): IterationMetrics | undefined {
    return this.at(this.count - 1);
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
    this.items.fill(undefined);
  }

  /**
   * The segment [s_next, s_i] ISG trained at the last generator step, with its anchor's index; null before the first
   * generator step, or when ISG skipped that step's segment (ISG off, or off the last segment).
   */
  lastIsgSegment(config: DistillConfig): { anchorIndex: number; segment: [number, number] } | null {
    const anchors = trainingAnchors(config);
    for (let i = this.count - 1; i >= 0; i--) {
      const m = this.at(i)!;
      if (!m.generatorStep || m.anchorIndex >= anchors.length) continue;
      const low = nextAnchor(anchors, m.anchorIndex);
      return isgApplies(config, m.anchorIndex) ? { anchorIndex: m.anchorIndex, segment: [low, anchors[m.anchorIndex]!] } : null;
    }
    return null;
  }

  toArray(): IterationMetrics[] {
    return Array.from({ length: this.count }, (_, i) => this.at(i)!);
  }

  /** Columns for a chart: the iterations, and per field its values (null where an iteration has none). */
  columns<K extends NumericField>(fields: readonly K[]): { iteration: number[]; values: Record<K, (number | null)[]> } {
    const iteration = new Array<number>(this.count);
    const values = Object.fromEntries(fields.map((f) => [f, new Array<number | null>(this.count)])) as Record<K, (number | null)[]>;
    for (let i = 0; i < this.count; i++) {
      const m = this.at(i)!;
      iteration[i] = m.iteration;
      for (const f of fields) {
        const v = m[f];
        values[f][i] = typeof v === 'number' && Number.isFinite(v) ? v : null;
      }
    }
    return { iteration, values };
  }
}

export type NumericField = { [K in keyof IterationMetrics]-?: NonNullable<IterationMetrics[K]> extends number ? K : never }[keyof IterationMetrics];

/** The per-iteration CSV's columns, in order (the IterationMetrics fields; `restored` as its snapshot's iteration). */
export const METRICS_COLUMNS = [
  'iteration',
  'generatorStep',
  'anchorIndex',
  'backwardSimulated',
  'guidance',
  'fakeLoss',
  'fakeGradNorm',
  'dmdLoss',
  'isgLoss',
  'generatorGradNorm',
  'dmdNormaliser',
  'ganLoss',
  'discriminatorLoss',
  'discriminatorGradNorm',
  'restoredToIteration',
] as const;

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return String(value); // NaN and Infinity as written
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function metricsCsv(metrics: readonly IterationMetrics[]): string {
  const rows = metrics.map((m) =>
    METRICS_COLUMNS.map((column) => cell(column === 'restoredToIteration' ? m.restored?.toIteration : m[column])).join(','),
  );
  return `${[METRICS_COLUMNS.join(','), ...rows].join('\n')}\n`;
}

/**
 * One row per evaluation: per step count n its measures (2D toy: energy distance, mode coverage, off-mode fraction;
 * Shapes: prompt accuracy, FD-T), then the run-wide ones (the toy's fake-tracking error; ||phi - theta||).
 */
export function evaluationsCsv(evaluations: readonly RunEvaluation[]): string {
  const stepCounts = [...new Set(evaluations.flatMap((e) => Object.keys(e.steps)))].sort((a, b) => Number(a) - Number(b));
  const shapes = evaluations.length > 0 && isShapesEvaluation(evaluations[0]!);
  const perStep = shapes ? (['promptAccuracy', 'fdTeacher'] as const) : (['energyDistance', 'modeCoverage', 'offMode'] as const);
  const header = ['iteration', ...stepCounts.flatMap((n) => perStep.map((name) => `${name}_${n}step`)), ...(shapes ? [] : ['fakeTrackingError']), 'parameterDistance'];
  const rows = evaluations.map((e) =>
    [
      e.iteration,
      ...stepCounts.flatMap((n) => {
        const s = e.steps[n] as Record<string, number> | undefined;
        return perStep.map((name) => s?.[name]);
      }),
      ...(shapes ? [] : [(e as ToyEvaluation).fakeTrackingError]),
      e.parameterDistance,
    ]
      .map(cell)
      .join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

/** Everything about the run in one JSON document. Non-finite numbers (a diverged loss) are written as strings. */
export function runJson(identity: RunIdentity | null, metrics: readonly IterationMetrics[], evaluations: readonly RunEvaluation[]): string {
  return `${JSON.stringify({ format: 'senseflow-distill-metrics', version: 1, run: identity, metrics, evaluations }, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1)}\n`;
}
