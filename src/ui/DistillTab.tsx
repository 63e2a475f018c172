// The Distill tab: the distillation playground. A few-step student learns from a 2D toy or the Shapes-32 teacher with the SenseFlow
// recipe in a Web Worker on WebGPU (state/distill.ts, workers/distill.worker.ts); the settings, the run, and the
// figures that make the method visible, each with a paragraph for a teacher presenting it.
import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { MAX_COMPARISONS, useDistill } from '../state/distill';
import { useSystem } from '../state/system';
import type { ToyStepMetrics } from '../distill/toyEval';
import { isShapesEvaluation, isToyTask, type ShapesEvaluation } from '../workers/distillApi';
import { EvaluationCharts, LossChart } from './DistillCharts';
import { DistillControls } from './DistillControls';
import { ProfileChart } from './DistillProfile';
import { DistillRun } from './DistillRun';
import { DistillScatter } from './DistillScatter';
import { ShapesCharts, ShapesGrid } from './DistillShapes';

/** The latest evaluation as a table: a row per step count, a column per measure, and a footer for the run-wide ones. */
function EvaluationTable<M>({ iteration, steps, columns, footer }: { iteration: number; steps: Record<string, M>; columns: readonly (readonly [string, (m: M) => string])[]; footer: React.ReactNode }) {
  const rows = Object.entries(steps).sort(([a], [b]) => Number(a) - Number(b));
  return (
    <table className="evaluation" aria-label={`Evaluation at iteration ${iteration}`}>
      <caption>Evaluation at iteration {iteration}</caption>
      <thead>
        <tr>
          <th scope="col">Student</th>
          {columns.map(([name]) => (
            <th key={name} scope="col">
              {name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map(([n, m]) => (
          <tr key={n}>
            <th scope="row">{n === '1' ? '1 step' : `${n} steps`}</th>
            {columns.map(([name, show]) => (
              <td key={name}>{show(m)}</td>
            ))}
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <td colSpan={columns.length + 1}>{footer}</td>
        </tr>
      </tfoot>
    </table>
  );
}

const SHAPES_COLUMNS = [
  ['Prompt accuracy', (m: ShapesEvaluation['steps'][string]) => `${(100 * m.promptAccuracy).toFixed(1)}%`],
  ['FD-T', (m: ShapesEvaluation['steps'][string]) => m.fdTeacher.toFixed(2)],
] as const;
const TOY_COLUMNS = [
  ['Energy distance', (m: ToyStepMetrics) => m.energyDistance.toFixed(4)],
  ['Modes covered', (m: ToyStepMetrics) => `${(100 * m.modeCoverage).toFixed(0)}%`],
  ['Off every mode', (m: ToyStepMetrics) => `${(100 * m.offMode).toFixed(1)}%`],
] as const;

function LatestEvaluation() {
  const latest = useDistill((s) => s.evaluations.at(-1));
  if (!latest) return null;
  if (isShapesEvaluation(latest)) {
    return (
      <EvaluationTable
        iteration={latest.iteration}
        steps={latest.steps}
        columns={SHAPES_COLUMNS}
        footer={`||φ − θ|| ${latest.parameterDistance.toFixed(3)}. ${latest.captions} fixed captions and seeds per step count.`}
      />
    );
  }
  return (
    <EvaluationTable
      iteration={latest.iteration}
      steps={latest.steps}
      columns={TOY_COLUMNS}
      footer={
        <>
          Fake-tracking error {latest.fakeTrackingError.toFixed(4)} · ||φ − θ|| {latest.parameterDistance.toFixed(3)}. A mode counts as covered with at least 2% of a
          label's samples; a sample is off every mode beyond 3 standard deviations of each.
        </>
      }
    />
  );
}

/** Runs kept to overlay on the charts: keep the current one, drop a kept one. */
function KeptRuns() {
  const comparisons = useDistill((s) => s.comparisons);
  const canKeep = useDistill((s) => s.run.identity !== null && s.evaluations.length > 0 && s.run.state !== 'loading');
  const { keepForComparison, removeComparison } = useDistill(useShallow((s) => ({ keepForComparison: s.keepForComparison, removeComparison: s.removeComparison })));
  return (
    <section className="kept-runs" aria-labelledby="distill-kept-title">
      <h4 id="distill-kept-title">Compare runs</h4>
      <p className="hint">
        Keep a run&apos;s curves, then reset, change a knob (turn IDA off, say) and run again: the kept runs are drawn dashed on the charts below
        (their first step count), so the difference shows on one chart. Up to {MAX_COMPARISONS}; kept in this browser.
      </p>
      <div className="control-row">
        <button type="button" disabled={!canKeep} onClick={keepForComparison}>
          Keep this run for comparison
        </button>
      </div>
      {comparisons.length > 0 && (
        <ul aria-label="Kept runs">
          {comparisons.map((c) => (
            <li key={c.label}>
              {c.label} ({c.evaluations.length} evaluations){' '}
              <button type="button" className="link" aria-label={`Remove ${c.label}`} onClick={() => removeComparison(c.label)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function DistillTab() {
  const webgpu = useSystem((s) => s.webgpu);
  const refreshSaved = useDistill((s) => s.refreshSaved);
  useEffect(() => {
    void refreshSaved();
  }, [refreshSaved]);
  const task = useDistill((s) => s.run.identity?.task ?? s.form.task);
  const gan = useDistill((s) => (s.run.identity?.config.ganWeight ?? 0) > 0);
  const webgpuProblem = webgpu.state === 'unavailable' ? webgpu.reason : webgpu.state === 'lost' ? `the GPU device was lost (${webgpu.reason})` : null;

  return (
    <section aria-labelledby="distill-heading" className="distill">
      <h2 id="distill-heading">Distill</h2>
      <p className="intro">
        Watch a few-step student learn from a teacher with the SenseFlow recipe, and switch each part on and off. Three networks start as
        copies of the teacher: the generator (the student), the fake score (trained to follow the student's samples) and the real score (the
        frozen teacher). Distribution matching (DMD) moves each student sample along the difference of the two scores; Implicit Distribution
        Alignment (IDA) keeps the fake score close to the generator; Intra-Segment Guidance (ISG) teaches each of the student's jumps from a
        teacher-guided target. It trains here, in a worker, on WebGPU with this app's own WGSL kernels.
      </p>
      {webgpuProblem && (
        <div role="alert" className="notice error">
          <strong>The distillation playground needs WebGPU, and it is unavailable here:</strong> {webgpuProblem} The Generate tab still works (on the CPU).
        </div>
      )}
      <DistillControls />
      <DistillRun webgpuProblem={webgpuProblem} />
      <section className="distill-figures" aria-label="Figures">
        {isToyTask(task) ? <DistillScatter /> : <ShapesGrid />}
        <LatestEvaluation />
        <KeptRuns />
        <div className="chart-grid">
          {isToyTask(task) ? <EvaluationCharts /> : <ShapesCharts />}
          <LossChart key={gan ? 'gan' : 'plain'} gan={gan} />
          <ProfileChart />
        </div>
      </section>
    </section>
  );
}
