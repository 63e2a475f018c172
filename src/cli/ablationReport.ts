// The ablation's report: docs/results/ablation-<task>.json (the aggregation), docs/figures/ablation-<task>-*.svg,
// and the task's section of docs/ABLATION.md: provenance, the final-metrics table, factual sentences computed from
// the numbers, the figures, and on the toy the stress regime. Only the text between the task's begin/end markers
// is rewritten; the interpretation written by hand below it, and the other tasks' sections, are kept.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FigureLine, type FigureMetric, figureSpec, renderFigure } from './ablationFigures';
import type { AblationResults, SettingResult, Stats } from './ablationResults';
import { formatDuration } from './trainLoop';

interface Column {
  key: string;
  header: string;
  digits: number;
  percent?: boolean;
  /** Which end a factual sentence names first ("the lowest final ... is"). */
  best?: 'lowest' | 'highest';
  /** The sentence's context and noun: "At 1 step, the lowest final energy distance is ...". */
  fact?: { context?: string; noun: string };
}

interface TaskReport {
  title: string;
  columns: Column[];
  /** The metric whose late-run sd the tables show (how much the curve still moves in the second half). */
  lateMetric: { key: string; header: string; digits: number };
  figures: FigureMetric[];
}

const TASKS: Record<string, TaskReport> = {
  toy2d: {
    title: 'Toy 2D',
    columns: [
      { key: 'energyDistance@1', header: 'ED 1 step', digits: 4, best: 'lowest', fact: { context: 'At 1 step', noun: 'energy distance' } },
      { key: 'energyDistance@2', header: 'ED 2 steps', digits: 4 },
      { key: 'energyDistance@4', header: 'ED 4 steps', digits: 4, best: 'lowest', fact: { context: 'At 4 steps', noun: 'energy distance' } },
      { key: 'modeCoverage@1', header: 'modes 1 step', digits: 0, percent: true, best: 'highest', fact: { context: 'At 1 step', noun: 'mode coverage' } },
      { key: 'modeCoverage@4', header: 'modes 4 steps', digits: 0, percent: true },
      { key: 'offMode@1', header: 'off-mode 1 step', digits: 1, percent: true },
      { key: 'fakeTrackingError', header: 'fake-tracking error', digits: 4, best: 'lowest', fact: { noun: 'fake-tracking error' } },
      { key: 'parameterDistance', header: '‖φ − θ‖', digits: 3, best: 'lowest', fact: { noun: '‖φ − θ‖' } },
    ],
    lateMetric: { key: 'energyDistance@1', header: 'late sd of ED 1 step', digits: 4 },
    figures: [
      { key: 'energyDistance@1', slug: 'energy-distance-1step', title: 'Energy distance to the teacher, 1 step', axis: 'energy distance', log: true },
      { key: 'energyDistance@4', slug: 'energy-distance-4step', title: 'Energy distance to the teacher, 4 steps', axis: 'energy distance', log: true },
      { key: 'modeCoverage@1', slug: 'mode-coverage-1step', title: 'Mode coverage, 1 step', axis: 'modes covered', percent: true },
      { key: 'fakeTrackingError', slug: 'fake-tracking-error', title: "Fake-tracking error (fake score vs the generator's optimal denoiser)", axis: 'fake-tracking error', log: true },
      { key: 'parameterDistance', slug: 'parameter-distance', title: '‖φ − θ‖ (fake score to generator)', axis: '‖φ − θ‖' },
    ],
  },
  shapes: {
    title: 'Shapes-32',
    columns: [
      { key: 'promptAccuracy@1', header: 'accuracy 1 step', digits: 1, percent: true, best: 'highest', fact: { context: 'At 1 step', noun: 'prompt accuracy' } },
      { key: 'promptAccuracy@2', header: 'accuracy 2 steps', digits: 1, percent: true, best: 'highest', fact: { context: 'At 2 steps', noun: 'prompt accuracy' } },
      { key: 'promptAccuracy@4', header: 'accuracy 4 steps', digits: 1, percent: true, best: 'highest', fact: { context: 'At 4 steps', noun: 'prompt accuracy' } },
      { key: 'fdTeacher@1', header: 'FD-T 1 step', digits: 2, best: 'lowest', fact: { context: 'At 1 step', noun: 'FD-T' } },
      { key: 'fdTeacher@2', header: 'FD-T 2 steps', digits: 2, best: 'lowest', fact: { context: 'At 2 steps', noun: 'FD-T' } },
      { key: 'fdTeacher@4', header: 'FD-T 4 steps', digits: 2, best: 'lowest', fact: { context: 'At 4 steps', noun: 'FD-T' } },
      { key: 'fdReal@1', header: 'FD-R 1 step', digits: 2 },
      { key: 'fdReal@4', header: 'FD-R 4 steps', digits: 2 },
      { key: 'parameterDistance', header: '‖φ − θ‖', digits: 3, best: 'lowest', fact: { noun: '‖φ − θ‖' } },
    ],
    lateMetric: { key: 'fdTeacher@1', header: 'late sd of FD-T 1 step', digits: 2 },
    figures: [
      { key: 'promptAccuracy@1', slug: 'prompt-accuracy-1step', title: 'Prompt accuracy, 1 step', axis: 'prompt accuracy', percent: true },
      { key: 'promptAccuracy@2', slug: 'prompt-accuracy-2step', title: 'Prompt accuracy, 2 steps', axis: 'prompt accuracy', percent: true },
      { key: 'promptAccuracy@4', slug: 'prompt-accuracy-4step', title: 'Prompt accuracy, 4 steps', axis: 'prompt accuracy', percent: true },
      { key: 'fdTeacher@1', slug: 'fd-teacher-1step', title: "FD-T (to the teacher's samples), 1 step", axis: 'FD-T' },
      { key: 'fdTeacher@4', slug: 'fd-teacher-4step', title: "FD-T (to the teacher's samples), 4 steps", axis: 'FD-T' },
      { key: 'parameterDistance', slug: 'parameter-distance', title: '‖φ − θ‖ (fake score to generator)', axis: '‖φ − θ‖' },
    ],
  },
};

