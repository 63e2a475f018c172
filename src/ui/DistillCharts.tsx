// The Distill tab's curves over iterations (uPlot line charts): the evaluations at intervals (energy distance per
// step count, fake-tracking error, ||phi - theta||) from React state, and the per-iteration losses, which follow the
// metrics ring buffer through a store subscription without re-rendering React (STYLE.md, transient updates).
import { useEffect, useMemo, useRef } from 'react';
import type uPlot from 'uplot';
import type { ToyEvaluation } from '../distill/toyEval';
import { distillMetrics, useDistill } from '../state/distill';
import { isShapesEvaluation, type RunEvaluation } from '../workers/distillApi';
import { usePlot } from './usePlot';

const AXIS = { stroke: '#9aa3b2', grid: { stroke: '#2a2f3a', width: 1 }, ticks: { stroke: '#2a2f3a', width: 1 } };
export const STEP_COLORS = ['#7aa2ff', '#6fd3a8', '#f0b35a', '#d98cff'];
const HEIGHT = 190;

interface LineSeries {
  label: string;
  color: string;
  /** Dashed (a kept run), thinner. */
  dash?: number[];
}

export function lineOptions(series: readonly LineSeries[], spanGaps = false): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    cursor: { drag: { x: false, y: false } },
    legend: { show: true, live: false },
    scales: { x: { time: false } },
    axes: [AXIS, { ...AXIS, size: 56 }],
    series: [{ label: 'iteration' }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: s.dash ? 1.25 : 1.5, ...(s.dash ? { dash: s.dash } : {}), spanGaps, points: { show: false } }))],
  };
}

export function Chart({ id, title, options, data, lastIteration, children }: { id: string; title: string; options: Omit<uPlot.Options, 'width' | 'height'>; data: uPlot.AlignedData; lastIteration: number | null; children: React.ReactNode }) {
  const plot = usePlot(options, { height: HEIGHT });
  useEffect(() => plot.update(data), [data, plot]);
  return (
    <figure className="distill-figure chart" aria-labelledby={`${id}-title`} data-iteration={lastIteration ?? ''}>
      <h4 id={`${id}-title`}>{title}</h4>
      <div ref={plot.ref} className="plot" role="img" aria-label={`${title}: line chart over iterations${lastIteration === null ? ', no data yet' : `, up to iteration ${lastIteration}`}`} />
      <figcaption className="explain">{children}</figcaption>
    </figure>
  );
}

export function evaluationColumn<E>(evaluations: readonly E[], pick: (e: E) => number | undefined): (number | null)[] {
  return evaluations.map((e) => {
    const v = pick(e);
    return v === undefined || !Number.isFinite(v) ? null : v;
  });
}

/** One line of an over-iterations chart: its points (x = iterations), and dashed for a run kept for comparison. */
export interface Curve {
  label: string;
  color: string;
  dash?: number[];
  x: readonly number[];
  y: readonly (number | null)[];
}

export const COMPARE_COLORS = ['#c9ced8', '#ff8a8a', '#8fe3ff'];

