// Teacher vs student, side by side: the prompt and seed above through the teacher at N steps and through a second
// model at 1-4 steps, each with its image and timings, and how many times faster the second one was.
import { useShallow } from 'zustand/react/shallow';
import { isFewStep } from '../pipeline/modelInfo';
import { COMPARE_ROLES, type CompareRole, sideModel, studentStepOptions, useCompare } from '../state/compare';
import type { ResultView } from '../state/generate';
import { providerLabel } from '../state/generation';
import { allModels, useModels } from '../state/models';
import { PixelImage } from './PixelImage';
import { formatMs, Timings } from './Timings';

const TITLES: Record<CompareRole, string> = { teacher: 'Teacher', student: 'Student' };

function SideControls({ role }: { role: CompareRole }) {
  const side = useCompare((s) => s[role]);
  const setSide = useCompare((s) => s.setSide);
  const models = allModels(useModels(useShallow((s) => ({ bundled: s.bundled, cachedEntries: s.cachedEntries }))));
  const model = sideModel(role, side);
  const steps = studentStepOptions(model);
  return (
    <fieldset className="compare-side">
      <legend>{TITLES[role]}</legend>
      <label className="field">
        <span>{TITLES[role]} model</span>
        <select value={model?.id ?? ''} onChange={(e) => setSide(role, { modelId: e.target.value })}>
          {!model && <option value="">No model</option>}
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
              {m.source === 'cached' ? ' (cached)' : ''}
            </option>
          ))}
        </select>
      </label>
      {role === 'teacher' ? (
        <label className="field narrow">
          <span>Teacher steps</span>
          <input type="number" min={1} max={200} step={1} value={side.stepsText} onChange={(e) => setSide(role, { stepsText: e.target.value })} />
        </label>
      ) : (
        <label className="field narrow">
          <span>Student steps</span>
          <select value={side.stepsText} onChange={(e) => setSide(role, { stepsText: e.target.value })}>
            {steps.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
      )}
    </fieldset>
  );
}

function SideResult({ role, result }: { role: CompareRole; result: ResultView | null }) {
  if (!result) return <div className="compare-result empty" aria-label={`${TITLES[role]} result`} />;
  const image = result.images[0]!;
  return (
    <figure className="compare-result" aria-label={`${TITLES[role]} result`}>
      <PixelImage rgba={image.rgba} width={image.width} height={image.height} size={192} label={`${TITLES[role]} image: ${result.model.name}, ${result.settings.steps} steps, seed ${image.seed}`} />
      <figcaption>
        <strong>
          {result.model.name}, {result.settings.steps} step{result.settings.steps === 1 ? '' : 's'}
        </strong>
        <span>
          {result.settings.sampler === 'x0' ? 'x0-renoise' : 'Euler'}
          {result.settings.guidance !== 1 ? `, guidance ${result.settings.guidance}` : ', no guidance'} · {providerLabel(result.provider)}
        </span>
        <Timings timings={result.timings} loadMs={result.loadMs} compact />
      </figcaption>
    </figure>
  );
}

export function ComparePanel() {
  const { state, message, results, run, cancel, teacher, student } = useCompare(
    useShallow((s) => ({ state: s.state, message: s.message, results: s.results, run: s.run, cancel: s.cancel, teacher: s.teacher, student: s.student })),
  );
  useModels((s) => s.cachedEntries); // re-render when the cached models change
  const studentModel = sideModel('student', student);
  const teacherModel = sideModel('teacher', teacher);
  const noStudent = !allModels().some((m) => isFewStep(m.manifest));
  const speedup = results.teacher && results.student ? results.teacher.timings.totalMs / results.student.timings.totalMs : null;

  return (
    <section className="compare" aria-labelledby="compare-heading" data-state={state}>
      <h3 id="compare-heading">Teacher vs student</h3>
      <p className="hint">
        The prompt and seed above, through the teacher at many steps and through a second model at 1 to 4.
        {noStudent && ' No distilled student is loaded yet, so the second model is the teacher itself at few steps: what distillation has to beat. Load a student bundle under Models to compare it.'}
      </p>
      <div className="compare-controls">
        {COMPARE_ROLES.map((role) => (
          <SideControls key={role} role={role} />
        ))}
        <div className="actions">
          <button type="button" onClick={() => void run()} disabled={!teacherModel || !studentModel}>
            Compare
          </button>
          {state === 'running' && (
            <button type="button" onClick={cancel}>
              Cancel comparison
            </button>
          )}
        </div>
      </div>
      {state === 'running' && message && <p role="status">{message}</p>}
      {state === 'idle' && message && <p role="status">{message}</p>}
      {state === 'error' && message && (
        <div role="alert" className="notice error">
          {message}
        </div>
      )}
      {(results.teacher || results.student) && (
        <div className="compare-results">
          {COMPARE_ROLES.map((role) => (
            <SideResult key={role} role={role} result={results[role]} />
          ))}
        </div>
      )}
      {speedup !== null && (
        <p className="speedup">
          The student took{' '}
          <span data-machine-specific>
            {formatMs(results.student!.timings.totalMs)} against the teacher's {formatMs(results.teacher!.timings.totalMs)} ({speedup.toFixed(1)}x faster)
          </span>
          .
        </p>
      )}
    </section>
  );
}