const number = (v: number, digits: number, percent?: boolean) => (percent ? `${(100 * v).toFixed(digits)}%` : v.toFixed(digits));

/** "m ± sd" (n > 1), "m" (n = 1) or "–" (no value). */
export function formatStats(s: Stats | undefined, digits: number, percent?: boolean): string {
  if (!s || s.n === 0) return '–';
  return s.n === 1 ? number(s.mean, digits, percent) : `${number(s.mean, digits, percent)} ± ${number(s.sd, digits, percent)}`;
}

const hasData = (s: SettingResult) => s.runs.some((r) => r.final);

function settingCell(s: SettingResult): string {
  const shared = s.folder !== s.name ? ` (the runs of \`${s.folder}\`)` : '';
  return `\`${s.name}\` ${s.label}${shared}`;
}

/** The final-metrics table of some settings. */
export function finalTable(report: TaskReport, settings: readonly SettingResult[]): string {
  const header = ['setting', ...report.columns.map((c) => c.header), report.lateMetric.header, 'runs', 'restores'];
  const rows = settings.map((s) => {
    if (!hasData(s)) {
      const why = s.runs.find((r) => r.reason)?.reason ?? 'no run folder with evaluations';
      return [settingCell(s), `not run: ${why.split('\n')[0]}`, ...header.slice(2).map(() => '')];
    }
    const finished = s.runs.filter((r) => r.status === 'finished').length;
    return [
      settingCell(s),
      ...report.columns.map((c) => formatStats(s.final[c.key], c.digits, c.percent)),
      formatStats(s.lateSd[report.lateMetric.key], report.lateMetric.digits),
      `${finished}/${s.runs.length}`,
      String(s.runs.reduce((a, r) => a + r.restores, 0)),
    ];
  });
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function describe(s: SettingResult, c: Column): string {
  const f = s.final[c.key]!;
  const range = f.n > 1 ? `; seeds ${number(f.min, c.digits, c.percent)} to ${number(f.max, c.digits, c.percent)}` : '';
  return `**${s.name}** (${formatStats(f, c.digits, c.percent)}${range})`;
}

/** Sentences that state what the numbers say, no interpretation: the extremes of each fact column, restores, gaps. */
export function facts(report: TaskReport, settings: readonly SettingResult[]): string[] {
  const sentences: string[] = [];
  const measured = settings.filter((s) => hasData(s) && s.folder === s.name);
  for (const c of report.columns) {
    if (!c.fact || !c.best) continue;
    const ranked = measured.filter((s) => (s.final[c.key]?.n ?? 0) > 0).sort((a, b) => a.final[c.key]!.mean - b.final[c.key]!.mean);
    if (ranked.length === 0) continue;
    if (c.best === 'highest') ranked.reverse();
    const first = ranked[0]!;
    const last = ranked.at(-1)!;
    const worst = c.best === 'lowest' ? 'highest' : 'lowest';
    let sentence = `${c.fact.context ? `${c.fact.context}, the` : 'The'} ${c.best} final ${c.fact.noun} is ${describe(first, c)}`;
    if (ranked.length > 1) {
      sentence += `; the ${worst} is ${describe(last, c)}`;
      const second = ranked[1]!;
      const [a, b] = [first.final[c.key]!, second.final[c.key]!];
      if (a.n > 1 && b.n > 1) sentence += `. The seed ranges of ${first.name} and the runner-up ${second.name} ${a.max < b.min || b.max < a.min ? 'do not overlap' : 'overlap'}`;
    }
    sentences.push(`${sentence}.`);
  }
  const restored = settings.filter((s) => s.folder === s.name).flatMap((s) => s.runs.filter((r) => r.restores > 0).map((r) => `${s.name} seed ${r.seed} (${r.restores})`));
  sentences.push(restored.length ? `Runs that restored a snapshot after a non-finite loss or gradient (times): ${restored.join(', ')}.` : 'No run restored a snapshot (no non-finite loss or gradient).');
  for (const s of settings) {
    if (s.folder !== s.name) continue;
    if (s.notApplicable) {
      sentences.push(`**${s.name}** was not run on this task: ${s.notApplicable}.`);
      continue;
    }
    const notRun = s.runs.filter((r) => r.status === 'skipped' || r.status === 'failed' || r.status === 'missing');
    if (notRun.length) sentences.push(`**${s.name}**: ${notRun.map((r) => `seed ${r.seed} ${r.status}${r.reason ? ` (${r.reason.split('\n')[0]})` : ''}`).join('; ')}.`);
    const unfinished = s.runs.filter((r) => r.status === 'unfinished');
    if (unfinished.length) sentences.push(`**${s.name}**: unfinished runs (aggregated at their last evaluation): ${unfinished.map((r) => `seed ${r.seed} at ${r.iterations ?? r.final?.iteration ?? 0} iterations`).join(', ')}.`);
  }
  return sentences;
}

/** The TTUR x lambda grid of one metric (rows TTUR, columns lambda). */
function sweepGrid(settings: readonly SettingResult[], key: string, digits: number, what: (s: SettingResult) => Stats | undefined): string {
  const sweep = settings.filter((s) => s.sweep);
  const ttur = [...new Set(sweep.map((s) => s.sweep!.ttur))];
  const lambdas = [...new Set(sweep.map((s) => s.sweep!.idaLambda))];
  const rows = ttur.map((t) => [`TTUR ${t}`, ...lambdas.map((l) => formatStats(what(sweep.find((s) => s.sweep!.ttur === t && s.sweep!.idaLambda === l)!), digits))]);
  return [[key, ...lambdas.map((l) => `IDA λ ${l}`)], ['---', ...lambdas.map(() => '---')], ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

const figureName = (task: string, part: string, metric: FigureMetric) => `ablation-${task}${part}-${metric.slug}.svg`;

/** Renders the figures of one group of settings into <docs>/figures/; returns their markdown. */
async function writeFigures(docs: string, results: AblationResults, report: TaskReport, part: string, settings: readonly SettingResult[], regime: string): Promise<string> {
  const lines: FigureLine[] = settings.filter((s) => hasData(s) && s.folder === s.name).map((s) => ({ name: s.name.replace(/^stress\//, ''), setting: s }));
  if (lines.length === 0) return '';
  mkdirSync(join(docs, 'figures'), { recursive: true });
  const seeds = results.seeds.length > 1 ? `seeds ${results.seeds[0]} to ${results.seeds.at(-1)}` : `seed ${results.seeds[0]}`;
  const out: string[] = [];
  for (const metric of report.figures) {
    const name = figureName(results.task, part, metric);
    const svg = await renderFigure(figureSpec(metric, lines, `${regime}; line: mean over ${seeds}; band: min to max over seeds`));
    writeFileSync(join(docs, 'figures', name), svg);
    out.push(`![${metric.title}${part ? ' (stress regime)' : ''}](figures/${name})`);
  }
  return out.join('\n\n');
}

function provenance(results: AblationResults): string {
  const finished = results.settings.flatMap((s) => s.runs).filter((r) => r.status === 'finished').length;
  return [
    `Generated ${results.date} from commit \`${results.commit}\` by \`${results.command}\`${results.training && results.training.command !== results.command ? ` (runs trained by \`${results.training.command}\` from commit \`${results.training.commit}\`)` : ''}; adapter ${results.adapter.length ? results.adapter.join('; ') : 'not recorded'}.`,
    `Seeds: ${results.seeds.join(', ')}; ${results.steps} iterations per run; ${finished} finished runs. Wall time: ${trainingTime(results.training)}; the runs' training loops ${formatDuration(results.wallSeconds.training)} summed (without each run's setup).`,
    `Data: [results/ablation-${results.task}.json](results/ablation-${results.task}.json) (curves and per-seed finals of every metric). Each run folder's config.json holds its exact \`npm run distill\` command and settings.`,
  ].join('\n');
}

function trainingTime(training: AblationResults['training']): string {
  if (!training) return 'the training invocation not recorded';
  const n = training.invocations ?? 1;
  return n > 1 ? `${n} training invocations (--resume) ${formatDuration(training.seconds)} together` : `the training invocation ${formatDuration(training.seconds)}`;
}

/** The generated body of the task's section (between the markers), figures written as a side effect. */
export async function sectionBody(docs: string, results: AblationResults): Promise<string> {
  const report = TASKS[results.task];
  if (!report) throw new Error(`no report layout for task "${results.task}"`);
  const main = results.settings.filter((s) => s.group === 'arms');
  const stress = results.settings.filter((s) => s.group !== 'arms');
  const teacher = results.task === 'toy2d' ? 'ring mixture, guidance 1' : 'Shapes teacher';
  const parts = [
    provenance(results),
    `### Final metrics\n\nEach seed's last evaluation; mean ± sd over seeds. "late sd": per seed, the sd of the metric over the evaluations in the second half of the run, averaged over seeds (how much the curve still moves). "runs": finished / planned.\n\n${finalTable(report, main)}`,
    `### What the numbers say\n\n${facts(report, main).map((f) => `- ${f}`).join('\n')}`,
    `### Curves\n\n${await writeFigures(docs, results, report, '', main, teacher)}`,
  ];
  if (stress.length) {
    const late = report.lateMetric;
    parts.push(
      [
        '### Stress regime: grid mixture, guidance 3',
        `${finalTable(report, stress)}`,
        `Final ED at 1 step over the TTUR x IDA-lambda sweep (no ISG):\n\n${sweepGrid(stress, 'ED 1 step', 4, (s) => s.final['energyDistance@1'])}`,
        `Late sd of ED at 1 step over the sweep:\n\n${sweepGrid(stress, late.header, late.digits, (s) => s.lateSd[late.key])}`,
        facts(report, stress).map((f) => `- ${f}`).join('\n'),
        await writeFigures(docs, results, report, '-stress', stress, 'grid mixture, guidance 3'),
      ].join('\n\n'),
    );
  }
  return parts.join('\n\n');
}

const HEADER = `# Ablation of the SenseFlow recipe

DMD alone, +IDA, +ISG, SenseFlow (+IDA +ISG), +GAN and the pull-to-teacher control (the arms of src/distill/config.ts),
each over several seeds, made by \`npm run ablation -- <task>\`. The generated part of each task's section lies between
its \`ablation:<task>:begin/end\` markers and is rewritten by \`npm run ablation -- <task> --report-only\`; the
interpretation below it is written by hand and kept.
`;

/** Replaces (or appends) the task's generated section of the document, keeping everything outside its markers. */
export function replaceSection(document: string, task: string, title: string, body: string): string {
  const begin = `<!-- ablation:${task}:begin (generated: edits between the markers are overwritten) -->`;
  const end = `<!-- ablation:${task}:end -->`;
  const beginPattern = new RegExp(`<!-- ablation:${task}:begin[^>]*-->`);
  const start = document.search(beginPattern);
  const stop = document.indexOf(end);
  if (start >= 0 && stop > start) return `${document.slice(0, start)}${begin}\n${body}\n${document.slice(stop)}`;
  const base = document.trim() ? document.replace(/\n*$/, '\n') : HEADER;
  const placeholder = `### Interpretation (${title})\n\n_To be written: what the table and the curves show about each arm, and whether it matches the paper (IDA smooths the oscillation TTUR alone shows; IDA + ISG improve on DMD alone)._\n`;
  return `${base}\n## ${title}\n\n${begin}\n${body}\n${end}\n\n${placeholder}`;
}

/** Writes <docs>/results/ablation-<task>.json, the figures, and the task's section of <docs>/ABLATION.md. */
export async function writeAblationReport(docs: string, results: AblationResults): Promise<{ json: string; markdown: string }> {
  mkdirSync(join(docs, 'results'), { recursive: true });
  const json = join(docs, 'results', `ablation-${results.task}.json`);
  writeFileSync(json, `${JSON.stringify(results, null, 1)}\n`);
  const markdown = join(docs, 'ABLATION.md');
  const body = await sectionBody(docs, results);
  const before = existsSync(markdown) ? readFileSync(markdown, 'utf8') : '';
  writeFileSync(markdown, replaceSection(before, results.task, TASKS[results.task]!.title, body));
  return { json, markdown };
}
