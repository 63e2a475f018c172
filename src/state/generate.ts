// The Generate surface: the controls (kept as typed, checked when a generation starts), the current run as the
// result area shows it (idle / loading / running / done / error, with each step's x0 previews), and what a dropped
// PNG, a history entry or a deep link restores. Generations go to the worker one at a time, latest wins: a new one
// (Generate pressed again, or the prompt changed with generate-as-you-type on) cancels the running one.
import { create } from 'zustand';
import { LatestWins } from '../pipeline/generateLatest';
import { findLabel, isPointsModel } from '../pipeline/generatePoints';
import type { SamplerName } from '../pipeline/generatePlan';
import { allowsSteps, defaultSampler, isSamplerName } from '../pipeline/modelInfo';
import { type GenerationSettings, readPngSettingsFromFile } from '../pipeline/pngMeta';
import type { WorkerGenerateResult } from '../workers/generateApi';
import { useApp } from './app';
import { readDeepLink } from './deepLink';
import { isAbortError, keepInHistory, type ProviderChoice, randomSeed, readRequest, resolveProvider, runGeneration } from './generation';
import { useHistory } from './historyStore';
import { findModel, matchModel, type ModelEntry, useModels } from './models';

export type RunState = 'idle' | 'loading' | 'running' | 'done' | 'error';

export interface ResultView extends WorkerGenerateResult {
  /** Why it ran on this provider, in words. */
  providerReason: string;
  /** The model as the picker names it (a cached model's cache name; `model.name` is its manifest's). */
  modelName: string;
}

export interface RunView {
  state: RunState;
  /** loading: what is loading; error: what went wrong; idle: e.g. "Cancelled." */
  message: string | null;
  /** loading: bytes read so far, 0..1, when known. */
  loadFraction: number | null;
  /** running: steps done, of `steps`. */
  step: number;
  steps: number;
  /** previews[image][step]: each step's x0 estimate, RGBA (filled while running; the result's once done). */
  previews: Uint8ClampedArray[][];
  /** The images' size in pixels (0 until the first step). */
  width: number;
  height: number;
  result: ResultView | null;
}

export interface Notice {
  kind: 'info' | 'error';
  text: string;
}

export interface GenerateControls {
  prompt: string;
  modelId: string;
  stepsText: string;
  seedText: string;
  /** Locked: Generate keeps the seed; unlocked: each press of Generate draws a new one. */
  seedLocked: boolean;
  batchText: string;
  guidanceText: string;
  sampler: SamplerName;
  provider: ProviderChoice;
  /** Generate (debounced) whenever the prompt changes. */
  asYouType: boolean;
}

export interface GenerateState extends GenerateControls {
  run: RunView;
  notice: Notice | null;
  setPrompt(prompt: string): void;
  set(controls: Partial<Omit<GenerateControls, 'prompt' | 'modelId'>>): void;
  selectModel(id: string): void;
  randomizeSeed(): void;
  generate(trigger?: 'button' | 'typing' | 'link'): Promise<void>;
  cancel(): void;
  /** Restores a PNG's or a history entry's settings; `from` names it in the notice. Does not generate. */
  restore(settings: GenerationSettings, from: string): void;
  showNotice(notice: Notice | null): void;
}

/** How long the prompt must stay unchanged before generate-as-you-type starts. */
export const TYPING_DEBOUNCE_MS = 400;
const DEFAULT_SEED = '1';

const IDLE: RunView = { state: 'idle', message: null, loadFraction: null, step: 0, steps: 0, previews: [], width: 0, height: 0, result: null };

function modelDefaults(model: ModelEntry | undefined): Pick<GenerateControls, 'stepsText' | 'guidanceText' | 'sampler'> {
  if (!model) return { stepsText: '1', guidanceText: '1', sampler: 'euler' };
  return { stepsText: String(model.manifest.steps.default), guidanceText: String(model.manifest.guidance.default), sampler: defaultSampler(model.manifest) };
}

