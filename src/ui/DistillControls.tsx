// The Distill tab's settings: the task, the presets (the ablation arms in one click) and, under "Advanced", every
// knob of the recipe with a line on what it does and the equation it sets. Values are kept as typed and checked on
// Start (state/distillSettings.ts readRunSettings). While a run is open the settings are locked (Reset unlocks them),
// except its length and cadence, which a paused or finished run takes on Continue.
import { useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { type ArmName, ARMS } from '../distill/config';
import { useDistill } from '../state/distill';
import { activePreset, type DistillForm, MAX_EMA_DECAY, MAX_SEED, PRESET_ARMS } from '../state/distillSettings';
import { DISTILL_TASKS, type DistillTaskName, isToyTask } from '../workers/distillApi';

const TASK_LABELS: Record<DistillTaskName, string> = { ring: '2D ring', grid: '2D grid', shapes: 'Shapes-32 (text to image)' };
const TASK_NOTES: Record<DistillTaskName, string> = {
  ring: '8 Gaussians on a circle; labels "any" and four pairs of opposite modes. The easy one.',
  grid: '25 Gaussians on a 5×5 grid; labels "any", each row and each column. Harder: more modes, closer together.',
  shapes:
    'The bundled 32×32 text-to-image teacher (a small DiT): captions like "a small red circle on the left". About a hundred times the work of a toy iteration: seconds per iteration on a software GPU, much less on a real one.',
};

const PRESET_NOTES: Record<ArmName, string> = {
  dmd: 'Distribution matching alone (with TTUR): the baseline.',
  ida: 'DMD + Implicit Distribution Alignment: the fake score is pulled toward the generator after each generator step.',
  isg: 'DMD + Intra-Segment Guidance: the student learns each jump between its anchors from a teacher-guided target.',
  senseflow: 'DMD + IDA + ISG: the SenseFlow recipe.',
  gan: "SenseFlow + a GAN term: a discriminator on a frozen network's features (Shapes: the attribute evaluator; the toy: a copy of the teacher) tells real data from the student's samples.",
  'pull-to-teacher': 'A control for IDA: the same pull, but toward the frozen teacher instead of the generator.',
};
const presetLabel = (arm: ArmName) => (arm === 'senseflow' ? 'SenseFlow' : ARMS[arm].label.replace(' (control for IDA)', ''));

function NumberField({ name, label, hint, min, max, step, disabled }: { name: keyof DistillForm; label: string; hint: React.ReactNode; min: number; max: number; step: number | 'any'; disabled: boolean }) {
  const value = useDistill((s) => s.form[name]);
  const setField = useDistill((s) => s.setField);
  const hintId = useId();
  return (
    <div className="knob">
      <label className="field">
        <span>{label}</span>
        <input type="number" min={min} max={max} step={step} value={value} disabled={disabled} aria-describedby={hintId} onChange={(e) => setField(name, e.target.value)} />
      </label>
      <p id={hintId} className="hint">
        {hint}
      </p>
    </div>
  );
}

function SelectField<V extends string>({ name, label, hint, choices, disabled }: { name: keyof DistillForm; label: string; hint: React.ReactNode; choices: readonly (readonly [V, string])[]; disabled: boolean }) {
  const value = useDistill((s) => s.form[name]);
  const setField = useDistill((s) => s.setField);
  const hintId = useId();
  return (
    <div className="knob">
      <label className="field">
        <span>{label}</span>
        <select value={value} disabled={disabled} aria-describedby={hintId} onChange={(e) => setField(name, e.target.value as DistillForm[typeof name])}>
          {choices.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      </label>
      <p id={hintId} className="hint">
        {hint}
      </p>
    </div>
  );
}

export function DistillControls() {
  const { task, form } = useDistill(useShallow((s) => ({ task: s.form.task, form: s.form })));
  const locked = useDistill((s) => s.run.state !== 'idle' && s.run.state !== 'error');
  // These can change while a run is paused or done: Continue applies them (a higher last iteration goes on).
  const cadenceLocked = useDistill((s) => s.run.state === 'running' || s.run.state === 'loading' || s.run.pending !== null);
  const { setField, applyPreset } = useDistill(useShallow((s) => ({ setField: s.setField, applyPreset: s.applyPreset })));
  const preset = activePreset(form);

  return (
    <div className="distill-settings">
      <fieldset className="task-picker" disabled={locked}>
        <legend>Task</legend>
        {DISTILL_TASKS.map((name) => (
          <div key={name} className="task">
            <label className="check">
              <input type="radio" name="distill-task" value={name} checked={task === name} aria-describedby={`distill-task-${name}`} onChange={() => setField('task', name)} />
              {TASK_LABELS[name]}
            </label>
            <span id={`distill-task-${name}`} className="hint">
              {TASK_NOTES[name]}
            </span>
          </div>
        ))}
        <p className="hint">Choosing a task sets its learning rate, batch size, guidance range and cadence (under Advanced) to ones that suit it.</p>
      </fieldset>

      <fieldset className="presets" disabled={locked}>
        <legend>Preset</legend>
        <div className="preset-buttons">
          {PRESET_ARMS.map((arm) => (
            <button key={arm} type="button" aria-pressed={preset === arm} title={PRESET_NOTES[arm]} onClick={() => applyPreset(arm)}>
              {presetLabel(arm)}
            </button>
          ))}
        </div>
        <p className="hint">
          {preset ? PRESET_NOTES[preset] : 'Custom: the knobs under Advanced match no preset.'}
        </p>
      </fieldset>

      <details className="advanced">
        <summary>Advanced</summary>
        <fieldset disabled={locked} className="knobs">
          <legend className="visually-hidden">Advanced settings</legend>
          <NumberField name="idaLambda" label="IDA lambda" min={0} max={1} step={0.01} disabled={locked} hint={<>After each generator step, φ ← λφ + (1 − λ)θ: the fake score is pulled toward the generator (IDA). 1 turns IDA off; the paper uses 0.97.</>} />
          <SelectField
            name="alignment"
            label="IDA pulls toward"
            disabled={locked}
            choices={[
              ['generator', 'the generator (IDA)'],
              ['teacher', 'the teacher (control)'],
            ]}
            hint="Toward the generator is IDA; toward the frozen teacher is the control arm, which shows that the pull helps because it follows the student."
          />
          <NumberField name="isgWeight" label="ISG weight" min={0} max={10} step={0.1} disabled={locked} hint={<>Weight of Intra-Segment Guidance. For the student's jump s<sub>i</sub> → s<sub>i+1</sub>, the teacher steps from s<sub>i</sub> to a point s<sub>mid</sub> inside the segment and the student finishes from there; the direct jump is pulled toward that target. 0 turns ISG off.</>} />
          <SelectField
            name="isgLoss"
            label="ISG loss"
            disabled={locked}
            choices={[
              ['pseudo-huber', 'pseudo-Huber'],
              ['l2', 'L2'],
            ]}
            hint={<>Pseudo-Huber √(d² + c²) − c with c = 10⁻³ (L2 near zero, L1 far away: robust to large misses), or plain L2.</>}
          />
          <SelectField
            name="isgFirst"
            label="ISG on the first segment"
            disabled={locked}
            choices={[
              ['on', 'on (as in the paper)'],
              ['off', 'off'],
            ]}
            hint={
              <>
                The first segment starts at pure noise, where the teacher&apos;s estimate is the blurred mean of every picture the prompt allows,
                and the 1-step sampler&apos;s picture is the student&apos;s output there. On the ring, turning it off made 1-step samples worse.
              </>
            }
          />
          <SelectField
            name="isgLast"
            label="ISG on the last segment"
            disabled={locked}
            choices={[
              ['on', 'on (as in the paper)'],
              ['off', 'off (between anchors only)'],
            ]}
            hint={
              <>
                After the last anchor the segment runs to 0, so ISG&apos;s target asks the student at a noise level below every anchor,
                where it is never trained. On Shapes that put a dotted texture into the 4-step samples; off keeps ISG between anchors.
              </>
            }
          />
          <NumberField
            name="ganWeight"
            label="GAN weight"
            min={0}
            max={10}
            step={0.05}
            disabled={locked}
            hint={
              <>
                Weight of the GAN term: projection heads on a frozen network&apos;s layer features form a discriminator (hinge loss, trained
                every iteration) that tells real data from the student&apos;s samples. Shapes reads the attribute evaluator; the 2D toy a frozen
                copy of the teacher at σ = 0. The generator minimises −D(x), weighted by (1 − s)²: nothing at the first anchor (s = 1,
                the layout step), most on the last steps, which refine detail. 0 turns it off.
              </>
            }
          />
          <NumberField name="ttur" label="TTUR ratio" min={1} max={50} step={1} disabled={locked} hint="Two time-scale update rule: the fake score trains every iteration, the generator every k-th, so the fake score keeps up with the student." />
          <div className="knob">
            <div className="field-pair" role="group" aria-labelledby="distill-guidance-label" aria-describedby="distill-guidance-hint">
              <span id="distill-guidance-label" className="group-label">
                Guidance range
              </span>
              <label className="field">
                <span>Guidance from</span>
                <input type="number" min={0} max={30} step={0.5} value={form.guidanceMin} disabled={locked} onChange={(e) => setField('guidanceMin', e.target.value)} />
              </label>
              <label className="field">
                <span>Guidance to</span>
                <input type="number" min={0} max={30} step={0.5} value={form.guidanceMax} disabled={locked} onChange={(e) => setField('guidanceMax', e.target.value)} />
              </label>
            </div>
            <p id="distill-guidance-hint" className="hint">
              The real score is the teacher with classifier-free guidance, v = v<sub>any</sub> + w (v<sub>label</sub> − v<sub>any</sub>), w drawn
              uniformly in this range each iteration. 1 is the teacher's plain conditional; larger w sharpens the labels.
            </p>
          </div>
          <NumberField name="lr" label="Learning rate" min={1e-7} max={1} step="any" disabled={locked} hint="AdamW's learning rate, the same for the generator and the fake score (as in the paper)." />
          <NumberField name="batch" label="Batch size" min={1} max={4096} step={1} disabled={locked} hint="Samples per iteration. Larger batches give smoother updates and take longer per iteration." />
          <NumberField name="anchorSteps" label="Anchors" min={1} max={8} step={1} disabled={locked} hint={<>The student's noise levels: n anchors shift(1), shift(1 − 1/n), … with shift(s) = ks / (1 + (k − 1)s). Four anchors with k = 3 are 1, 0.9, 0.75, 0.5; the 1- and 2-step samplers use the first one and two.</>} />
          <NumberField name="shift" label="Shift" min={0.1} max={20} step={0.5} disabled={locked} hint="k of the shift above: larger k keeps the anchors at higher noise." />
          <NumberField name="backwardSimulation" label="Backward simulation" min={0} max={1} step={0.05} disabled={locked} hint="The probability that the student's input at an anchor is made by running the student itself from noise through the earlier anchors (as at inference) rather than by noising real data." />
          <NumberField
            name="emaDecay"
            label="Moving average"
            min={0}
            max={MAX_EMA_DECAY}
            step={0.001}
            disabled={locked}
            hint={
              <>
                The student that is drawn, evaluated and exported becomes an exponential moving average of the generator&apos;s weights,
                θ̄ ← dθ̄ + (1 − d)θ after each generator step (from the generator at the first one). It smooths the student&apos;s swings
                between iterations and trails the live generator by about 1/(1 − d) generator steps; the training itself is unchanged.
                0 turns it off; the bundled Shapes student used 0.995.
              </>
            }
          />
          <NumberField
            name="regressionWeight"
            label="Regression weight"
            min={0}
            max={10}
            step={0.5}
            disabled={locked}
            hint={
              <>
                DMD&apos;s regression term (not part of SenseFlow&apos;s recipe): before the first iteration the teacher integrates 512 noises
                (50 Euler steps each), and every generator step pulls the student&apos;s 1-step sample from those noises toward the
                teacher&apos;s, mean((G(z) − x<sub>teacher</sub>(z))²) times this weight. It tells the 1-step sampler which layout each noise
                should become, where DMD alone can leave faint copies of an object. 0 turns it off; the bundled Shapes student used 1.
              </>
            }
          />
          <NumberField name="seed" label="Seed" min={0} max={MAX_SEED} step={1} disabled={locked} hint="Every random draw is a function of the seed and the iteration, so a run repeats exactly, and resumes exactly from a checkpoint." />
          {!isToyTask(task) && (
            <NumberField
              name="evalCaptions"
              label="Evaluation captions"
              min={8}
              max={256}
              step={8}
              disabled={locked}
              hint="Shapes: fixed captions (and seeds) each evaluation generates at every step count and reads with the evaluator. More give steadier prompt accuracy and FD-T and take longer; the teacher's images for them are made once."
            />
          )}
        </fieldset>
        <fieldset disabled={cadenceLocked} className="knobs">
          <legend>Run length and cadence</legend>
          <NumberField name="iterations" label="Stop at iteration" min={1} max={1_000_000} step={1} disabled={cadenceLocked} hint="The run stops (done) at this iteration. To go on with a finished run, raise it and press Continue." />
          <NumberField name="checkpointEvery" label="Checkpoint every" min={1} max={100_000} step={1} disabled={cadenceLocked} hint="Iterations between checkpoints in this browser's storage (a pause saves one too); a reload offers to resume from the last." />
          <NumberField name="figureEvery" label="Figures every" min={1} max={100_000} step={1} disabled={cadenceLocked} hint="Iterations between figure updates and evaluations (a pause and a single step update them too)." />
        </fieldset>
      </details>
    </div>
  );
}
