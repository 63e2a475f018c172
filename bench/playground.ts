// The playground suite: does the page stay responsive while the Distill tab trains? The page mounts the real Distill
// tab (src/ui/DistillTab.tsx, with the app's styles) and drives the real store (src/state/distill.ts: setField,
// applyPreset('senseflow'), start, pause, reset), so the real worker trains and the main thread does what it does for
// a user: it receives the progress batches (every 250 ms), the figures and evaluations (every `figureEvery`
// iterations), re-renders, and redraws the charts.
//
// Method. Main-thread long tasks (tasks over 50 ms) come from PerformanceObserver({ type: 'longtask', buffered: true });
// frame gaps from a requestAnimationFrame loop (the time between consecutive frames; 16.7 ms at 60 Hz, more when a task
// held the thread or the compositor skipped frames). Both run from page load; each window keeps what started inside it.
// Windows: a baseline with the tab mounted and no run (`baseline-s`), then, per task, the stretch from the run's first
// 'running' state to `seconds` later (or until it stops by itself at `iterations`). Opening (teacher load, its
// reference samples, the first figures) is before the window and timed on its own. Iterations per second: the worker's
// rate over its progress batches (figures, evaluations and checkpoints excluded; the median of the batches in the
// window), and the window's iterations over its wall time (everything included).
// Every chart draws as if on screen (`all-visible`, default on): IntersectionObserver is stubbed so no chart pauses
// off screen, as on a window tall enough to show the whole tab; `--all-visible=0` keeps the real one.
//
// Page options (URL query, from `npm run bench -- playground --<option>`): tasks (ring,ring@32: a task name, or
// name@batch; shapes when the build has it), seconds (60, each toy task's window), shapes-seconds (180), iterations
// (stop each run there instead of after `seconds`), baseline-s (10), figure-every (the form's default, 50),
// open-timeout-s (900), all-visible (1).
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '../src/ui/styles.css';
import { useDistill } from '../src/state/distill';
import { DistillTab } from '../src/ui/DistillTab';
import { DISTILL_TASKS, type DistillTaskName } from '../src/workers/distillApi';
import { type BenchTable, errorMessage, log, numberOption, options, runSuite } from './common';

interface TaskSpec {
  /** As given: "ring", "ring@32". */
  name: string;
  task: string;
  /** The form's batch size, or null for the form's default. */
  batch: number | null;
}

interface WindowStats {
  seconds: number;
  longTasks: { count: number; totalMs: number; maxMs: number; /** Sum of (duration - 50 ms): the total blocking time. */ blockingMs: number };
  frames: { count: number; perSecond: number; maxGapMs: number; p95GapMs: number; medianGapMs: number; gapsOver50Ms: number };
  /**
   * The longest gaps (up to 8): when they started (seconds into the window), how long, whether a long task of the page
   * overlapped them, and (runs) whether a figure had arrived in the 3 s before.
   */
  longestGaps: { atSeconds: number; ms: number; longTask: boolean; afterFigure?: boolean }[];
}

interface TaskResult {
  name: string;
  task: string;
  batch: number | null;
  status: 'ok' | 'not available' | 'error';
  reason?: string;
  adapter?: string | null;
  openSeconds?: number;
  iterations?: number;
  iterationsPerSecond?: { worker: number | null; workerLast: number | null; overall: number; perRunningSecond: number | null };
  events?: { progress: number; figures: number; evaluations: number };
  window?: WindowStats;
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));

function parseTasks(text: string): TaskSpec[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((name) => {
      const [task, batch] = name.split('@') as [string, string | undefined];
      if (batch !== undefined && !(Number.isInteger(Number(batch)) && Number(batch) >= 1)) throw new Error(`option --tasks: "${name}": the batch after @ must be a whole number >= 1`);
      return { name, task, batch: batch === undefined ? null : Number(batch) };
    });
}

// --- The main thread, observed from page load.

