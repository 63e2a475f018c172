// The Generate tab's controls. Every one has a visible label (its accessible name); values are kept as typed and
// checked when a generation starts (state/generation.ts readRequest), which says what is wrong and where. For a
// model that draws 2D points for a label, the prompt names the label and a hint under it lists them (no datalist:
// an input with a list is a combobox, and the prompt stays the textbox it is for every model).
import { useShallow } from 'zustand/react/shallow';
import { DEFAULT_POINT_COUNT, isPointsModel } from '../pipeline/generate';
import { SAMPLER_NAMES, type SamplerName } from '../pipeline/generatePlan';
import { modelSummary, stepChoices, usesGuidance } from '../pipeline/modelInfo';
import { useGenerate } from '../state/generate';
import { MAX_GUIDANCE, MAX_SEED, MAX_UI_BATCH, PROVIDER_CHOICES, type ProviderChoice } from '../state/generation';
import { findModel, type ModelEntry, useModels } from '../state/models';

const SAMPLER_LABELS: Record<SamplerName, string> = { euler: 'Euler', x0: 'x0-renoise' };
const PROVIDER_LABELS: Record<ProviderChoice, string> = { auto: 'Auto (WebGPU when available)', webgpu: 'WebGPU', wasm: 'wasm (CPU)' };

function DiceIcon() {
  return (
    <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false">
      <rect x="1.5" y="1.5" width="13" height="13" rx="3" fill="none" stroke="currentColor" strokeWidth="1.5" />
      {[
        [5, 5],
        [11, 5],
        [8, 8],
        [5, 11],
        [11, 11],
      ].map(([cx, cy]) => (
        <circle key={`${cx},${cy}`} cx={cx} cy={cy} r="1.3" fill="currentColor" />
      ))}
    </svg>
  );
}

/** A group of the model picker; `tagPoints`: say which are models of 2D points (where the group does not). */
function ModelOptions({ models, label, tagPoints = false }: { models: ModelEntry[]; label: string; tagPoints?: boolean }) {
  if (models.length === 0) return null;
  return (
    <optgroup label={label}>
      {models.map((m) => (
        <option key={m.id} value={m.id}>
          {m.name} ({tagPoints && isPointsModel(m.manifest) ? '2D points, ' : ''}
          {modelSummary(m.manifest)}){m.source === 'cached' ? ', cached' : ''}
        </option>
      ))}
    </optgroup>
  );
}

const LABELS_HINT_ID = 'generate-labels-hint';

/** The prompt box; for a points model, with its labels listed under it. */
function PromptField({ model }: { model: ModelEntry | undefined }) {
  const prompt = useGenerate((s) => s.prompt);
  const setPrompt = useGenerate((s) => s.setPrompt);
  const labels = model && isPointsModel(model.manifest) ? (model.manifest.labels ?? []) : null;
  return (
    <>
      <label className="field prompt">
        <span>Prompt</span>
        <input
          type="text"
          value={prompt}
          onChange={(e) => setPrompt(e.target.value)}
          placeholder={labels ? `a label, e.g. ${labels[1] ?? labels[0] ?? ''}` : 'a large green square on a white background'}
          autoComplete="off"
          spellCheck={false}
          {...(labels ? { 'aria-describedby': LABELS_HINT_ID } : {})}
        />
      </label>
      {labels && (
        <p className="hint" id={LABELS_HINT_ID}>
          This model draws 2D points for a label: {labels.join(', ')} (empty: {labels[0]}, the unconditional one). Each image is a scatter of{' '}
          {DEFAULT_POINT_COUNT.toLocaleString('en-US')} points over [-3, 3]², one seed per image.
        </p>
      )}
    </>
  );
}

function StepsControl({ model }: { model: ModelEntry | undefined }) {
  const stepsText = useGenerate((s) => s.stepsText);
  const set = useGenerate((s) => s.set);
  const choices = model ? stepChoices(model.manifest) : null;
  if (choices?.kind === 'listed') {
    return (
      <label className="field">
        <span>Steps</span>
        <select value={stepsText} onChange={(e) => set({ stepsText: e.target.value })}>
          {!choices.counts.includes(Number(stepsText)) && <option value={stepsText}>{stepsText} (not available)</option>}
          {choices.counts.map((n) => (
            <option key={n} value={String(n)}>
              {n}
            </option>
          ))}
        </select>
      </label>
    );
  }
  return (
    <label className="field">
      <span>Steps</span>
      <input type="number" inputMode="numeric" min={choices?.min ?? 1} max={choices?.max} step={1} value={stepsText} onChange={(e) => set({ stepsText: e.target.value })} />
    </label>
  );
}

