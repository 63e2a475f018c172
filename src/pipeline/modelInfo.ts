// What the Generate tab's controls need to know about a model, read from its manifest: which step counts it runs
// at, which sampler and guidance it expects, and whether it is a few-step student or a teacher.
import { SAMPLER_NAMES, type SamplerName } from './generatePlan';
import type { Manifest } from './manifest';

/** Most steps the app offers a teacher ('euler-grid': any count works; beyond this the UI only gets slower). */
export const MAX_TEACHER_STEPS = 200;

export type StepChoices = { kind: 'listed'; counts: number[] } | { kind: 'range'; min: number; max: number };

/** A few-step student runs only at the step counts its manifest lists (its anchors); a teacher at any count. */
export function isFewStep(manifest: Pick<Manifest, 'steps'>): boolean {
  return manifest.steps.schedule === 'anchors';
}

export function stepChoices(manifest: Pick<Manifest, 'steps'>): StepChoices {
  if (isFewStep(manifest)) return { kind: 'listed', counts: Object.keys(manifest.steps.sigmas).map(Number).sort((a, b) => a - b) };
  return { kind: 'range', min: 1, max: Math.max(MAX_TEACHER_STEPS, manifest.steps.default) };
}

export function allowsSteps(manifest: Pick<Manifest, 'steps'>, steps: number): boolean {
  const choices = stepChoices(manifest);
  return choices.kind === 'listed' ? choices.counts.includes(steps) : Number.isInteger(steps) && steps >= choices.min && steps <= choices.max;
}

/** x0-renoise at the anchors for a student, Euler for a teacher (the pipeline's own default). */
export function defaultSampler(manifest: Pick<Manifest, 'steps'>): SamplerName {
  return isFewStep(manifest) ? 'x0' : 'euler';
}

export function isSamplerName(name: string): name is SamplerName {
  return (SAMPLER_NAMES as readonly string[]).includes(name);
}

/**
 * Whether classifier-free guidance is a setting of this model. A distilled student is trained to run without it
 * (guidance default 1: one denoiser row per image), so the control is hidden there.
 */
export function usesGuidance(manifest: Pick<Manifest, 'guidance'>): boolean {
  return manifest.guidance.default !== 1;
}

/** "teacher, 50 steps" / "few-step, 1-4 steps": the short description a model picker shows. */
export function modelSummary(manifest: Pick<Manifest, 'steps'>): string {
  const choices = stepChoices(manifest);
  if (choices.kind === 'listed') return `few-step, ${choices.counts.join('/')} step${choices.counts.length === 1 && choices.counts[0] === 1 ? '' : 's'}`;
  return `teacher, ${manifest.steps.default} steps`;
}
