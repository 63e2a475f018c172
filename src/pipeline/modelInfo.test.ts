import { describe, expect, it } from 'vitest';
import { allowsSteps, defaultSampler, isFewStep, modelSummary, stepChoices, usesGuidance } from './modelInfo';

const teacher = { steps: { default: 50, schedule: 'euler-grid' as const, sigmas: { '50': [] } }, guidance: { default: 4 } };
const student = { steps: { default: 4, schedule: 'anchors' as const, sigmas: { '4': [], '1': [], '2': [] } }, guidance: { default: 1 } };

describe('modelInfo', () => {
  it('offers a teacher any step count up to 200 and a student only its listed counts', () => {
    expect(stepChoices(teacher)).toEqual({ kind: 'range', min: 1, max: 200 });
    expect(stepChoices(student)).toEqual({ kind: 'listed', counts: [1, 2, 4] });
    expect([allowsSteps(teacher, 1), allowsSteps(teacher, 200), allowsSteps(teacher, 201), allowsSteps(teacher, 2.5)]).toEqual([true, true, false, false]);
    expect([allowsSteps(student, 2), allowsSteps(student, 3)]).toEqual([true, false]);
  });

  it('picks the sampler and the guidance control by the kind of model', () => {
    expect([isFewStep(teacher), isFewStep(student)]).toEqual([false, true]);
    expect([defaultSampler(teacher), defaultSampler(student)]).toEqual(['euler', 'x0']);
    expect([usesGuidance(teacher), usesGuidance(student)]).toEqual([true, false]);
    expect([modelSummary(teacher), modelSummary(student)]).toEqual(['teacher, 50 steps', 'few-step, 1/2/4 steps']);
  });
});
