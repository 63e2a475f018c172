// The Distill tab's form: its defaults are the CLI's toy run, the presets are the ablation arms, every control that
// does not read is named, a saved run's identity comes back into the form, and run keys ignore key order.
import { describe, expect, it } from 'vitest';
import { ARMS, distillConfig } from '../distill/config';
import { runKey, stableJson } from '../workers/distillApi';
import { activePreset, DEFAULT_FORM, type DistillForm, formIdentity, formOf, PRESET_ARMS, readRunSettings, SHAPES_BASE, TOY_BASE, withPreset, withTask } from './distillSettings';

const read = (form: Partial<DistillForm>) => readRunSettings({ ...DEFAULT_FORM, ...form }, 'http://localhost/models/toy2d/ring/');

describe('the Distill form', () => {
  it('reads by default to the toy SenseFlow run of `npm run distill -- toy2d`', () => {
    const result = read({});
    expect(result).toEqual({
      settings: { task: 'ring', seed: 1, config: distillConfig('senseflow', {}, TOY_BASE), teacherUrl: 'http://localhost/models/toy2d/ring/', iterations: 2000, checkpointEvery: 100, figureEvery: 50 },
    });
  });

  it('has a preset per arm (the GAN term included) that sets exactly that arm on the toy, and recognises it', () => {
    expect(activePreset(DEFAULT_FORM)).toBe('senseflow');
    for (const arm of PRESET_ARMS) {
      const form = withPreset({ ...DEFAULT_FORM, batch: '32' }, arm);
      expect(activePreset(form)).toBe(arm);
      expect(form.batch).toBe('32');
      const config = (read(form) as { settings: { config: object } }).settings.config;
      expect(config).toEqual(distillConfig(arm, { batch: 32 }, TOY_BASE));
    }
    expect([...PRESET_ARMS].sort()).toEqual(Object.keys(ARMS).sort());
    expect(activePreset({ ...DEFAULT_FORM, idaLambda: '0.9' })).toBeNull();
    // With IDA off, what it would pull toward does not matter: that is still DMD alone.
    expect(activePreset({ ...DEFAULT_FORM, idaLambda: '1', isgWeight: '0', alignment: 'teacher' })).toBe('dmd');
  });

  it('switches a task to its own defaults, keeping the recipe (the GAN term too)', () => {
    const custom = { ...DEFAULT_FORM, idaLambda: '0.9', isgWeight: '0.7', seed: '8' };
    const shapes = withTask(custom, 'shapes');
    expect(shapes).toMatchObject({ task: 'shapes', lr: '0.0002', batch: '16', guidanceMin: '3', guidanceMax: '5', iterations: '600', idaLambda: '0.9', isgWeight: '0.7', seed: '8' });
    const settings = (readRunSettings(shapes, 'http://localhost/models/shapes-teacher/') as { settings: { task: string; config: object } }).settings;
    expect(settings.task).toBe('shapes');
    expect(settings.config).toEqual(distillConfig(null, { idaLambda: 0.9, isgWeight: 0.7 }, SHAPES_BASE));
    const gan = withPreset(shapes, 'gan');
    expect(activePreset(gan)).toBe('gan');
    expect((readRunSettings(gan, '') as { settings: { config: object } }).settings.config).toEqual(distillConfig('gan', {}, SHAPES_BASE));
    // Back to the toy: its defaults again, the recipe kept (the toy's GAN term reads a copy of its teacher).
    const grid = withTask(gan, 'grid');
    expect(grid).toMatchObject({ task: 'grid', lr: '0.001', batch: '256', guidanceMin: '1', ganWeight: '0.1', iterations: '2000' });
    expect(activePreset(grid)).toBe('gan');
    expect(withTask(gan, 'shapes')).toBe(gan);
    expect((read({ ganWeight: '0.1' }) as { settings: { config: { ganWeight: number } } }).settings.config.ganWeight).toBe(0.1);
  });

  it('names the control that does not read', () => {
    expect(read({ idaLambda: 'x' })).toEqual({ error: 'IDA lambda must be a number from 0 to 1 (1: IDA off), not "x".' });
    expect(read({ ttur: '2.5' })).toEqual({ error: 'TTUR ratio must be a whole number from 1 to 50, not "2.5".' });
    expect(read({ batch: '' })).toEqual({ error: 'Batch size must be a whole number from 1 to 4096, not "".' });
    expect(read({ seed: '-1' })).toEqual({ error: 'Seed must be a whole number from 0 to 4294967295, not "-1".' });
    expect(read({ anchorSteps: '9' })).toEqual({ error: 'Anchors must be a whole number from 1 to 8, not "9".' });
    expect(read({ backwardSimulation: '1.5' })).toEqual({ error: 'Backward simulation must be a number from 0 to 1, not "1.5".' });
    expect(read({ guidanceMin: '4', guidanceMax: '2' })).toEqual({ error: 'Guidance from (4) must not be above Guidance to (2).' });
    expect(read({ figureEvery: '0' })).toEqual({ error: 'Figures every must be a whole number from 1 to 100000, not "0".' });
    expect(read({ emaDecay: '1' })).toEqual({ error: 'Moving average must be a number from 0 to 0.9999 (0: off), not "1".' });
    expect(read({ regressionWeight: '-0.5' })).toEqual({ error: 'Regression weight must be a number from 0 to 10 (0: off), not "-0.5".' });
  });

  it('turns the moving average on with its decay; off (0) leaves the setting out, so earlier runs keep their keys', () => {
    const config = (form: Partial<DistillForm>) => (read(form) as { settings: { config: { emaDecay?: number } } }).settings.config;
    expect(config({ emaDecay: '0.995' }).emaDecay).toBe(0.995);
    expect('emaDecay' in config({})).toBe(false);
    expect('emaDecay' in config({ emaDecay: '0' })).toBe(false);
    expect(runKey(formIdentity({ ...DEFAULT_FORM, emaDecay: '0' })!)).toBe(runKey({ task: 'ring', seed: 1, config: distillConfig('senseflow', {}, TOY_BASE) }));
    expect(runKey(formIdentity({ ...DEFAULT_FORM, emaDecay: '0.99' })!)).not.toBe(runKey(formIdentity(DEFAULT_FORM)!));
    // The preset a form shows does not depend on it (it is not part of an arm).
    expect(activePreset({ ...DEFAULT_FORM, emaDecay: '0.99' })).toBe('senseflow');
  });

  it("turns DMD's regression term on with its weight; off (0) leaves the setting out, so earlier runs keep their keys", () => {
    const config = (form: Partial<DistillForm>) => (read(form) as { settings: { config: { regressionWeight?: number } } }).settings.config;
    expect(config({ regressionWeight: '1' }).regressionWeight).toBe(1);
    expect('regressionWeight' in config({ regressionWeight: '0' })).toBe(false);
    expect(runKey(formIdentity({ ...DEFAULT_FORM, regressionWeight: '0' })!)).toBe(runKey({ task: 'ring', seed: 1, config: distillConfig('senseflow', {}, TOY_BASE) }));
    expect(runKey(formIdentity({ ...DEFAULT_FORM, regressionWeight: '0.5' })!)).not.toBe(runKey(formIdentity(DEFAULT_FORM)!));
    expect(activePreset({ ...DEFAULT_FORM, regressionWeight: '1' })).toBe('senseflow');
  });

  it.each([
    ['last', 'isgLast', 'isgLastSegment'],
    ['first', 'isgFirst', 'isgFirstSegment'],
  ] as const)("keeps ISG off the %s anchor's segment when asked; on (the default) leaves the setting out, so earlier runs keep their keys", (_, field, setting) => {
    const config = (form: Partial<DistillForm>) => (read(form) as { settings: { config: { isgLastSegment?: boolean; isgFirstSegment?: boolean } } }).settings.config;
    expect(config({ [field]: 'off' })[setting]).toBe(false);
    expect(setting in config({})).toBe(false);
    expect(setting in config({ [field]: 'on' })).toBe(false);
    expect(runKey(formIdentity({ ...DEFAULT_FORM, [field]: 'on' })!)).toBe(runKey({ task: 'ring', seed: 1, config: distillConfig('senseflow', {}, TOY_BASE) }));
    expect(runKey(formIdentity({ ...DEFAULT_FORM, [field]: 'off' })!)).not.toBe(runKey(formIdentity(DEFAULT_FORM)!));
    expect(activePreset({ ...DEFAULT_FORM, [field]: 'off' })).toBe('senseflow');
  });

  it('puts a saved run back into the form (its cadence fields kept)', () => {
    const form: DistillForm = { ...DEFAULT_FORM, task: 'grid', idaLambda: '0.98', alignment: 'teacher', isgWeight: '0.75', isgLoss: 'l2', isgLast: 'off', isgFirst: 'off', ttur: '3', guidanceMin: '1', guidanceMax: '2', lr: '0.0005', batch: '64', anchorSteps: '2', shift: '2', backwardSimulation: '0.25', emaDecay: '0.99', regressionWeight: '0.5', seed: '42' };
    const identity = formIdentity(form)!;
    expect(formOf(identity, { ...DEFAULT_FORM, figureEvery: '7' })).toEqual({ ...form, figureEvery: '7' });
    expect(formIdentity({ ...DEFAULT_FORM, lr: 'fast' })).toBeNull();
  });

  it('keys a run by its identity, whatever the order of its keys', () => {
    const identity = formIdentity(DEFAULT_FORM)!;
    const reordered = { config: Object.fromEntries(Object.entries(identity.config).reverse()) as typeof identity.config, seed: identity.seed, task: identity.task };
    expect(runKey(reordered)).toBe(runKey(identity));
    expect(runKey({ ...identity, seed: 2 })).not.toBe(runKey(identity));
    expect(stableJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});
