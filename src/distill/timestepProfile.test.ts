// The teacher's reconstruction error over the noise level, on the bundled ring teacher: near zero at small s, near
// the data's spread at s -> 1 (the teacher's best guess of a pure-noise input is the conditional mean), increasing in
// between, and equal to a CPU computation of the same definition at one sigma.
import { beforeAll, describe, expect, it } from 'vitest';
import { noiseTo, x0FromVelocity } from '../flow/tensors';
import type { Engine } from '../nn/engine';
import { randn } from '../nn/ops/random';
import { testEngine } from '../nn/testing';
import { fromArray, noGrad, tidy } from '../nn/tensor';
import { directorySource } from '../pipeline/bundleWrite';
import { loadToyTeacherBundle } from '../workers/distillTeacher';
import { PROFILE, reconstructionProfile } from './timestepProfile';
import { toyTask } from './toyTask';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

describe('reconstructionProfile', () => {
  it('rises from about 0 at small noise to about the conditional spread at pure noise, on the ring teacher', async () => {
    const toy = await loadToyTeacherBundle(engine, directorySource('models/toy2d/ring'));
    const task = toyTask(toy.teacher, toy.mixture);
    const profile = await reconstructionProfile(task, 1, 512);
    expect(profile.sigmas).toEqual(PROFILE.sigmas);
    expect(profile.error).toHaveLength(PROFILE.sigmas.length);
    expect(profile.error[0]).toBeLessThan(0.01);
    expect(profile.error.at(-1)).toBeGreaterThan(0.2);
    expect(profile.error.at(-1)).toBeLessThan(1.2);
    // Increasing, allowing for the noise of 512 samples.
    for (let i = 4; i < profile.error.length; i += 4) expect(profile.error[i]!).toBeGreaterThan(profile.error[i - 4]! - 0.02);

    // The same number at s = 0.6 from the tensors read back and summed on the host.
    const s = 0.6;
    const [again] = (await reconstructionProfile(task, 1, 512, [s])).error;
    const [estimate, clean] = noGrad(engine, () =>
      tidy(engine, () => {
        const { condition, x0 } = task.batch(PROFILE.seed, 512);
        const xs = noiseTo(x0, randn(engine, x0.shape, PROFILE.seed + 1, 0), s);
        const sigma = fromArray(engine, [512], new Float32Array(512).fill(s), 'f32', 'sigma');
        return [x0FromVelocity(xs, task.guidedVelocity(xs, sigma, condition, 1), s), x0];
      }),
    );
    const e = await estimate!.read();
    const x = await clean!.read();
    const mean = [0, 1].map((d) => x.filter((_, i) => i % 2 === d).reduce((a, b) => a + b, 0) / 512);
    const spread = x.reduce((sum, v, i) => sum + (v - mean[i % 2]!) ** 2, 0) / 512;
    const error = e.reduce((sum, v, i) => sum + (v - x[i]!) ** 2, 0) / 512 / spread;
    expect(again).toBeCloseTo(error, 4);
    toy.teacher.dispose();
  });
});
