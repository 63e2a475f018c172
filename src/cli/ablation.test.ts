// `npm run ablation`: options refused by name, the plan (stress sweep, shared folders), the scheduling of finished /
// unfinished runs, the aggregation on synthetic metrics.jsonl files (mean, sd, min, max, finals, restores), the
// report (SVG with every setting's name, the section replaced in place), and one tiny real ablation through Dawn.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adapterKindFromEnv } from '../gpu/node';
import { runAblationCommand, schedule, shareTeacherReference } from './ablation';
import { figureSpec, renderFigure } from './ablationFigures';
import { ablationSettings, distillArgv, distillOptionsOf, parseAblationOptions, plannedRuns } from './ablationPlan';
import { replaceSection, writeAblationReport } from './ablationReport';
import { aggregateAblation, flattenEvaluation, stats, STATUS_FILE } from './ablationResults';
import { UsageError } from './options';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'senseflow-ablation-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A toy eval line whose metrics are all functions of one number v. */
const toyEval = (iteration: number, v: number) => ({
  kind: 'eval',
  iteration,
  steps: { '1': { energyDistance: v, modeCoverage: v / 10, offMode: 0.5 }, '4': { energyDistance: v / 2, modeCoverage: 1, offMode: 0 } },
  fakeTrackingError: 2 * v,
  parameterDistance: iteration / 100,
});

/** Writes a run folder: its eval lines (v per iteration), a few train lines, restores, and config.json. */
function writeRun(dir: string, values: Record<number, number>, options: { iterations: number; restores?: number }) {
  mkdirSync(dir, { recursive: true });
  const lines: object[] = [];
  for (const [iteration, v] of Object.entries(values)) {
    lines.push(toyEval(Number(iteration), v));
    lines.push({ kind: 'train', iteration: Number(iteration), generatorStep: true, fakeLoss: 1, fakeGradNorm: 1 });
  }
  for (let i = 0; i < (options.restores ?? 0); i++) lines.push({ kind: 'restore', iteration: 5, reason: 'x', toIteration: 0 });
  writeFileSync(join(dir, 'metrics.jsonl'), lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ iterations: options.iterations, wallSeconds: 10, adapter: 'test adapter', command: 'npm run distill -- toy2d' }));
}

describe('ablation options', () => {
  it('fills in the defaults', () => {
    const o = parseAblationOptions(['toy2d']);
    expect(o).toMatchObject({ task: 'toy2d', seeds: [1, 2, 3], steps: 1500, evalEvery: 100, stress: false, out: 'runs/ablation', docs: 'docs', adapter: 'llvmpipe', resume: false, reportOnly: false });
    expect(o.arms).toEqual(['dmd', 'ida', 'isg', 'senseflow', 'gan', 'pull-to-teacher']);
    expect(parseAblationOptions(['shapes', '--seeds', '2', '--arms', 'dmd,senseflow'])).toMatchObject({ seeds: [1, 2], arms: ['dmd', 'senseflow'], steps: 100 });
  });

  it.each([
    [[], /give one task/],
    [['toy3d'], /give one task/],
    [['toy2d', '--arms', 'dmd,lora'], /"lora" is not an arm/],
    [['toy2d', '--arms', 'dmd,dmd'], /distinct arms/],
    [['toy2d', '--seeds', '0'], /--seeds must be an integer from 1/],
    [['toy2d', '--steps', 'many'], /--steps must be an integer/],
    [['shapes', '--stress'], /--stress is a toy2d regime/],
    [['toy2d', '--adapter', 'cuda'], /--adapter must be one of/],
    [['toy2d', '--resume', '--report-only'], /drop --resume/],
    [['shapes', '--batch', '0'], /--batch must be an integer from 1/],
    [['shapes', '--lr', '0'], /--lr must be a positive number/],
    [['toy2d', '--bogus'], /bogus/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseAblationOptions(argv)).toThrow(UsageError);
    expect(() => parseAblationOptions(argv)).toThrow(message);
  });
});

