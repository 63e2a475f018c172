import { describe, expect, it } from 'vitest';
import { deepLinkQuery, readDeepLink } from './deepLink';

describe('deep links', () => {
  it('reads the settings of a link, and nothing from a plain URL', () => {
    expect(readDeepLink('')).toBeNull();
    expect(readDeepLink('?utm=x')).toBeNull();
    expect(readDeepLink('?prompt=a+red+circle&seed=3&steps=2&model=shapes-teacher&provider=wasm')).toEqual({
      prompt: 'a red circle',
      seed: '3',
      steps: '2',
      model: 'shapes-teacher',
      provider: 'wasm',
      problems: [],
    });
    expect(readDeepLink('?provider=gpu')).toEqual({ problems: ['provider "gpu" is not one of auto, webgpu, wasm'] });
  });

  it('writes a link that reads back to the same settings', () => {
    const query = deepLinkQuery({ prompt: 'a “quoted” cross & more', seed: 7, steps: 4, model: 'shapes-teacher', guidance: 4, sampler: 'euler' });
    expect(readDeepLink(query)).toEqual({ prompt: 'a “quoted” cross & more', seed: '7', steps: '4', model: 'shapes-teacher', guidance: '4', sampler: 'euler', problems: [] });
  });
});
