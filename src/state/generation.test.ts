import { describe, expect, it } from 'vitest';
import { type RequestText, readRequest } from './generation';
import { useModels } from './models';

const teacher = useModels.getState().bundled.find((m) => m.name === 'shapes-teacher')!;
const text: RequestText = { prompt: 'a red circle', stepsText: '4', seedText: '7', batchText: '2', guidanceText: '3.5', sampler: 'euler' };

describe('readRequest', () => {
  it('reads the controls into a request for the bundled teacher', () => {
    expect(teacher.source).toBe('bundled');
    expect(readRequest(text, teacher)).toEqual({ request: { prompt: 'a red circle', seed: 7, steps: 4, batch: 2, guidance: 3.5, sampler: 'euler' } });
  });

  it('names the control whose value cannot be used', () => {
    expect(readRequest({ ...text, stepsText: '0' }, teacher)).toEqual({ error: 'Steps must be a whole number from 1 to 200, not "0".' });
    expect(readRequest({ ...text, seedText: '-1' }, teacher)).toEqual({ error: 'Seed must be a whole number from 0 to 4294967295, not "-1".' });
    expect(readRequest({ ...text, seedText: '4294967296' }, teacher)).toEqual({ error: 'Seed must be a whole number from 0 to 4294967295, not "4294967296".' });
    expect(readRequest({ ...text, batchText: '9' }, teacher)).toEqual({ error: 'Batch size must be a whole number from 1 to 8, not "9".' });
    expect(readRequest({ ...text, guidanceText: '' }, teacher)).toEqual({ error: 'Guidance must be a number from 0 to 30 (1: none), not "".' });
  });

  it('runs a few-step student only at its listed step counts, without guidance', () => {
    const student = { ...teacher, name: 'student', manifest: { ...teacher.manifest, steps: { default: 4, schedule: 'anchors' as const, sigmas: { '1': [1], '4': [1, 0.9, 0.75, 0.5] } }, guidance: { default: 1 } } };
    expect(readRequest({ ...text, stepsText: '2' }, student)).toEqual({ error: 'Steps: student is a few-step model; it runs at 1, 4 steps, not "2".' });
    expect(readRequest({ ...text, guidanceText: 'ignored' }, student)).toEqual({ request: { prompt: 'a red circle', seed: 7, steps: 4, batch: 2, guidance: 1, sampler: 'euler' } });
  });
});