describe('ablation plan', () => {
  it('adds the stress arms and the TTUR x lambda sweep, sharing the runs of identical settings', () => {
    const settings = ablationSettings('toy2d', ['dmd', 'senseflow'], true);
    expect(settings.map((s) => s.name)).toEqual([
      'dmd', 'senseflow', 'stress/dmd', 'stress/isg', 'stress/senseflow', 'stress/pull-to-teacher',
      'stress/ttur1-ida-off', 'stress/ttur1-ida0.9', 'stress/ttur1-ida0.97', 'stress/ttur5-ida-off', 'stress/ttur5-ida0.9', 'stress/ttur5-ida0.97',
    ]);
    // TTUR 5 without IDA and ISG is the stress regime's DMD arm: the same runs.
    expect(settings.find((s) => s.name === 'stress/ttur5-ida-off')!.folder).toBe('stress/dmd');
    expect(settings.filter((s) => s.folder !== s.name)).toHaveLength(1);
    const options = parseAblationOptions(['toy2d', '--arms', 'dmd,senseflow', '--stress', '--seeds', '2', '--out', '/r']);
    const runs = plannedRuns(options, settings);
    expect(runs).toHaveLength(11 * 2);
    const sweep = runs.find((r) => r.setting.name === 'stress/ttur1-ida0.9' && r.seed === 2)!;
    expect(sweep.dir).toBe('/r/toy2d/stress/ttur1-ida0.9/seed2');
    expect(distillArgv(options, sweep, false).join(' ')).toBe(
      'toy2d --arm ida --teacher models/toy2d/grid --guidance 3 --ttur 1 --ida 0.9 --isg off --steps 1500 --seed 2 --eval-every 100 --adapter llvmpipe --out /r/toy2d/stress/ttur1-ida0.9/seed2',
    );
  });

  it('passes --batch and --lr on to every run, where they become part of the run config', () => {
    const options = parseAblationOptions(['shapes', '--arms', 'dmd,isg', '--seeds', '1', '--batch', '8', '--lr', '2e-4', '--out', '/r']);
    const runs = plannedRuns(options, ablationSettings('shapes', options.arms, false));
    expect(runs.map((r) => distillArgv(options, r, false).join(' '))).toEqual([
      'shapes --arm dmd --batch 8 --lr 2e-4 --steps 100 --seed 1 --eval-every 50 --adapter llvmpipe --out /r/shapes/dmd/seed1',
      'shapes --arm isg --batch 8 --lr 2e-4 --steps 100 --seed 1 --eval-every 50 --adapter llvmpipe --out /r/shapes/isg/seed1',
    ]);
    expect(distillOptionsOf(options, runs[0]!, false).config).toMatchObject({ batch: 8, lr: 2e-4 });
  });

  it('refuses occupied folders without --resume; with it, skips finished runs and resumes the others', () => {
    const root = tempDir();
    const options = parseAblationOptions(['toy2d', '--arms', 'dmd,ida', '--seeds', '2', '--steps', '30', '--out', root]);
    const runs = plannedRuns(options, ablationSettings('toy2d', options.arms, false));
    writeRun(join(root, 'toy2d', 'dmd', 'seed1'), { 0: 1, 30: 0.5 }, { iterations: 30 });
    writeRun(join(root, 'toy2d', 'dmd', 'seed2'), { 0: 1 }, { iterations: 10 });
    expect(() => schedule(options, runs)).toThrow(/2 run folder\(s\) already hold a run/);
    const work = schedule({ ...options, resume: true }, runs);
    expect(work.map((w) => [w.run.dir.slice(root.length), w.resume])).toEqual([
      ['/toy2d/dmd/seed2', true],
      ['/toy2d/ida/seed1', false],
      ['/toy2d/ida/seed2', false],
    ]);
    expect(() => schedule({ ...options, steps: 20, resume: true }, runs)).toThrow(/longer than --steps 20/);
  });

  it('gives a Shapes run the teacher reference an earlier run cached, making its folder first', () => {
    const root = tempDir();
    const first = join(root, 'dmd', 'seed1');
    mkdirSync(first, { recursive: true });
    writeFileSync(join(first, 'teacher-reference.json'), '{"key":1}');
    const next = join(root, 'ida', 'seed1');
    shareTeacherReference({ task: 'shapes' }, { dir: next }, [{ dir: join(root, 'none') }, { dir: first }]);
    expect(readFileSync(join(next, 'teacher-reference.json'), 'utf8')).toBe('{"key":1}');
    const toy = join(root, 'toy', 'seed1');
    shareTeacherReference({ task: 'toy2d' }, { dir: toy }, [{ dir: first }]);
    expect(existsSync(toy)).toBe(false);
  });
});

