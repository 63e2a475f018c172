// Deep links into the Generate tab: ?prompt=...&seed=...&steps=...&model=... opens straight to that result
// (optional: guidance, sampler, batch, provider=auto|webgpu|wasm). A link with only `provider` sets the execution
// provider without generating. Values are checked when the request is read (generation.ts readRequest), so a bad
// one is reported like a bad control value; only the provider is checked here.
import { PROVIDER_CHOICES, type ProviderChoice } from './generation';

export interface DeepLink {
  /** Present: generate at start-up. */
  prompt?: string;
  seed?: string;
  steps?: string;
  model?: string;
  guidance?: string;
  sampler?: string;
  batch?: string;
  provider?: ProviderChoice;
  /** What could not be used. */
  problems: string[];
}

export function readDeepLink(search: string): DeepLink | null {
  const params = new URLSearchParams(search);
  const link: DeepLink = { problems: [] };
  for (const key of ['prompt', 'seed', 'steps', 'model', 'guidance', 'sampler', 'batch'] as const) {
    const value = params.get(key);
    if (value !== null) link[key] = value;
  }
  const provider = params.get('provider');
  if (provider !== null) {
    if ((PROVIDER_CHOICES as readonly string[]).includes(provider)) link.provider = provider as ProviderChoice;
    else link.problems.push(`provider "${provider}" is not one of ${PROVIDER_CHOICES.join(', ')}`);
  }
  return Object.keys(link).length > 1 || link.problems.length > 0 ? link : null;
}

/** The query string of a deep link to these settings (what "Link to this result" points at). */
export function deepLinkQuery(settings: { prompt: string; seed: number; steps: number; model: string; guidance?: number; sampler?: string }): string {
  const params = new URLSearchParams({ prompt: settings.prompt, seed: String(settings.seed), steps: String(settings.steps), model: settings.model });
  if (settings.guidance !== undefined) params.set('guidance', String(settings.guidance));
  if (settings.sampler !== undefined) params.set('sampler', settings.sampler);
  return `?${params.toString()}`;
}
