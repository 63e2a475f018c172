// The Distill tab's run area: Start / Pause / Step once / Reset (and Resume when the settings have a saved
// checkpoint), the progress (iteration, iterations per second, elapsed, last checkpoint), what went wrong, and the
// downloads of the run's metrics. data-state = idle | loading | running | paused | done | error for tests to wait on;
// values that differ between machines carry data-machine-specific so visual tests can mask them.
import { useShallow } from 'zustand/react/shallow';
import { distillDownload, useDistill } from '../state/distill';
import type { DistillTaskName } from '../workers/distillApi';

const TASK_NAMES: Record<DistillTaskName, string> = { ring: '2D ring', grid: '2D grid', shapes: 'Shapes-32' };

export function formatElapsed(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

function download(kind: Parameters<typeof distillDownload>[0]): void {
  const { name, text, type } = distillDownload(kind);
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The student as a model bundle: a .zip download, or cached here and opened in the Generate tab. */
function StudentExport() {
  const { state, pending, exported, exportStudent } = useDistill(useShallow((s) => ({ state: s.run.state, pending: s.run.pending, exported: s.studentExport, exportStudent: s.exportStudent })));
  const disabled = !(state === 'paused' || state === 'done') || pending !== null || exported.state === 'working';
  return (
    <div className="student-export">
      <div className="control-row" role="group" aria-label="Export the student" aria-describedby="distill-export-hint">
        <button type="button" disabled={disabled} onClick={() => void exportStudent('download')}>
          Export ONNX bundle
        </button>
        <button type="button" disabled={disabled} onClick={() => void exportStudent('generate')}>
          Open in Generate
        </button>
      </div>
      <p id="distill-export-hint" className="hint">
        The student as it is now (pause first): its denoiser exported to ONNX (with the teacher&apos;s text encoder for Shapes), in the app&apos;s
        model bundle format with its anchors and its provenance. It samples in 1, 2 or 4 steps without guidance, which is distilled in.
      </p>
      {exported.state === 'working' && (
        <p role="status" className="hint">
          {exported.what}…
        </p>
      )}
      {exported.state === 'done' && (
        <p role="status" className="hint">
          {exported.message}
        </p>
      )}
      {exported.state === 'error' && (
        <div role="alert" className="notice error">
          {exported.message}
        </div>
      )}
    </div>
  );
}

function SavedOffer({ disabled }: { disabled: boolean }) {
  const { saved, otherSaved, state } = useDistill(useShallow((s) => ({ saved: s.saved, otherSaved: s.otherSaved, state: s.run.state })));
  const { resume, loadOtherSaved } = useDistill(useShallow((s) => ({ resume: s.resume, loadOtherSaved: s.loadOtherSaved })));
  if (state !== 'idle' && state !== 'error') return null;
  if (saved) {
    return (
      <div className="notice info saved-run" role="group" aria-label="Saved run">
        A checkpoint of these settings is saved at iteration {saved.iteration} ({new Date(saved.savedAt).toLocaleString()}).{' '}
        <button type="button" disabled={disabled} onClick={() => void resume()}>
          Resume from iteration {saved.iteration}
        </button>{' '}
        Start begins a new run from the teacher; Reset deletes the checkpoint.
      </div>
    );
  }
  if (otherSaved) {
    return (
      <div className="notice info saved-run" role="group" aria-label="Saved run">
        A run of other settings ({TASK_NAMES[otherSaved.identity.task]}, batch {otherSaved.identity.config.batch}, seed {otherSaved.identity.seed}) is saved at
        iteration {otherSaved.iteration}.{' '}
        <button type="button" onClick={loadOtherSaved}>
          Use its settings
        </button>
      </div>
    );
  }
  return null;
}

export function DistillRun({ webgpuProblem }: { webgpuProblem: string | null }) {
  const run = useDistill((s) => s.run);
  const evaluations = useDistill((s) => s.evaluations.length);
  const { start, pause, step, reset } = useDistill(useShallow((s) => ({ start: s.start, pause: s.pause, step: s.step, reset: s.reset })));
  const { state, pending } = run;
  const blocked = webgpuProblem !== null;
  const busy = state === 'loading' || pending !== null;
  const canDownload = run.iteration > 0 || evaluations > 0;

  return (
    <section className="distill-run" aria-label="Run" data-testid="distill-run" data-state={state} aria-busy={busy}>
      <div className="control-row actions">
        <button type="button" className="primary" disabled={blocked || busy || state === 'running'} onClick={() => void start()}>
          {state === 'paused' || state === 'done' ? 'Continue' : 'Start'}
        </button>
        <button type="button" disabled={state !== 'running' || pending !== null} onClick={() => void pause()}>
          Pause
        </button>
        <button type="button" disabled={blocked || busy || state === 'running' || state === 'done'} onClick={() => void step()}>
          Step once
        </button>
        <button type="button" disabled={state === 'loading'} onClick={() => void reset()}>
          Reset
        </button>
      </div>
      <SavedOffer disabled={blocked || busy} />
      <dl className="distill-progress">
        <div>
          <dt>Iteration</dt>
          <dd>
            <output aria-label="Iteration" aria-live="off">
              {run.iteration}
            </output>
          </dd>
        </div>
        <div>
          <dt>Iterations per second</dt>
          <dd data-machine-specific>{run.iterationsPerSecond === null ? '–' : run.iterationsPerSecond.toFixed(1)}</dd>
        </div>
        <div>
          <dt>Elapsed</dt>
          <dd data-machine-specific>{formatElapsed(run.elapsedSeconds)}</dd>
        </div>
        <div>
          <dt>Checkpoint</dt>
          <dd>{run.checkpoint ? `iteration ${run.checkpoint.iteration}` : '–'}</dd>
        </div>
        {run.adapter && (
          <div className="wide">
            <dt>Adapter</dt>
            <dd data-machine-specific>{run.adapter}</dd>
          </div>
        )}
      </dl>
      {state === 'loading' && (
        <p role="status" className="hint">
          {run.message ?? 'Loading'}…
        </p>
      )}
      {state === 'error' && run.message && (
        <div role="alert" className="notice error">
          {run.message}
        </div>
      )}
      {state !== 'error' && state !== 'loading' && run.message && (
        <p role="status" className="hint">
          {run.message}
        </p>
      )}
      {run.warning && (
        <div role="alert" className="notice warning">
          {run.warning}
        </div>
      )}
      <div className="control-row downloads" role="group" aria-label="Download metrics">
        <button type="button" disabled={!canDownload} onClick={() => download('json')}>
          Download JSON
        </button>
        <button type="button" disabled={!canDownload} onClick={() => download('metrics-csv')}>
          Download iterations CSV
        </button>
        <button type="button" disabled={!canDownload} onClick={() => download('evaluations-csv')}>
          Download evaluations CSV
        </button>
      </div>
      <StudentExport />
    </section>
  );
}