const latest = new LatestWins<void>();
/** Bumped by every new run and by cancel: events and outcomes of older runs are ignored. */
let runToken = 0;
let typingTimer: ReturnType<typeof setTimeout> | undefined;

const firstModel = useModels.getState().bundled[0];

export const useGenerate = create<GenerateState>()((set, get) => ({
  prompt: 'a red circle at the top left on a blue background',
  modelId: firstModel?.id ?? '',
  seedText: DEFAULT_SEED,
  seedLocked: true,
  batchText: '1',
  provider: 'auto',
  asYouType: false,
  ...modelDefaults(firstModel),
  run: IDLE,
  notice: null,

  setPrompt(prompt) {
    set({ prompt });
    clearTimeout(typingTimer);
    if (get().asYouType && prompt.trim() !== '') typingTimer = setTimeout(() => void get().generate('typing'), TYPING_DEBOUNCE_MS);
  },

  set: (controls) => set(controls),

  selectModel(id) {
    const model = findModel(id);
    set({ modelId: id, ...modelDefaults(model) });
    // A model of 2D points takes a label as its prompt: a caption left over from an image model becomes its label 0.
    const labels = model && isPointsModel(model.manifest) ? (model.manifest.labels ?? []) : [];
    if (labels.length > 0 && findLabel(labels, get().prompt) < 0) set({ prompt: labels[0]! });
  },

  randomizeSeed() {
    set({ seedText: String(randomSeed()) });
  },

  async generate(trigger = 'button') {
    clearTimeout(typingTimer);
    const model = findModel(get().modelId);
    if (!model) {
      set({ run: { ...IDLE, state: 'error', message: 'No model is selected: pick one in "Model" (or load one under Models).' } });
      return;
    }
    if (trigger === 'button' && !get().seedLocked) set({ seedText: String(randomSeed()) });
    const parsed = readRequest(get(), model);
    if ('error' in parsed) {
      set({ run: { ...IDLE, state: 'error', message: parsed.error } });
      return;
    }
    const token = ++runToken;
    const current = () => token === runToken;
    const batch = parsed.request.batch ?? 1;
    let ranOn: string | null = null;
    try {
      await latest.run(async (signal) => {
        set({ run: { ...IDLE, state: 'loading', message: 'Starting' } });
        const { provider, reason } = await resolveProvider(get().provider);
        ranOn = provider;
        // Step events come over their own message channel, so the last may arrive after the result: ignore it then.
        let settled = false;
        const result = await runGeneration(model, provider, parsed.request, signal, (event) => {
          if (!current() || settled) return;
          if (event.type === 'loading') {
            const fraction = event.progress && event.progress.totalBytes ? event.progress.loadedBytes / event.progress.totalBytes : null;
            set((s) => ({ run: { ...s.run, state: 'loading', message: event.what, loadFraction: fraction } }));
          } else {
            set((s) => {
              const previous = s.run.state === 'running' ? s.run.previews : Array.from({ length: batch }, () => []);
              const previews = event.previews ? previous.map((list, b) => [...list, event.previews![b]!]) : previous;
              return { run: { ...s.run, state: 'running', message: null, loadFraction: null, step: event.step + 1, steps: event.steps, previews, width: event.width, height: event.height } };
            });
          }
        }).finally(() => {
          settled = true;
        });
        keepInHistory(result);
        if (!current()) return;
        set({
          run: {
            ...IDLE,
            state: 'done',
            step: result.settings.steps,
            steps: result.settings.steps,
            previews: result.images.map((i) => i.previews),
            width: result.images[0]?.width ?? 0,
            height: result.images[0]?.height ?? 0,
            result: { ...result, providerReason: reason, modelName: model.name },
          },
        });
      });
    } catch (error) {
      if (!current()) return; // replaced by a newer run, or cancelled (cancel() already said so)
      if (isAbortError(error)) set({ run: { ...IDLE, message: 'Cancelled.' } });
      else {
        const text = error instanceof Error ? error.message : String(error);
        const hint = ranOn === 'webgpu' ? ' (This ran on WebGPU; "wasm (CPU)" under Execution provider runs it on the CPU instead.)' : '';
        set({ run: { ...IDLE, state: 'error', message: text + hint } });
      }
    }
  },

  cancel() {
    clearTimeout(typingTimer);
    runToken++;
    latest.cancel();
    set({ run: { ...IDLE, message: 'Cancelled.' } });
  },

  restore(settings, from) {
    clearTimeout(typingTimer);
    const problems: string[] = [];
    const model = matchModel(settings.model, settings.modelSha256);
    if (!model) problems.push(`its model "${settings.model}" is not available here (load it under Models), so the image will differ`);
    else if (model.sha256 !== settings.modelSha256) problems.push(`the model "${model.name}" here is not the exact one it was made with (its sha256 differs), so the image may differ`);
    const target = model ?? findModel(get().modelId);
    if (target && !allowsSteps(target.manifest, settings.steps)) problems.push(`${target.name} cannot run ${settings.steps} steps`);
    set({
      prompt: settings.prompt,
      seedText: String(settings.seed),
      seedLocked: true,
      stepsText: String(settings.steps),
      guidanceText: String(settings.guidance),
      batchText: '1',
      ...(isSamplerName(settings.sampler) ? { sampler: settings.sampler } : {}),
      ...(model ? { modelId: model.id } : {}),
      notice:
        problems.length === 0
          ? { kind: 'info', text: `Restored the settings of ${from}. Press Generate to make it again.` }
          : { kind: 'error', text: `Restored the settings of ${from}, but ${problems.join('; ')}.` },
    });
  },

  showNotice: (notice) => set({ notice }),
}));

