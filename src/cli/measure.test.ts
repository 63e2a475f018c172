import { describe, expect, it } from 'vitest';
import { measureCommand, parseMeasureOptions } from './measure';

describe('parseMeasureOptions', () => {
  it("defaults to issue 4's protocol: 1,000 captions, 50 Euler steps, guidance 4, metrics.json in the run", () => {
    expect(parseMeasureOptions(['--run', 'runs/t'])).toEqual({
      run: 'runs/t',
      evaluator: 'models/evaluator',
      count: 1000,
      steps: 50,
      shift: 1,
      guidance: [4],
      batch: 250,
      adapter: 'llvmpipe',
      out: 'runs/t/metrics.json',
    });
  });
  it('reads a guidance sweep and refuses bad values, naming the flag', () => {
    expect(parseMeasureOptions(['--run', 'r', '--guidance', '4,2.5,6']).guidance).toEqual([4, 2.5, 6]);
    expect(() => parseMeasureOptions(['--run', 'r', '--guidance', '4,x'])).toThrow('--guidance must be positive numbers separated by commas, got "x"');
    expect(() => parseMeasureOptions(['--run', 'r', '--guidance', '4,,2'])).toThrow('--guidance must be positive numbers separated by commas, got ""');
    expect(() => parseMeasureOptions(['--run', 'r', '--guidance', '0'])).toThrow('got "0"');
    expect(() => parseMeasureOptions(['--count', '5'])).toThrow('--run is required');
    expect(() => parseMeasureOptions(['--run', 'r', '--steps', '0'])).toThrow('--steps must be an integer >= 1, got "0"');
    expect(parseMeasureOptions(['--run', 'r', '--shift', '3']).shift).toBe(3);
    expect(() => parseMeasureOptions(['--run', 'r', '--shift', '0'])).toThrow('--shift must be a positive number, got "0"');
    expect(() => parseMeasureOptions(['--run', 'r', '--adapter', 'cuda'])).toThrow('--adapter must be one of');
  });
  it('measures a running run\'s latest checkpoint (EMA, or current weights with --raw) into its own file', () => {
    expect(parseMeasureOptions(['--run', 'r', '--checkpoint'])).toMatchObject({ checkpoint: 'ema', out: 'r/metrics-checkpoint.json' });
    expect(parseMeasureOptions(['--run', 'r', '--checkpoint', '--raw'])).toMatchObject({ checkpoint: 'raw', out: 'r/metrics-checkpoint-raw.json' });
    expect(() => parseMeasureOptions(['--run', 'r', '--raw'])).toThrow('--raw reads the checkpoint\'s current weights: give it with --checkpoint');
  });

  it('names every flag that changes the numbers in the command it records (the batch sets the noise seeds)', () => {
    expect(measureCommand(parseMeasureOptions(['--run', 'r']))).toBe('npm run measure -- --run r --count 1000 --steps 50 --guidance 4 --batch 250');
    expect(measureCommand(parseMeasureOptions(['--run', 'r', '--batch', '500', '--shift', '3', '--guidance', '2,4', '--adapter', 'default', '--checkpoint', '--raw']))).toBe(
      'npm run measure -- --run r --count 1000 --steps 50 --shift 3 --guidance 2,4 --batch 500 --adapter default --checkpoint --raw',
    );
  });
});