export function GenerateControls() {
  const controls = useGenerate(
    useShallow((s) => ({ modelId: s.modelId, seedText: s.seedText, seedLocked: s.seedLocked, batchText: s.batchText, guidanceText: s.guidanceText, sampler: s.sampler, provider: s.provider, asYouType: s.asYouType })),
  );
  const busy = useGenerate((s) => s.run.state === 'loading' || s.run.state === 'running');
  const { set, selectModel, randomizeSeed, generate, cancel } = useGenerate(
    useShallow((s) => ({ set: s.set, selectModel: s.selectModel, randomizeSeed: s.randomizeSeed, generate: s.generate, cancel: s.cancel })),
  );
  const { bundled, cachedEntries } = useModels(useShallow((s) => ({ bundled: s.bundled, cachedEntries: s.cachedEntries })));
  const model = findModel(controls.modelId);

  return (
    <form
      className="controls"
      aria-label="Generation settings"
      onSubmit={(event) => {
        event.preventDefault();
        void generate('button');
      }}
    >
      <PromptField model={model} />
      <div className="control-row">
        <label className="field model">
          <span>Model</span>
          <select value={model ? controls.modelId : ''} onChange={(e) => selectModel(e.target.value)}>
            {!model && <option value="">No model</option>}
            <ModelOptions models={bundled.filter((m) => !isPointsModel(m.manifest))} label="Bundled" />
            <ModelOptions models={bundled.filter((m) => isPointsModel(m.manifest))} label="Bundled 2D points (the prompt names a label)" />
            <ModelOptions models={cachedEntries} label="Cached" tagPoints />
          </select>
        </label>
        <StepsControl model={model} />
        <label className="field">
          <span>Sampler</span>
          <select value={controls.sampler} onChange={(e) => set({ sampler: e.target.value as SamplerName })}>
            {SAMPLER_NAMES.map((name) => (
              <option key={name} value={name}>
                {SAMPLER_LABELS[name]}
              </option>
            ))}
          </select>
        </label>
        {model && usesGuidance(model.manifest) && (
          <label className="field narrow">
            <span>Guidance</span>
            <input type="number" min={0} max={MAX_GUIDANCE} step={0.5} value={controls.guidanceText} onChange={(e) => set({ guidanceText: e.target.value })} />
          </label>
        )}
      </div>
      <div className="control-row">
        <div className="field seed">
          <label htmlFor="generate-seed">Seed</label>
          <div className="seed-row">
            <input id="generate-seed" type="number" inputMode="numeric" min={0} max={MAX_SEED} step={1} value={controls.seedText} onChange={(e) => set({ seedText: e.target.value, seedLocked: true })} />
            <button type="button" className="icon" aria-label="Random seed" title="Random seed" onClick={randomizeSeed}>
              <DiceIcon />
            </button>
            <label className="check" title="Locked: Generate keeps this seed. Unlocked: every press of Generate draws a new one.">
              <input type="checkbox" checked={controls.seedLocked} onChange={(e) => set({ seedLocked: e.target.checked })} />
              Lock seed
            </label>
          </div>
        </div>
        <label className="field narrow">
          <span>Batch size</span>
          <input type="number" inputMode="numeric" min={1} max={MAX_UI_BATCH} step={1} value={controls.batchText} onChange={(e) => set({ batchText: e.target.value })} />
        </label>
        <label className="field">
          <span>Execution provider</span>
          <select value={controls.provider} onChange={(e) => set({ provider: e.target.value as ProviderChoice })}>
            {PROVIDER_CHOICES.map((choice) => (
              <option key={choice} value={choice}>
                {PROVIDER_LABELS[choice]}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="control-row actions">
        <button type="submit" className="primary">
          Generate
        </button>
        {busy && (
          <button type="button" onClick={cancel}>
            Cancel
          </button>
        )}
        <label className="check">
          <input type="checkbox" checked={controls.asYouType} onChange={(e) => set({ asYouType: e.target.checked })} />
          Generate as you type
        </label>
      </div>
    </form>
  );
}
