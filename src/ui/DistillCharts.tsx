// The Distill tab's curves over iterations (uPlot line charts): the evaluations at intervals (energy distance per
// step count, fake-tracking error, ||phi - theta||) from React state, and the per-iteration losses, which follow the
// metrics ring buffer through a store subscription without re-rendering React (STYLE.md, transient updates).
import { useEffect, useMemo, useRef } from 'react';
import type uPlot from 'uplot';
import type { ToyEvaluation } from '../distill/toyEval';
import { distillMetrics, useDistill } from '../state/distill';
import { usePlot } from './usePlot';

const AXIS = { stroke: '#9aa3b2', grid: { stroke: '#2a2f3a', width: 1 }, ticks: { stroke: '#2a2f3a', width: 1 } };
const STEP_COLORS = ['#7aa2ff', '#6fd3a8', '#f0b35a', '#d98cff'];
const HEIGHT = 190;

interface LineSeries {
  label: string;
  color: string;
}

function lineOptions(series: readonly LineSeries[], spanGaps = false): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    cursor: { drag: { x: false, y: false } },
    legend: { show: true, live: false },
    scales: { x: { time: false } },
    axes: [AXIS, { ...AXIS, size: 56 }],
    series: [{ label: 'iteration' }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, spanGaps, points: { show: false } }))],
  };
}

function Chart({ id, title, options, data, lastIteration, children }: { id: string; title: string; options: Omit<uPlot.Options, 'width' | 'height'>; data: uPlot.AlignedData; lastIteration: number | null; children: React.ReactNode }) {
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

function evaluationColumn(evaluations: readonly ToyEvaluation[], pick: (e: ToyEvaluation) => number | undefined): (number | null)[] {
  return evaluations.map((e) => {
    const v = pick(e);
    return v === undefined || !Number.isFinite(v) ? null : v;
  });
}

export function EvaluationCharts() {
  const evaluations = useDistill((s) => s.evaluations);
  const stepCounts = useDistill((s) => s.stepCounts);
  const last = evaluations.at(-1)?.iteration ?? null;
  const iterations = useMemo(() => evaluations.map((e) => e.iteration), [evaluations]);

  const energyOptions = useMemo(() => lineOptions(stepCounts.map((n, i) => ({ label: `${n}-step`, color: STEP_COLORS[i % STEP_COLORS.length]! }))), [stepCounts]);
  const energyData = useMemo(() => [iterations, ...stepCounts.map((n) => evaluationColumn(evaluations, (e) => e.steps[String(n)]?.energyDistance))] as uPlot.AlignedData, [iterations, evaluations, stepCounts]);
  const trackingOptions = useMemo(() => lineOptions([{ label: 'fake-tracking error', color: '#6fd3a8' }]), []);
  const trackingData = useMemo(() => [iterations, evaluationColumn(evaluations, (e) => e.fakeTrackingError)] as uPlot.AlignedData, [iterations, evaluations]);
  const distanceOptions = useMemo(() => lineOptions([{ label: '||φ − θ||', color: '#d98cff' }]), []);
  const distanceData = useMemo(() => [iterations, evaluationColumn(evaluations, (e) => e.parameterDistance)] as uPlot.AlignedData, [iterations, evaluations]);

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

const LOSS_FIELDS = ['fakeLoss', 'dmdLoss', 'isgLoss'] as const;

/** The per-iteration losses, drawn from the metrics ring buffer on every progress batch. */
export function LossChart() {
  const options = useMemo(
    () =>
      lineOptions(
        [
          { label: 'fake score (flow matching)', color: '#6fd3a8' },
          { label: 'DMD', color: '#7aa2ff' },
          { label: 'ISG', color: '#f0b35a' },
        ],
        true,
      ),
    [],
  );
  const plot = usePlot(options, { height: HEIGHT });
  const figure = useRef<HTMLElement | null>(null);

  useEffect(() => {
    const draw = () => {
      const { iteration, values } = distillMetrics.columns(LOSS_FIELDS);
      plot.update([iteration, ...LOSS_FIELDS.map((f) => values[f])] as uPlot.AlignedData);
      const last = distillMetrics.last()?.iteration;
      figure.current?.setAttribute('data-iteration', last === undefined ? '' : String(last + 1));
    };
    draw();
    return useDistill.subscribe((state, previous) => {
      if (state.metricsVersion !== previous.metricsVersion) draw();
    });
  }, [plot]);

  return (
    <figure ref={figure} className="distill-figure chart" aria-labelledby="distill-losses-title" data-testid="loss-chart">
      <h4 id="distill-losses-title">Losses per iteration</h4>
      <div ref={plot.ref} className="plot" role="img" aria-label="Losses per iteration: line chart of the fake score's, DMD's and ISG's losses" />
      <figcaption className="explain">
        The fake score's flow-matching loss E|v<sub>φ</sub>(x<sub>s</sub>) − (ε − x)|² on the student's samples, every iteration; on generator
        iterations (every TTUR-th) DMD's loss ½ mean(x − sg(x − g))², whose gradient is the normalised arrow g, and ISG's pseudo-Huber
        loss √(d² + c²) − c between the student's jump over a segment and the teacher-guided target. DMD's loss is not a distance to the
        data: watch the energy distance for that.
      </figcaption>
    </figure>
  );
}