/** Curves on one x axis (the union of their iterations; a curve is null where it has no point, and spans the gap). */
export function alignCurves(curves: readonly Curve[]): uPlot.AlignedData {
  const xs = [...new Set(curves.flatMap((c) => c.x))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const columns = curves.map((c) => {
    const column: (number | null)[] = new Array(xs.length).fill(null);
    c.x.forEach((x, i) => (column[at.get(x)!] = c.y[i] ?? null));
    return column;
  });
  return [xs, ...columns] as uPlot.AlignedData;
}

/** A chart of curves whose options (one series per curve) are remade only when the curves' names or looks change. */
export function useCurves(curves: readonly Curve[]): { options: Omit<uPlot.Options, 'width' | 'height'>; data: uPlot.AlignedData } {
  const looks = JSON.stringify(curves.map(({ label, color, dash }): LineSeries => ({ label, color, dash })));
  const options = useMemo(() => lineOptions(JSON.parse(looks) as LineSeries[], true), [looks]);
  const data = useMemo(() => alignCurves(curves), [curves]);
  return { options, data };
}

/** The kept runs of the same kind of task (toy or Shapes) as `isKind` accepts, with their evaluations narrowed. */
function useComparisons<E extends RunEvaluation>(isKind: (e: RunEvaluation) => e is E): { label: string; evaluations: E[] }[] {
  const comparisons = useDistill((s) => s.comparisons);
  return useMemo(() => comparisons.map((c) => ({ label: c.label, evaluations: c.evaluations.filter(isKind) })).filter((c) => c.evaluations.length > 0), [comparisons, isKind]);
}

const isToyEvaluation = (e: RunEvaluation): e is ToyEvaluation => !isShapesEvaluation(e);

/** Curves of the current run (solid) and of the kept runs (dashed: the first step count only, to stay legible). */
export function useRunCurves<E extends RunEvaluation>(
  isKind: (e: RunEvaluation) => e is E,
  series: readonly { label: string; color: string; pick: (e: E) => number | undefined; compare?: boolean }[],
): Curve[] {
  const all = useDistill((s) => s.evaluations);
  const evaluations = useMemo(() => all.filter(isKind), [all, isKind]);
  const comparisons = useComparisons(isKind);
  return useMemo(() => {
    const x = evaluations.map((e) => e.iteration);
    const curves: Curve[] = series.map((s) => ({ label: s.label, color: s.color, x, y: evaluationColumn(evaluations, s.pick) }));
    const compared = series.find((s) => s.compare) ?? series[0]!;
    comparisons.forEach((c, i) => {
      curves.push({ label: `${c.label}${series.length > 1 ? ` ${compared.label}` : ''}`, color: COMPARE_COLORS[i % COMPARE_COLORS.length]!, dash: [6, 4], x: c.evaluations.map((e) => e.iteration), y: evaluationColumn(c.evaluations, compared.pick) });
    });
    return curves;
  }, [evaluations, comparisons, series]);
}

export function EvaluationCharts() {
  const all = useDistill((s) => s.evaluations);
  const last = useMemo(() => all.filter(isToyEvaluation).at(-1)?.iteration ?? null, [all]);
  const stepCounts = useDistill((s) => s.stepCounts);
  const energySeries = useMemo(() => stepCounts.map((n, i) => ({ label: `${n}-step`, color: STEP_COLORS[i % STEP_COLORS.length]!, pick: (e: ToyEvaluation) => e.steps[String(n)]?.energyDistance })), [stepCounts]);
  const energy = useCurves(useRunCurves(isToyEvaluation, energySeries));
  const tracking = useCurves(useRunCurves(isToyEvaluation, TRACKING_SERIES));
  const distance = useCurves(useRunCurves(isToyEvaluation, DISTANCE_SERIES));
  const energyOptions = energy.options;
  const energyData = energy.data;
  const trackingOptions = tracking.options;
  const trackingData = tracking.data;
  const distanceOptions = distance.options;
  const distanceData = distance.data;

  return (
    <>
      <Chart id="distill-energy" title="Energy distance to the teacher" options={energyOptions} data={energyData} lastIteration={last}>
        How far the student's samples are from the teacher's, per step count: D² = 2 E|X − Y| − E|X − X′| − E|Y − Y′| with X from the
        student and Y from the teacher (250 samples of each label, averaged over labels). It is zero exactly when the two distributions
        agree. The 1-step student starts far off (a copy of the teacher lands between the modes) and should fall the most.
      </Chart>
      <Chart id="distill-tracking" title="Fake-tracking error" options={trackingOptions} data={trackingData} lastIteration={last}>
        Does the fake score know the student's distribution? Mean |x̂<sub>0</sub><sup>fake</sup>(x<sub>s</sub>) − x̂<sub>0</sub>*(x<sub>s</sub>)|²
        at s = 0.25, 0.5, 0.75, where x̂<sub>0</sub>* is the exact denoiser of the student's current samples (a softmax over them). DMD's
        arrows are right only when this is small: that is why the fake score trains more often than the generator (TTUR) and why IDA
        pulls it toward the generator.
      </Chart>
      <Chart id="distill-distance" title="Fake score to generator distance ||φ − θ||" options={distanceOptions} data={distanceData} lastIteration={last}>
        The Euclidean distance between the fake score's weights φ and the generator's θ (both start as the teacher). IDA sets
        φ ← λφ + (1 − λ)θ after every generator step, which keeps this small and the fake score close to the distribution it must track;
        without IDA, or with the pull-to-teacher control, it drifts.
      </Chart>
    </>
  );
}

const TRACKING_SERIES = [{ label: 'fake-tracking error', color: '#6fd3a8', pick: (e: ToyEvaluation) => e.fakeTrackingError }];
export const DISTANCE_SERIES = [{ label: '||φ − θ||', color: '#d98cff', pick: (e: RunEvaluation) => e.parameterDistance }];

const LOSSES = [
  { field: 'fakeLoss', label: 'fake score (flow matching)', color: '#6fd3a8' },
  { field: 'dmdLoss', label: 'DMD', color: '#7aa2ff' },
  { field: 'isgLoss', label: 'ISG', color: '#f0b35a' },
] as const;
const GAN_LOSSES = [
  { field: 'ganLoss', label: 'GAN (generator)', color: '#d98cff' },
  { field: 'discriminatorLoss', label: 'discriminator (hinge)', color: '#ff8a8a' },
] as const;

/** The per-iteration losses, drawn from the metrics ring buffer on every progress batch; with the GAN term, its two. */
export function LossChart({ gan = false }: { gan?: boolean }) {
  const losses = useMemo(() => (gan ? [...LOSSES, ...GAN_LOSSES] : LOSSES), [gan]);
  const options = useMemo(() => lineOptions(losses, true), [losses]);
  const plot = usePlot(options, { height: HEIGHT });
  const figure = useRef<HTMLElement | null>(null);

  useEffect(() => {
    const draw = () => {
      const fields = losses.map((l) => l.field);
      const { iteration, values } = distillMetrics.columns(fields);
      plot.update([iteration, ...fields.map((f) => values[f])] as uPlot.AlignedData);
      const last = distillMetrics.last()?.iteration;
      figure.current?.setAttribute('data-iteration', last === undefined ? '' : String(last + 1));
    };
    draw();
    return useDistill.subscribe((state, previous) => {
      if (state.metricsVersion !== previous.metricsVersion) draw();
    });
  }, [plot, losses]);

  return (
    <figure ref={figure} className="distill-figure chart" aria-labelledby="distill-losses-title" data-testid="loss-chart">
      <h4 id="distill-losses-title">Losses per iteration</h4>
      <div ref={plot.ref} className="plot" role="img" aria-label="Losses per iteration: line chart of the fake score's, DMD's and ISG's losses" />
      <figcaption className="explain">
        The fake score's flow-matching loss E|v<sub>φ</sub>(x<sub>s</sub>) − (ε − x)|² on the student's samples, every iteration; on generator
        iterations (every TTUR-th) DMD's loss ½ mean(x − sg(x − g))², whose gradient is the normalised arrow g, and ISG's pseudo-Huber
        loss √(d² + c²) − c between the student's jump over a segment and the teacher-guided target.
        {gan
          ? " With the GAN term: the generator's −D(x) on the evaluator's features, weighted by (1 − s)², and the discriminator's hinge loss, which trains every iteration."
          : ''}{' '}
        DMD's loss is not a distance to the data: watch the {gan ? 'FD-T' : 'energy distance'} for that.
      </figcaption>
    </figure>
  );
}