describe('ablation aggregation', () => {
  it('flattens toy and Shapes eval lines', () => {
    expect(flattenEvaluation(toyEval(10, 1))).toEqual({
      'energyDistance@1': 1, 'modeCoverage@1': 0.1, 'offMode@1': 0.5, 'energyDistance@4': 0.5, 'modeCoverage@4': 1, 'offMode@4': 0, fakeTrackingError: 2, parameterDistance: 0.1,
    });
    expect(flattenEvaluation({ kind: 'eval', iteration: 5, steps: { '1': { promptAccuracy: 0.5, fdTeacher: 3, fdReal: 4 } }, parameterDistance: 1, evalCaptions: 100 })).toEqual({
      'promptAccuracy@1': 0.5, 'fdTeacher@1': 3, 'fdReal@1': 4, parameterDistance: 1,
    });
  });

  it('computes mean, sample sd, min and max', () => {
    expect(stats([1, 2, 3, 6])).toEqual({ n: 4, mean: 3, sd: Math.sqrt(14 / 3), min: 1, max: 6 });
    expect(stats([2, NaN])).toEqual({ n: 1, mean: 2, sd: 0, min: 2, max: 2 });
    expect(stats([]).n).toBe(0);
  });

  it('aggregates curves and finals over seeds, per setting', () => {
    const root = tempDir();
    const settings = ablationSettings('toy2d', ['dmd', 'ida', 'gan', 'isg'], false);
    expect(settings.every((s) => !s.notApplicable)).toBe(true); // every arm runs on the toy (its GAN term reads a copy of the teacher)
    // A setting distill refuses (as it would refuse an arm a task cannot run) keeps its reason and gets no runs.
    settings[2] = { ...settings[2]!, notApplicable: 'distill refused it (a test)' };
    writeRun(join(root, 'toy2d', 'dmd', 'seed1'), { 0: 4, 10: 2, 20: 1 }, { iterations: 20 });
    writeRun(join(root, 'toy2d', 'dmd', 'seed2'), { 0: 4, 10: 4, 20: 3 }, { iterations: 20, restores: 2 });
    writeRun(join(root, 'toy2d', 'dmd', 'seed3'), { 0: 4, 10: 3 }, { iterations: 10 }); // unfinished: its final is at 10
    writeRun(join(root, 'toy2d', 'ida', 'seed1'), { 0: 4, 20: 0.5 }, { iterations: 20 });
    mkdirSync(join(root, 'toy2d', 'isg', 'seed1'), { recursive: true });
    writeFileSync(join(root, 'toy2d', 'isg', 'seed1', STATUS_FILE), JSON.stringify({ status: 'failed', reason: 'out of memory' }));
    const results = aggregateAblation({ task: 'toy2d', root, settings, seeds: [1, 2, 3], command: 'c', training: 'this', commit: 'abc', invocationSeconds: 1.4 });

    expect(results.steps).toBe(20);
    expect(results.adapter).toEqual(['test adapter']);
    expect(results.wallSeconds).toEqual({ invocation: 1, training: 40 });
    const dmd = results.settings[0]!;
    expect(dmd.curves['energyDistance@1']).toEqual([
      { iteration: 0, n: 3, mean: 4, sd: 0, min: 4, max: 4 },
      { iteration: 10, n: 3, mean: 3, sd: 1, min: 2, max: 4 },
      { iteration: 20, n: 2, mean: 2, sd: Math.SQRT2, min: 1, max: 3 },
    ]);
    expect(dmd.final['energyDistance@1']).toMatchObject({ n: 3, min: 1, max: 3, values: [1, 3, 3] });
    expect(dmd.final['energyDistance@1']!.mean).toBeCloseTo(7 / 3, 12);
    expect(dmd.final['energyDistance@1']!.sd).toBeCloseTo(Math.sqrt(4 / 3), 12);
    expect(dmd.final['fakeTrackingError']!.values).toEqual([2, 6, 6]);
    expect(dmd.runs.map((r) => [r.status, r.restores, r.final?.iteration])).toEqual([['finished', 0, 20], ['finished', 2, 20], ['unfinished', 0, 10]]);
    // Late sd: seed 1 over iterations > 10 is one value (0); seed 2 likewise; seed 3 over > 5: one value.
    expect(dmd.lateSd['energyDistance@1']!.mean).toBe(0);
    const ida = results.settings[1]!;
    expect(ida.runs.map((r) => r.status)).toEqual(['finished', 'missing', 'missing']);
    expect(ida.final['energyDistance@1']).toMatchObject({ n: 1, mean: 0.5, sd: 0 });
    const gan = results.settings[2]!;
    expect(gan.notApplicable).toBe('distill refused it (a test)');
    expect(gan.runs.map((r) => r.status)).toEqual(['skipped', 'skipped', 'skipped']);
    expect(gan.final).toEqual({});
    expect(results.settings[3]!.runs.map((r) => [r.status, r.reason])).toEqual([['failed', 'out of memory'], ['missing', undefined], ['missing', undefined]]);
    expect(results.training).toEqual({ command: 'c', seconds: 1, commit: 'abc', invocations: 1 });
  });

  it('adds a resumed invocation\'s time to the training it continues, and says so in the report', async () => {
    const root = tempDir();
    const settings = ablationSettings('toy2d', ['dmd'], false);
    writeRun(join(root, 'toy2d', 'dmd', 'seed1'), { 0: 4, 10: 2 }, { iterations: 10 });
    const base = { task: 'toy2d', root, settings, seeds: [1], command: 'c --resume', training: 'this' as const, commit: 'abc' };
    const first = aggregateAblation({ ...base, invocationSeconds: 600, priorTraining: { command: 'c', seconds: 1200, commit: 'old' } });
    expect(first.training).toEqual({ command: 'c --resume', seconds: 1800, commit: 'abc', invocations: 2 });
    const second = aggregateAblation({ ...base, invocationSeconds: 60, priorTraining: first.training });
    expect(second.training).toMatchObject({ seconds: 1860, invocations: 3 });
    const docs = tempDir();
    const { markdown } = await writeAblationReport(docs, second);
    expect(readFileSync(markdown, 'utf8')).toContain('Wall time: 3 training invocations (--resume) 31m00s together;');
  });
});

