// Teacher vs student: the Generate tab's prompt and seed through a teacher at N steps and through a second model at
// 1 to 4 steps, one after the other on the same provider, side by side with their timings. With no distilled
// student loaded, the second model is the teacher itself at few steps (what distillation has to beat); a student
// bundle (schedule 'anchors'), bundled or cached, is picked by default as soon as there is one.
import { create } from 'zustand';
import type { GenerateRequest } from '../pipeline/generate';
import { LatestWins } from '../pipeline/generateLatest';
import { defaultSampler, isFewStep, stepChoices } from '../pipeline/modelInfo';
import { type ResultView, useGenerate } from './generate';
import { isAbortError, keepInHistory, readRequest, resolveProvider, runGeneration } from './generation';
import { allModels, findModel, type ModelEntry } from './models';

export type CompareRole = 'teacher' | 'student';
export const COMPARE_ROLES: readonly CompareRole[] = ['teacher', 'student'];
/** The second model's step counts: a student's listed ones up to this, a teacher's 1..this. */
export const MAX_STUDENT_STEPS = 4;

export interface CompareSide {
  /** '' = the default for the role (see defaultModel). */
  modelId: string;
  stepsText: string;
}

export interface CompareState {
  teacher: CompareSide;
  student: CompareSide;
  state: 'idle' | 'running' | 'done' | 'error';
  /** running: which side and how far; error: what went wrong. */
  message: string | null;
  results: Record<CompareRole, ResultView | null>;
  setSide(role: CompareRole, side: Partial<CompareSide>): void;
  run(): Promise<void>;
  cancel(): void;
}

/** The teacher: the first model that is not a few-step student. The student: the first few-step one, else the teacher. */
export function defaultModel(role: CompareRole, models: ModelEntry[] = allModels()): ModelEntry | undefined {
  const teacher = models.find((m) => !isFewStep(m.manifest));
  if (role === 'teacher') return teacher ?? models[0];
  return models.find((m) => isFewStep(m.manifest)) ?? teacher ?? models[0];
}

/** The step counts the second model offers: its listed counts up to 4, or 1-4 for a teacher. */
export function studentStepOptions(model: ModelEntry | undefined): number[] {
  if (!model) return [];
  const choices = stepChoices(model.manifest);
  if (choices.kind === 'listed') return choices.counts.filter((n) => n <= MAX_STUDENT_STEPS);
  return Array.from({ length: MAX_STUDENT_STEPS }, (_, i) => i + 1);
}

export function sideModel(role: CompareRole, side: CompareSide): ModelEntry | undefined {
  return side.modelId ? findModel(side.modelId) : defaultModel(role);
}

const latest = new LatestWins<void>();
let runToken = 0;

export const useCompare = create<CompareState>()((set, get) => ({
  teacher: { modelId: '', stepsText: String(defaultModel('teacher')?.manifest.steps.default ?? 50) },
  student: { modelId: '', stepsText: String(Math.max(...studentStepOptions(defaultModel('student')), 1)) },
  state: 'idle',
  message: null,
  results: { teacher: null, student: null },

  setSide(role, side) {
    const next = { ...get()[role], ...side };
    if (side.modelId !== undefined) {
      const model = sideModel(role, next);
      if (model) next.stepsText = role === 'teacher' ? String(model.manifest.steps.default) : String(Math.max(...studentStepOptions(model), 1));
    }
    set({ [role]: next } as Pick<CompareState, CompareRole>);
  },

  async run() {
    const controls = useGenerate.getState();
    const requests: { role: CompareRole; model: ModelEntry; request: GenerateRequest }[] = [];
    for (const role of COMPARE_ROLES) {
      const side = get()[role];
      const model = sideModel(role, side);
      if (!model) {
        set({ state: 'error', message: `No ${role} model: load one under Models.` });
        return;
      }
      // The model selected above the comparison uses its guidance and sampler there; any other its own defaults.
      const same = model.id === controls.modelId;
      const parsed = readRequest(
        {
          prompt: controls.prompt,
          seedText: controls.seedText,
          stepsText: side.stepsText,
          batchText: '1',
          guidanceText: same ? controls.guidanceText : String(model.manifest.guidance.default),
          sampler: same ? controls.sampler : defaultSampler(model.manifest),
        },
        model,
      );
      if ('error' in parsed) {
        set({ state: 'error', message: `${role === 'teacher' ? 'Teacher' : 'Student'}: ${parsed.error}` });
        return;
      }
      requests.push({ role, model, request: parsed.request });
    }
    const token = ++runToken;
    const current = () => token === runToken;
    set({ state: 'running', message: 'Starting', results: { teacher: null, student: null } });
    try {
      await latest.run(async (signal) => {
        const { provider, reason } = await resolveProvider(controls.provider);
        for (const { role, model, request } of requests) {
          const label = `${role === 'teacher' ? 'Teacher' : 'Student'} (${model.name}, ${request.steps} step${request.steps === 1 ? '' : 's'})`;
          if (current()) set({ message: `${label}: starting` });
          let settled = false; // a late step event (its own message channel) must not overwrite what follows
          const result = await runGeneration(model, provider, request, signal, (event) => {
            if (!current() || settled) return;
            set({ message: event.type === 'loading' ? `${label}: ${event.what}` : `${label}: step ${event.step + 1} of ${event.steps}` });
          }).finally(() => {
            settled = true;
          });
          keepInHistory(result);
          if (current()) set((s) => ({ results: { ...s.results, [role]: { ...result, providerReason: reason, modelName: model.name } } }));
        }
        if (current()) set({ state: 'done', message: null });
      });
    } catch (error) {
      if (!current()) return;
      if (isAbortError(error)) set({ state: 'idle', message: 'Cancelled.' });
      else set({ state: 'error', message: error instanceof Error ? error.message : String(error) });
    }
  },

  cancel() {
    runToken++;
    latest.cancel();
    set({ state: 'idle', message: 'Cancelled.' });
  },
}));
