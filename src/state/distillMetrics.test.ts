// The Distill tab's metrics ring buffer and its downloads.
import { describe, expect, it } from 'vitest';
import { distillConfig } from '../distill/config';
import type { IterationMetrics } from '../distill/senseflow';
import type { ToyEvaluation } from '../distill/toyEval';
import type { ShapesEvaluation } from '../workers/distillApi';
import { evaluationsCsv, metricsCsv, MetricsRing, runJson } from './distillMetrics';

const metric = (iteration: number, extra: Partial<IterationMetrics> = {}): IterationMetrics => ({ iteration, generatorStep: false, anchorIndex: 1, backwardSimulated: true, guidance: 1, fakeLoss: iteration / 2, fakeGradNorm: 1, ...extra });

describe('MetricsRing', () => {
  it('keeps the newest `capacity` in order, and truncates from an iteration on', () => {
    const ring = new MetricsRing(4);
    ring.push([metric(0), metric(1), metric(2)]);
    expect(ring.toArray().map((m) => m.iteration)).toEqual([0, 1, 2]);
    ring.push([metric(3), metric(4), metric(5)]);
    expect(ring.length).toBe(4);
    expect(ring.toArray().map((m) => m.iteration)).toEqual([2, 3, 4, 5]);
    expect(ring.at(0)?.iteration).toBe(2);
    expect(ring.last()?.iteration).toBe(5);
    expect(ring.at(4)).toBeUndefined();
    ring.truncate(4);
    expect(ring.toArray().map((m) => m.iteration)).toEqual([2, 3]);
    ring.push([metric(4), metric(5), metric(6), metric(7)]);
    expect(ring.toArray().map((m) => m.iteration)).toEqual([4, 5, 6, 7]);
    ring.clear();
    expect(ring.length).toBe(0);
    expect(() => new MetricsRing(0)).toThrow(/capacity/);
  });

  it("names the segment ISG trained at the last generator step: none before one, with ISG off, or at the last (first) anchor with ISG off the last (first) segment", () => {
    const config = distillConfig('senseflow', {}); // anchors 1, 0.9, 0.75, 0.5
    const ring = new MetricsRing(8);
    ring.push([metric(0, { anchorIndex: 2 })]);
    expect(ring.lastIsgSegment(config)).toBeNull(); // no generator step yet
    ring.push([metric(1, { generatorStep: true, anchorIndex: 1 }), metric(2, { anchorIndex: 3 })]);
    expect(ring.lastIsgSegment(config)).toEqual({ anchorIndex: 1, segment: [0.75, 0.9] });
    ring.push([metric(3, { generatorStep: true, anchorIndex: 3 })]);
    expect(ring.lastIsgSegment(config)).toEqual({ anchorIndex: 3, segment: [0, 0.5] });
    expect(ring.lastIsgSegment({ ...config, isgLastSegment: false })).toBeNull();
    expect(ring.lastIsgSegment({ ...config, isgWeight: 0 })).toBeNull();
    ring.push([metric(4, { generatorStep: true, anchorIndex: 0 })]);
    expect(ring.lastIsgSegment({ ...config, isgLastSegment: false })).toEqual({ anchorIndex: 0, segment: [0.9, 1] });
    expect(ring.lastIsgSegment({ ...config, isgFirstSegment: false })).toBeNull();
  });

  it('gives chart columns with null where an iteration has no value (or a non-finite one)', () => {
    const ring = new MetricsRing(8);
    ring.push([metric(0, { generatorStep: true, dmdLoss: 0.5 }), metric(1), metric(2, { generatorStep: true, dmdLoss: NaN })]);
    expect(ring.columns(['fakeLoss', 'dmdLoss'])).toEqual({ iteration: [0, 1, 2], values: { fakeLoss: [0, 0.5, 1], dmdLoss: [0.5, null, null] } });
  });
});

describe('downloads', () => {
  it('writes one CSV row per iteration, booleans as 0/1, missing values empty, a restore as its snapshot iteration', () => {
    const csv = metricsCsv([metric(0, { generatorStep: true, dmdLoss: 0.25, isgLoss: 0.125, generatorGradNorm: 2, dmdNormaliser: 0.75 }), metric(1, { fakeLoss: NaN, discriminatorLoss: 0.5, discriminatorGradNorm: 3, restored: { reason: 'a non-finite loss', toIteration: 0 } })]);
    expect(csv).toBe(
      'iteration,generatorStep,anchorIndex,backwardSimulated,guidance,fakeLoss,fakeGradNorm,dmdLoss,isgLoss,generatorGradNorm,dmdNormaliser,ganLoss,discriminatorLoss,discriminatorGradNorm,restoredToIteration\n' +
        '0,1,1,1,1,0,1,0.25,0.125,2,0.75,,,,\n' +
        '1,0,1,1,1,NaN,1,,,,,,0.5,3,0\n',
    );
  });

  it('writes the evaluations with a column per step count and measure', () => {
    const evaluations: ToyEvaluation[] = [
      { iteration: 0, steps: { '1': { energyDistance: 1.2, modeCoverage: 0, offMode: 0.9 }, '4': { energyDistance: 0.1, modeCoverage: 0.5, offMode: 0.2 } }, fakeTrackingError: 0.21, parameterDistance: 0 },
      { iteration: 50, steps: { '1': { energyDistance: 0.4, modeCoverage: 0.25, offMode: 0.5 } }, fakeTrackingError: 0.1, parameterDistance: 2.5 },
    ];
    expect(evaluationsCsv(evaluations)).toBe(
      'iteration,energyDistance_1step,modeCoverage_1step,offMode_1step,energyDistance_4step,modeCoverage_4step,offMode_4step,fakeTrackingError,parameterDistance\n' +
        '0,1.2,0,0.9,0.1,0.5,0.2,0.21,0\n' +
        '50,0.4,0.25,0.5,,,,0.1,2.5\n',
    );
  });

  it("writes a Shapes run's evaluations with its own measures", () => {
    const evaluations: ShapesEvaluation[] = [
      { iteration: 0, captions: 8, steps: { '1': { promptAccuracy: 0.25, fdTeacher: 40 }, '2': { promptAccuracy: 0.5, fdTeacher: 10 } }, parameterDistance: 0 },
      { iteration: 20, captions: 8, steps: { '1': { promptAccuracy: 0.375, fdTeacher: 20 }, '2': { promptAccuracy: 0.5, fdTeacher: 9 } }, parameterDistance: 1.5 },
    ];
    expect(evaluationsCsv(evaluations)).toBe('iteration,promptAccuracy_1step,fdTeacher_1step,promptAccuracy_2step,fdTeacher_2step,parameterDistance\n0,0.25,40,0.5,10,0\n20,0.375,20,0.5,9,1.5\n');
  });

  it('writes JSON that parses back, with non-finite numbers as strings', () => {
    const text = runJson(null, [metric(0, { fakeLoss: Infinity })], []);
    const parsed = JSON.parse(text);
    expect(parsed).toMatchObject({ format: 'senseflow-distill-metrics', version: 1, run: null, evaluations: [] });
    expect(parsed.metrics[0].fakeLoss).toBe('Infinity');
  });
});