const longTasks: { start: number; duration: number }[] = [];
const longTaskSupported = PerformanceObserver.supportedEntryTypes?.includes('longtask') ?? false;
if (longTaskSupported) {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
}

const frames: number[] = [];
const onFrame = (time: number) => {
  frames.push(time);
  requestAnimationFrame(onFrame);
};
requestAnimationFrame(onFrame);

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function windowStats(start: number, end: number, figureTimes: readonly number[] | null = null): WindowStats {
  const tasks = longTasks.filter((t) => t.start >= start && t.start < end);
  const inside = frames.filter((t) => t >= start && t < end);
  const gaps = inside.slice(1).map((t, i) => t - inside[i]!);
  // A frame still pending at the end of the window (the thread busy) counts as a gap up to the end.
  if (inside.length > 0) gaps.push(end - inside.at(-1)!);
  const sorted = [...gaps].sort((a, b) => a - b);
  const longestGaps = gaps
    .map((ms, i) => ({ from: inside[i]!, ms }))
    .filter((g) => g.ms > 50)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 8)
    .map(({ from, ms }) => ({
      atSeconds: round((from - start) / 1000),
      ms: round(ms),
      longTask: tasks.some((t) => t.start < from + ms && t.start + t.duration > from),
      ...(figureTimes ? { afterFigure: figureTimes.some((f) => f <= from + ms && f > from - 3000) } : {}),
    }));
  const seconds = (end - start) / 1000;
  return {
    seconds: round(seconds),
    longTasks: {
      count: tasks.length,
      totalMs: round(tasks.reduce((a, t) => a + t.duration, 0), 0),
      maxMs: round(Math.max(0, ...tasks.map((t) => t.duration)), 0),
      blockingMs: round(tasks.reduce((a, t) => a + Math.max(0, t.duration - 50), 0), 0),
    },
    frames: {
      count: inside.length,
      perSecond: round(inside.length / seconds),
      maxGapMs: round(sorted.at(-1) ?? 0),
      p95GapMs: round(quantile(sorted, 0.95)),
      medianGapMs: round(quantile(sorted, 0.5)),
      gapsOver50Ms: gaps.filter((g) => g > 50).length,
    },
    longestGaps,
  };
}

// --- Driving the store.

type State = ReturnType<typeof useDistill.getState>;

