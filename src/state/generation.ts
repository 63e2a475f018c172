// What the Generate tab's stores share: which execution provider to run (and why, in words the UI shows: the
// pipeline never falls back silently), one generation in the worker with cancel wired to an AbortSignal, reading
// the controls' text into a request, and keeping every result in the history.
import { type ExecutionProvider, type GenerateRequest, MAX_BATCH, webGpuAvailability } from '../pipeline/generate';
import type { SamplerName } from '../pipeline/generatePlan';
import { allowsSteps, stepChoices, usesGuidance } from '../pipeline/modelInfo';
import { isSeed } from '../pipeline/noise';
import type { GenerateEvent, WorkerGenerateResult } from '../workers/generateApi';
import { call, proxy } from '../workers/generateClient';
import { useHistory } from './historyStore';
import type { ModelEntry } from './models';

/** 'auto': WebGPU where this browser has it, else wasm (and the result says why). */
export type ProviderChoice = 'auto' | ExecutionProvider;
export const PROVIDER_CHOICES: readonly ProviderChoice[] = ['auto', 'webgpu', 'wasm'];

/** Most images one click makes in the UI (the pipeline takes up to MAX_BATCH). */
export const MAX_UI_BATCH = Math.min(8, MAX_BATCH);
export const MAX_GUIDANCE = 30;
export const MAX_SEED = 0xffffffff;

export function providerLabel(provider: ExecutionProvider): string {
  return provider === 'webgpu' ? 'WebGPU' : 'wasm (CPU)';
}

let availability: ReturnType<typeof webGpuAvailability> | undefined;

/** The provider to run on for a choice, and the reason shown with the result; throws when WebGPU is asked for and missing. */
export async function resolveProvider(choice: ProviderChoice): Promise<{ provider: ExecutionProvider; reason: string }> {
  if (choice === 'wasm') return { provider: 'wasm', reason: 'chosen in the settings' };
  availability ??= webGpuAvailability();
  const webgpu = await availability;
  if (choice === 'webgpu') {
    if (!webgpu.available) throw new Error(`WebGPU was chosen as the execution provider but is unavailable here: ${webgpu.reason}. Choose "Auto" or "wasm (CPU)".`);
    return { provider: 'webgpu', reason: 'chosen in the settings' };
  }
  if (webgpu.available) return { provider: 'webgpu', reason: 'WebGPU is available here' };
  return { provider: 'wasm', reason: `WebGPU is unavailable here (${webgpu.reason}), so it ran on the CPU` };
}

export function isAbortError(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'AbortError';
}

let nextJob = 0;

/** One generation in the worker; aborting `signal` cancels it there (the promise then rejects with an AbortError). */
export async function runGeneration(
  model: ModelEntry,
  provider: ExecutionProvider,
  request: GenerateRequest,
  signal: AbortSignal,
  onEvent?: (event: GenerateEvent) => void,
): Promise<WorkerGenerateResult> {
  const jobId = ++nextJob;
  const onAbort = () => void call((w) => w.cancel(jobId)).catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await call((w) => w.generate(jobId, model.ref, provider, request, onEvent ? proxy(onEvent) : undefined));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Keeps every image of a result in the history (a failure to keep it shows in the history panel, not here). */
export function keepInHistory(result: WorkerGenerateResult): void {
  const { settings, model, timings, provider } = result;
  for (const image of result.images) {
    void useHistory.getState().add({
      settings: { prompt: settings.prompt, seed: image.seed, steps: settings.steps, sampler: settings.sampler, guidance: settings.guidance, model: model.name, modelSha256: model.sha256 },
      png: image.png,
      timings,
      provider,
    });
  }
}

/** The controls as typed. */
export interface RequestText {
  prompt: string;
  stepsText: string;
  seedText: string;
  batchText: string;
  guidanceText: string;
  sampler: SamplerName;
}

const wholeNumber = (text: string): number | null => (/^\s*\d+\s*$/.test(text) ? Number(text) : null);

/** The request the controls describe for `model`, or what is wrong with them (naming the control). */
export function readRequest(text: RequestText, model: ModelEntry): { request: GenerateRequest } | { error: string } {
  const { manifest } = model;
  const steps = wholeNumber(text.stepsText);
  if (steps === null || !allowsSteps(manifest, steps)) {
    const choices = stepChoices(manifest);
    return {
      error:
        choices.kind === 'listed'
          ? `Steps: ${model.name} is a few-step model; it runs at ${choices.counts.join(', ')} steps, not "${text.stepsText}".`
          : `Steps must be a whole number from ${choices.min} to ${choices.max}, not "${text.stepsText}".`,
    };
  }
  const seed = wholeNumber(text.seedText);
  if (seed === null || !isSeed(seed)) return { error: `Seed must be a whole number from 0 to ${MAX_SEED}, not "${text.seedText}".` };
  const batch = wholeNumber(text.batchText);
  if (batch === null || batch < 1 || batch > MAX_UI_BATCH) return { error: `Batch size must be a whole number from 1 to ${MAX_UI_BATCH}, not "${text.batchText}".` };
  let guidance = manifest.guidance.default;
  if (usesGuidance(manifest)) {
    guidance = Number(text.guidanceText);
    if (text.guidanceText.trim() === '' || !Number.isFinite(guidance) || guidance < 0 || guidance > MAX_GUIDANCE) {
      return { error: `Guidance must be a number from 0 to ${MAX_GUIDANCE} (1: none), not "${text.guidanceText}".` };
    }
  }
  return { request: { prompt: text.prompt, seed, steps, batch, guidance, sampler: text.sampler } };
}

/** A random seed in [0, 2^32). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