describe('ablation report', () => {
  it('renders an SVG figure that names every setting', async () => {
    const root = tempDir();
    const settings = ablationSettings('toy2d', ['dmd', 'pull-to-teacher'], false);
    writeRun(join(root, 'toy2d', 'dmd', 'seed1'), { 0: 1, 10: 0.5 }, { iterations: 10 });
    writeRun(join(root, 'toy2d', 'pull-to-teacher', 'seed1'), { 0: 1, 10: 0.7 }, { iterations: 10 });
    const results = aggregateAblation({ task: 'toy2d', root, settings, seeds: [1], command: 'c', training: 'this', commit: 'abc', invocationSeconds: 1 });
    const lines = results.settings.map((s) => ({ name: s.name, setting: s }));
    const svg = await renderFigure(figureSpec({ key: 'energyDistance@1', slug: 'ed', title: 'Energy distance, 1 step', axis: 'energy distance', log: true }, lines, 'test'));
    expect(svg.startsWith('<svg')).toBe(true);
    for (const name of ['dmd', 'pull-to-teacher', 'Energy distance, 1 step', 'iteration']) expect(svg).toContain(name);
  });

  it('replaces only its own section and keeps the hand-written text', () => {
    const first = replaceSection('', 'toy2d', 'Toy 2D', 'BODY 1');
    expect(first).toContain('# Ablation');
    expect(first).toContain('### Interpretation (Toy 2D)');
    const edited = `${first.replace('_To be written', 'The lead wrote this. _To be written')}\nA closing note.\n`;
    const both = replaceSection(edited, 'shapes', 'Shapes-32', 'SHAPES BODY');
    const again = replaceSection(both, 'toy2d', 'Toy 2D', 'BODY 2');
    expect(again).toContain('BODY 2');
    expect(again).not.toContain('BODY 1');
    expect(again).toContain('The lead wrote this.');
    expect(again).toContain('A closing note.');
    expect(again).toContain('SHAPES BODY');
    expect(again.match(/## Toy 2D/g)).toHaveLength(1);
    expect(replaceSection(again, 'toy2d', 'Toy 2D', 'BODY 2')).toBe(again);
  });

  it('writes the JSON, the figures and a table with factual sentences', async () => {
    const root = tempDir();
    const docs = join(root, 'docs');
    const settings = ablationSettings('toy2d', ['dmd', 'senseflow'], false);
    for (const seed of [1, 2]) {
      writeRun(join(root, 'toy2d', 'dmd', `seed${seed}`), { 0: 1, 10: 0.4 + seed / 10 }, { iterations: 10 });
      writeRun(join(root, 'toy2d', 'senseflow', `seed${seed}`), { 0: 1, 10: 0.1 * seed }, { iterations: 10 });
    }
    settings.push({ ...ablationSettings('toy2d', ['isg'], false)[0]!, notApplicable: 'distill refused it (a test)' });
    const results = aggregateAblation({ task: 'toy2d', root, settings, seeds: [1, 2], command: 'npm run ablation -- toy2d', training: 'this', commit: 'abc', invocationSeconds: 1 });
    await writeAblationReport(docs, results);
    const markdown = readFileSync(join(docs, 'ABLATION.md'), 'utf8');
    expect(markdown).toContain('**isg** was not run on this task: distill refused it (a test).');
    expect(markdown).toContain('| `senseflow` SenseFlow (+IDA +ISG) | 0.1500 ± 0.0707 |');
    expect(markdown).toContain('At 1 step, the lowest final energy distance is **senseflow** (0.1500 ± 0.0707; seeds 0.1000 to 0.2000); the highest is **dmd** (0.5500 ± 0.0707; seeds 0.5000 to 0.6000). The seed ranges of senseflow and the runner-up dmd do not overlap.');
    expect(JSON.parse(readFileSync(join(docs, 'results', 'ablation-toy2d.json'), 'utf8')).settings).toHaveLength(3);
    for (const slug of ['energy-distance-1step', 'energy-distance-4step', 'mode-coverage-1step', 'fake-tracking-error', 'parameter-distance']) {
      const svg = readFileSync(join(docs, 'figures', `ablation-toy2d-${slug}.svg`), 'utf8');
      expect(svg).toContain('senseflow');
      expect(svg).toContain('dmd');
    }
  });
});

describe('ablation end to end', () => {
  it('runs 3 arms x 1 seed of 10 toy iterations (the GAN arm on a copy of the teacher), resumes and re-reports', { timeout: 180_000 }, async () => {
    const root = tempDir();
    // The command's own default adapter (llvmpipe) unless SENSEFLOW_ADAPTER names one: each toy run's fixed cost
    // (the teacher's 100-step reference, three evaluations) takes ~10 s there and ~40 s on SwiftShader.
    const adapter = process.env.SENSEFLOW_ADAPTER ? adapterKindFromEnv() : 'llvmpipe';
    const argv = ['toy2d', '--arms', 'dmd,gan,senseflow', '--seeds', '1', '--steps', '10', '--eval-every', '10', '--out', join(root, 'runs'), '--docs', join(root, 'docs'), '--adapter', adapter];
    const { results, failed } = await runAblationCommand(parseAblationOptions(argv));
    expect(failed).toBe(0);
    const [dmd, gan, senseflow] = results.settings;
    for (const s of [dmd!, gan!, senseflow!]) {
      expect(s.runs[0]).toMatchObject({ status: 'finished', iterations: 10 });
      expect(s.curves['energyDistance@1']!.map((p) => p.iteration)).toEqual([0, 10]);
    }
    expect(readFileSync(join(root, 'runs', 'toy2d', 'gan', 'seed1', 'config.json'), 'utf8')).toContain('"ganWeight": 0.1');
    expect(readFileSync(join(root, 'docs', 'ABLATION.md'), 'utf8')).toContain('| `gan` +IDA +ISG +GAN |');
    expect(readFileSync(join(root, 'runs', 'toy2d', 'dmd', 'seed1', 'config.json'), 'utf8')).toContain('"command": "npm run distill -- toy2d --arm dmd --steps 10 --seed 1 --eval-every 10');
    expect(existsSync(join(root, 'docs', 'figures', 'ablation-toy2d-energy-distance-1step.svg'))).toBe(true);
    // A second invocation with --resume finds both runs finished and only re-reports.
    const again = await runAblationCommand(parseAblationOptions([...argv, '--resume']));
    expect(again.results.settings[0]!.final['energyDistance@1']).toEqual(dmd!.final['energyDistance@1']);
    // A longer --steps with --resume continues every run from its checkpoint, the GAN arm's heads included.
    const longer = ['--resume', ...argv.map((a, i) => (argv[i - 1] === '--steps' ? '14' : a))];
    const extended = await runAblationCommand(parseAblationOptions(longer));
    expect(extended.failed).toBe(0);
    for (const s of extended.results.settings) expect(s.runs[0]).toMatchObject({ status: 'finished', iterations: 14 });
    expect(existsSync(join(root, 'runs', 'toy2d', 'gan', 'seed1', 'checkpoint', 'discriminator.safetensors'))).toBe(true);
    // --report-only re-aggregates without training and keeps the training command.
    const reported = await runAblationCommand(parseAblationOptions(['toy2d', '--report-only', '--arms', 'dmd,gan,senseflow', '--out', join(root, 'runs'), '--docs', join(root, 'docs')]));
    expect(reported.results).toMatchObject({ steps: 14, seeds: [1], training: { command: `npm run ablation -- ${longer.join(' ')}`, invocations: 3 } });
    expect(reported.results.settings[2]!.final['energyDistance@1']).toEqual(extended.results.settings[2]!.final['energyDistance@1']);
  });
});