let started = false;

/**
 * Once at start-up: loads the history and the cached models, then applies a deep link (?prompt=...), generating
 * straight away when it names a prompt.
 */
export async function startGenerate(search = globalThis.location?.search ?? ''): Promise<void> {
  if (started) return;
  started = true;
  void useHistory.getState().load();
  const link = readDeepLink(search);
  if (link?.provider) useGenerate.setState({ provider: link.provider });
  await useModels.getState().refresh();
  if (!link) return;
  const problems = [...link.problems];
  const store = useGenerate.getState();
  if (link.model !== undefined) {
    const model = matchModel(link.model);
    if (model) store.selectModel(model.id);
    else problems.push(`there is no model "${link.model}" (bundled or cached)`);
  }
  const controls: Partial<GenerateControls> = {};
  if (link.prompt !== undefined) controls.prompt = link.prompt;
  if (link.seed !== undefined) controls.seedText = link.seed;
  if (link.steps !== undefined) controls.stepsText = link.steps;
  if (link.guidance !== undefined) controls.guidanceText = link.guidance;
  if (link.batch !== undefined) controls.batchText = link.batch;
  if (link.sampler !== undefined) {
    if (isSamplerName(link.sampler)) controls.sampler = link.sampler;
    else problems.push(`sampler "${link.sampler}" is not one of euler, x0`);
  }
  useGenerate.setState({ ...controls, seedLocked: true });
  if (problems.length > 0) {
    useGenerate.setState({ notice: { kind: 'error', text: `This link cannot be followed: ${problems.join('; ')}.` } });
    return;
  }
  if (link.prompt !== undefined) {
    useApp.getState().setTab('generate');
    await useGenerate.getState().generate('link');
  }
}

/** A dropped or picked file: a PNG from this app restores its settings; anything else says why it cannot. */
export async function restoreFromFile(file: File): Promise<void> {
  useApp.getState().setTab('generate');
  const store = useGenerate.getState();
  try {
    const { settings } = await readPngSettingsFromFile(file);
    store.restore(settings, file.name);
  } catch (error) {
    store.showNotice({ kind: 'error', text: error instanceof Error ? error.message : String(error) });
  }
}
