// The Distill tab: the distillation playground. A few-step student learns from a 2D toy teacher with the SenseFlow
// recipe in a Web Worker on WebGPU (state/distill.ts, workers/distill.worker.ts); the settings, the run, and the
// figures that make the method visible, each with a paragraph for a teacher presenting it.
import { useEffect } from 'react';
import { useDistill } from '../state/distill';
import { useSystem } from '../state/system';
import { EvaluationCharts, LossChart } from './DistillCharts';
import { DistillControls } from './DistillControls';
import { DistillRun } from './DistillRun';
import { DistillScatter } from './DistillScatter';

function LatestEvaluation() {
  const latest = useDistill((s) => s.evaluations.at(-1));
  if (!latest) return null;
  const steps = Object.entries(latest.steps).sort(([a], [b]) => Number(a) - Number(b));
  return (
    <table className="evaluation" aria-label={`Evaluation at iteration ${latest.iteration}`}>
      <caption>Evaluation at iteration {latest.iteration}</caption>
      <thead>
        <tr>
          <th scope="col">Student</th>
          <th scope="col">Energy distance</th>
          <th scope="col">Modes covered</th>
          <th scope="col">Off every mode</th>
        </tr>
      </thead>
      <tbody>
        {steps.map(([n, m]) => (
          <tr key={n}>
            <th scope="row">{n === '1' ? '1 step' : `${n} steps`}</th>
            <td>{m.energyDistance.toFixed(4)}</td>
            <td>{(100 * m.modeCoverage).toFixed(0)}%</td>
            <td>{(100 * m.offMode).toFixed(1)}%</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <td colSpan={4}>
            Fake-tracking error {latest.fakeTrackingError.toFixed(4)} · ||φ − θ|| {latest.parameterDistance.toFixed(3)}. A mode counts as covered with at least 2% of a
            label's samples; a sample is off every mode beyond 3 standard deviations of each.
          </td>
        </tr>
      </tfoot>
    </table>
  );
}

export function DistillTab() {
  const webgpu = useSystem((s) => s.webgpu);
  const refreshSaved = useDistill((s) => s.refreshSaved);
  useEffect(() => {
    void refreshSaved();
  }, [refreshSaved]);
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
        <DistillScatter />
        <LatestEvaluation />
        <div className="chart-grid">
          <EvaluationCharts />
          <LossChart />
        </div>
      </section>
    </section>
  );
}
