// The models the Generate tab offers (virtual:bundled-models, vite.config.ts): their order, and which kinds it runs.
import { describe, expect, it } from 'vitest';
import { canGenerate, useModels } from './models';

describe('the bundled models', () => {
  const bundled = useModels.getState().bundled;

  it('lists the images first (the teacher opens the tab), then the 2D toy teachers', () => {
    expect(bundled.map((m) => m.name)).toEqual(['shapes-teacher', 'shapes-senseflow', 'toy2d-grid', 'toy2d-ring']);
    expect(bundled.find((m) => m.name === 'toy2d-ring')!.ref).toEqual({ source: 'bundled', name: 'toy2d-ring', url: '/models/toy2d/ring/' });
  });

  it('offers text-to-image models and label-conditioned models of 2D points', () => {
    for (const model of bundled) expect(canGenerate(model.manifest), model.name).toBe(true);
    const ring = bundled.find((m) => m.name === 'toy2d-ring')!.manifest;
    expect(canGenerate({ ...ring, space: { type: 'points', dims: 3 } })).toBe(false);
    expect(canGenerate({ ...ring, conditioning: 'text' })).toBe(false);
    expect(canGenerate({ ...ring, space: { type: 'pixel', channels: 3 } })).toBe(false);
  });
});