/** Resolves with the state once `done(state)` holds, or null after timeoutMs. */
function waitFor(done: (state: State) => boolean, timeoutMs: number): Promise<State | null> {
  return new Promise((resolve) => {
    if (done(useDistill.getState())) return resolve(useDistill.getState());
    const timer = setTimeout(() => {
      unsubscribe();
      resolve(null);
    }, timeoutMs);
    const unsubscribe = useDistill.subscribe((state) => {
      if (!done(state)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(state);
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function measureTask(spec: TaskSpec, settings: { seconds: number; iterations: number | null; figureEvery: number | null; openTimeoutS: number }): Promise<TaskResult> {
  const base = { name: spec.name, task: spec.task, batch: spec.batch };
  if (!(DISTILL_TASKS as readonly string[]).includes(spec.task)) {
    return { ...base, status: 'not available', reason: `"${spec.task}" is not a task of this build (${DISTILL_TASKS.join(', ')})` };
  }
  const store = useDistill.getState();
  await store.reset(); // idle, and no checkpoint of these settings to resume
  store.setField('task', spec.task as DistillTaskName);
  store.applyPreset('senseflow');
  if (spec.batch !== null) store.setField('batch', String(spec.batch));
  if (settings.figureEvery !== null) store.setField('figureEvery', String(settings.figureEvery));
  store.setField('iterations', String(settings.iterations ?? 1_000_000));
  const form = useDistill.getState().form;
  if (form.task !== spec.task) return { ...base, status: 'not available', reason: `the form did not take task "${spec.task}" (it holds "${form.task}")` };

  log(`${spec.name}: opening (batch ${form.batch}, figures every ${form.figureEvery})`);
  const opening = performance.now();
  void useDistill.getState().start();
  const opened = await waitFor((s) => ['running', 'error', 'done'].includes(s.run.state), settings.openTimeoutS * 1000);
  const openSeconds = round((performance.now() - opening) / 1000);
  if (!opened) {
    await useDistill.getState().reset();
    return { ...base, status: 'not available', reason: `the run did not start within ${settings.openTimeoutS} s`, openSeconds };
  }
  if (opened.run.state === 'error') {
    const reason = opened.run.message ?? 'the run failed to open';
    await useDistill.getState().reset();
    return { ...base, status: spec.task === 'shapes' ? 'not available' : 'error', reason, openSeconds };
  }

  const start = performance.now();
  const first = useDistill.getState().run;
  const events = { progress: 0, figures: 0, evaluations: 0 };
  const rates: number[] = [];
  const figureTimes: number[] = [];
  const unsubscribe = useDistill.subscribe((state, previous) => {
    if (state.metricsVersion !== previous.metricsVersion) {
      events.progress++;
      if (state.run.iterationsPerSecond && state.run.iterationsPerSecond !== previous.run.iterationsPerSecond) rates.push(state.run.iterationsPerSecond);
    }
    if (state.figure !== previous.figure && state.figure) {
      events.figures++;
      figureTimes.push(performance.now());
    }
    if (state.evaluations !== previous.evaluations) events.evaluations++;
  });
  log(`${spec.name}: running on ${first.adapter ?? 'an unknown adapter'} (opened in ${openSeconds} s); measuring ${settings.iterations === null ? `${settings.seconds} s` : `to iteration ${settings.iterations}`}`);
  await waitFor((s) => s.run.state !== 'running', settings.iterations === null ? settings.seconds * 1000 : settings.openTimeoutS * 1000);
  const end = performance.now();
  unsubscribe();
  const last = useDistill.getState().run;
  const stats = windowStats(start, end, figureTimes);
  const iterations = last.iteration - first.iteration;
  const runningSeconds = last.elapsedSeconds - first.elapsedSeconds;
  const sortedRates = [...rates].sort((a, b) => a - b);
  if (last.state === 'running') await useDistill.getState().pause();
  const failed = last.state === 'error' ? last.message : null;
  await useDistill.getState().reset();
  log(`${spec.name}: ${iterations} iterations in ${stats.seconds} s, ${stats.longTasks.count} long tasks`);
  return {
    ...base,
    batch: Number(form.batch),
    status: failed ? 'error' : 'ok',
    ...(failed ? { reason: failed } : {}),
    adapter: first.adapter,
    openSeconds,
    iterations,
    iterationsPerSecond: {
      worker: sortedRates.length > 0 ? round(quantile(sortedRates, 0.5), 2) : null,
      workerLast: last.iterationsPerSecond === null ? null : round(last.iterationsPerSecond, 2),
      overall: round(iterations / stats.seconds, 2),
      perRunningSecond: runningSeconds > 0 ? round(iterations / runningSeconds, 2) : null,
    },
    events,
    window: stats,
  };
}

function tableOf(baseline: WindowStats, tasks: readonly TaskResult[], adapter: string | null): BenchTable {
  const stats = (w: WindowStats) => [w.seconds, w.longTasks.count, w.longTasks.totalMs, w.longTasks.maxMs, w.frames.perSecond, w.frames.p95GapMs, w.frames.maxGapMs, w.frames.gapsOver50Ms];
  const missing = Array.from({ length: 8 }, () => null);
  return {
    title: `Distill tab: main-thread long tasks and frame gaps while training (${adapter ?? 'adapter unknown'})`,
    columns: ['window', 'batch', 'iterations', 'it/s worker', 'it/s overall', 's', 'long tasks', 'long ms', 'max long ms', 'frames/s', 'p95 gap ms', 'max gap ms', 'gaps>50ms', 'note'],
    rows: [
      ['idle (no run)', null, null, null, null, ...stats(baseline), null],
      ...tasks.map((t) =>
        t.status === 'ok' && t.window
          ? [t.name, t.batch, t.iterations ?? null, t.iterationsPerSecond?.worker ?? null, t.iterationsPerSecond?.overall ?? null, ...stats(t.window), `opened in ${t.openSeconds} s`]
          : [t.name, t.batch, null, null, null, ...missing, `${t.status}: ${t.reason ?? ''}`.slice(0, 160)],
      ),
    ],
  };
}

void runSuite('playground', async () => {
  const tasks = parseTasks(options.get('tasks') ?? 'ring,ring@32');
  const seconds = numberOption('seconds', 60);
  const shapesSeconds = numberOption('shapes-seconds', 180);
  const iterationsOption = options.get('iterations');
  const iterations = iterationsOption === null ? null : numberOption('iterations', 0);
  const figureEveryOption = options.get('figure-every');
  const figureEvery = figureEveryOption === null ? null : numberOption('figure-every', 50);
  const baselineSeconds = numberOption('baseline-s', 10);
  const openTimeoutS = numberOption('open-timeout-s', 900);
  const allVisible = options.get('all-visible') !== '0';

  if (allVisible) {
    // usePlot draws while its IntersectionObserver has not said otherwise: one that never reports keeps every chart on.
    window.IntersectionObserver = class {
      readonly root = null;
      readonly rootMargin = '0px';
      readonly thresholds = [0];
      observe() {}
      unobserve() {}
      disconnect() {}
      takeRecords() {
        return [];
      }
    } as unknown as typeof IntersectionObserver;
  }
  const container = document.getElementById('root')!;
  createRoot(container).render(createElement(StrictMode, null, createElement(DistillTab)));
  log(`mounted the Distill tab (React ${import.meta.env.DEV ? 'development' : 'production'} build); long tasks ${longTaskSupported ? 'observed' : 'NOT SUPPORTED here'}`);
  await sleep(2000); // first render, layout, the saved-runs query

  log(`baseline: ${baselineSeconds} s with no run`);
  const baselineStart = performance.now();
  await sleep(baselineSeconds * 1000);
  const baseline = windowStats(baselineStart, performance.now());

  const results: TaskResult[] = [];
  const failures: string[] = [];
  for (const spec of tasks) {
    try {
      const result = await measureTask(spec, { seconds: spec.task === 'shapes' ? shapesSeconds : seconds, iterations, figureEvery, openTimeoutS });
      results.push(result);
      if (result.status === 'error') failures.push(`${spec.name}: ${result.reason}`);
    } catch (error) {
      results.push({ name: spec.name, task: spec.task, batch: spec.batch, status: 'error', reason: errorMessage(error) });
      failures.push(`${spec.name}: ${errorMessage(error)}`);
      await useDistill.getState().reset().catch(() => undefined);
    }
  }
  if (!longTaskSupported) failures.push('this browser does not report long tasks (PerformanceObserver longtask)');
  const adapter = results.find((r) => r.adapter)?.adapter ?? null;
  return {
    adapter,
    longTaskSupported,
    reactBuild: import.meta.env.DEV ? 'development' : 'production',
    hardwareConcurrency: navigator.hardwareConcurrency,
    settings: { tasks: tasks.map((t) => t.name), seconds, shapesSeconds, iterations, figureEvery: figureEvery ?? 'form default', baselineSeconds, openTimeoutS, allVisible },
    method:
      'Long tasks: PerformanceObserver longtask (buffered) on the page; frame gaps: requestAnimationFrame deltas. Windows: an idle baseline with the tab mounted, then per task from the first running state for the given seconds. Iterations per second: the worker\'s per-batch rate (median; figures, evaluations and checkpoints excluded) and iterations over the window\'s wall time (all included).',
    baseline,
    tasks: results,
    failures,
    table: tableOf(baseline, results, adapter),
  };
});
