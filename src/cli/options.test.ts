import { describe, expect, it } from 'vitest';
import { parseDistillOptions } from './distill';
import { adapterFlag, checkpointSpacing, integerAtLeast, integerFlag, maxSeconds, numberFlag, parsePretrainOptions } from './options';
import { emaDecayAt, formatDuration, learningRateAt, streamSeed } from './trainLoop';

describe('parsePretrainOptions', () => {
  it('reads the flags, with llvmpipe as the default adapter', () => {
    expect(parsePretrainOptions(['--seed', '1', '--steps', '300', '--out', 'runs/x', '--batch', '16', '--resume'])).toEqual({
      seed: 1,
      steps: 300,
      out: 'runs/x',
      batch: 16,
      adapter: 'llvmpipe',
      resume: true,
      logEvery: 10,
      argv: ['--seed', '1', '--steps', '300', '--out', 'runs/x', '--batch', '16', '--resume'],
    });
  });
  it('refuses a missing, malformed or unknown flag, naming it', () => {
    expect(() => parsePretrainOptions(['--steps', '3', '--out', 'x'])).toThrow('--seed is required');
    expect(() => parsePretrainOptions(['--seed', '1', '--steps', '0', '--out', 'x'])).toThrow('--steps must be an integer >= 1, got "0"');
    expect(() => parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x', '--adapter', 'cuda'])).toThrow('--adapter must be one of swiftshader, llvmpipe, default, got "cuda"');
    expect(() => parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x', '--learning-rate', '3'])).toThrow("Unknown option '--learning-rate'");
    expect(() => parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x', '--lr', '0'])).toThrow('--lr must be a positive number, got "0"');
    expect(() => parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x', '--lr-decay', 'step'])).toThrow('--lr-decay must be constant or cosine, got "step"');
  });
  it('reads a learning rate and its decay', () => {
    const options = parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x', '--lr', '1e-3', '--lr-decay', 'cosine', '--sigma-shift', '3']);
    expect([options.lr, options.lrDecay, options.sigmaShift]).toEqual([1e-3, 'cosine', 3]);
  });
  it('reads the toy mixture to train, refusing another name', () => {
    expect(parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x', '--mixture', 'grid']).mixture).toBe('grid');
    expect(parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x']).mixture).toBeUndefined();
    expect(() => parsePretrainOptions(['--seed', '1', '--steps', '2', '--out', 'x', '--mixture', 'spiral'])).toThrow('--mixture must be ring or grid, got "spiral"');
  });
  it('reads REPA\'s weight and depth (depth 1 unless told; off or absent: none)', () => {
    const args = ['--seed', '1', '--steps', '2', '--out', 'x'];
    expect(parsePretrainOptions([...args, '--repa', '0.5']).repa).toEqual({ weight: 0.5, depth: 1 });
    expect(parsePretrainOptions([...args, '--repa', '1', '--repa-depth', '2']).repa).toEqual({ weight: 1, depth: 2 });
    expect(parsePretrainOptions([...args, '--repa', 'off']).repa).toBeUndefined();
    expect(parsePretrainOptions(args).repa).toBeUndefined();
    expect(() => parsePretrainOptions([...args, '--repa', '0'])).toThrow('--repa must be a positive number, got "0"');
    expect(() => parsePretrainOptions([...args, '--repa-depth', '2'])).toThrow('--repa-depth needs --repa W');
  });
  it('reads a time budget in minutes, refusing a non-positive one', () => {
    const options = parsePretrainOptions(['--seed', '1', '--steps', '9', '--out', 'x', '--max-minutes', '6.5']);
    expect(maxSeconds(options)).toBe(390);
    expect(maxSeconds(parsePretrainOptions(['--seed', '1', '--steps', '9', '--out', 'x']))).toBeUndefined();
    expect(() => parsePretrainOptions(['--seed', '1', '--steps', '9', '--out', 'x', '--max-minutes', '0'])).toThrow('--max-minutes must be a positive number, got "0"');
  });
  it('spaces checkpoints about 20 per run, at least 50 steps apart, unless told', () => {
    const base = parsePretrainOptions(['--seed', '1', '--steps', '4000', '--out', 'x']);
    expect(checkpointSpacing(base)).toBe(200);
    expect(checkpointSpacing({ ...base, steps: 300 })).toBe(50);
    expect(checkpointSpacing({ ...base, checkpointEvery: 7 })).toBe(7);
  });
});

describe('training schedule', () => {
  const schedule = { lr: 3e-4, warmupSteps: 100, emaDecay: 0.999 };
  it('warms the learning rate up linearly over the first 100 steps', () => {
    expect(learningRateAt(0, schedule, 1000)).toBeCloseTo(3e-6, 12);
    expect(learningRateAt(49, schedule, 1000)).toBeCloseTo(1.5e-4, 12);
    expect(learningRateAt(99, schedule, 1000)).toBe(3e-4);
    expect(learningRateAt(5000, schedule, 1000)).toBe(3e-4);
  });
  it('decays it along a half cosine to 0 at the last step when asked', () => {
    const cosine = { ...schedule, decay: 'cosine' as const };
    expect(learningRateAt(99, cosine, 1100)).toBeCloseTo(3e-4, 12);
    expect(learningRateAt(100, cosine, 1100)).toBe(3e-4);
    expect(learningRateAt(600, cosine, 1100)).toBeCloseTo(1.5e-4, 12);
    expect(learningRateAt(1100, cosine, 1100)).toBeCloseTo(0, 12);
  });
  it('warms the EMA decay up as (1 + t) / (10 + t), capped at 0.999', () => {
    expect(emaDecayAt(0, schedule)).toBe(0.1);
    expect(emaDecayAt(90, schedule)).toBe(0.91);
    expect(emaDecayAt(100_000, schedule)).toBe(0.999);
  });
  it('draws one seed per (seed, step, stream), all different', () => {
    expect(streamSeed(1, 5, 0)).toBe(streamSeed(1, 5, 0));
    const seeds = new Set([0, 1, 2].flatMap((seed) => [0, 1, 2, 3].flatMap((step) => [0, 1].map((stream) => streamSeed(seed, step, stream)))));
    expect(seeds.size).toBe(24);
  });
  it('formats durations for the ETA', () => {
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7300)).toBe('2h01m');
    expect(formatDuration(Infinity)).toBe('?');
  });
});

describe('the flag checks every command uses', () => {
  it('takes an absent flag as undefined and refuses an empty, non-numeric or infinite value, naming the flag', () => {
    const positive = (v: string | undefined) => numberFlag(v, 'w', (n) => n > 0, 'a positive number');
    expect(positive(undefined)).toBeUndefined();
    expect(positive('2.5')).toBe(2.5);
    for (const bad of ['', ' ', 'abc', 'Infinity', '-1']) expect(() => positive(bad)).toThrow(`--w must be a positive number, got "${bad}"`);
    expect(integerAtLeast('0', 'seed', 0)).toBe(0);
    expect(() => integerAtLeast('', 'seed', 0)).toThrow('--seed must be an integer >= 0, got ""'); // was read as seed 0
    expect(() => integerAtLeast('1.5', 'steps', 1)).toThrow('--steps must be an integer >= 1, got "1.5"');
    expect(() => integerFlag('65', 'batch', 1, 64)).toThrow('--batch must be an integer from 1 to 64, got "65"');
    expect(adapterFlag('swiftshader')).toBe('swiftshader');
    expect(() => adapterFlag('cuda')).toThrow('--adapter must be one of swiftshader, llvmpipe, default, got "cuda"');
  });
  it('refuses malformed distill flags, naming each', () => {
    const refused = (flags: string[], message: string) => expect(() => parseDistillOptions(['toy2d', '--out', 'runs/x', ...flags])).toThrow(message);
    refused(['--ida', '1.5'], '--ida must be a lambda in [0, 1] or "off", got "1.5"');
    refused(['--isg=-1'], '--isg must be a weight >= 0 or "off", got "-1"');
    refused(['--ttur', '0'], '--ttur must be an integer >= 1, got "0"');
    refused(['--seed=-1'], '--seed must be an integer >= 0, got "-1"');
    refused(['--lr', '0'], '--lr must be a positive number, got "0"');
    refused(['--guidance', '5:3'], '--guidance must be W or MIN:MAX with MIN <= MAX, got "5:3"');
    refused(['--backward-simulation', '2'], '--backward-simulation must be a probability in [0, 1], got "2"');
    refused(['--adapter', 'cuda'], '--adapter must be one of swiftshader, llvmpipe, default, got "cuda"');
    refused(['--dmd-shift', '0'], '--dmd-shift must be a positive number, got "0"');
    refused(['--isg-last', 'no'], '--isg-last must be on or off, got "no"');
    refused(['--isg-first', '1'], '--isg-first must be on or off, got "1"');
    expect(parseDistillOptions(['toy2d', '--out', 'runs/x']).config.dmdShift).toBe(3);
    // ISG's last segment: on is the default and leaves the settings (and a run's resume key) as they were.
    expect(parseDistillOptions(['toy2d', '--out', 'runs/x', '--isg-last', 'on']).config).not.toHaveProperty('isgLastSegment');
    expect(parseDistillOptions(['toy2d', '--out', 'runs/x', '--isg-last', 'off']).config.isgLastSegment).toBe(false);
    expect(parseDistillOptions(['toy2d', '--out', 'runs/x', '--isg-first', 'on']).config).not.toHaveProperty('isgFirstSegment');
    expect(parseDistillOptions(['toy2d', '--out', 'runs/x', '--isg-first', 'off']).config.isgFirstSegment).toBe(false);
    expect(parseDistillOptions(['toy2d', '--out', 'runs/x', '--ida', 'off', '--ttur', '3', '--seed', '0', '--guidance', '2:4', '--dmd-shift', '1'])).toMatchObject({
      seed: 0,
      adapter: 'llvmpipe',
      config: { idaLambda: 1, fakeStepsPerGeneratorStep: 3, guidance: [2, 4], dmdShift: 1 },
    });
  });
});
