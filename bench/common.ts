// What every bench page shares: the protocol with scripts/bench.mjs (a state object on window that the
// runner polls), logging that reaches the runner's terminal, URL options, and the timing loop.
//
// A suite is bench/<suite>.html loading bench/<suite>.ts, which calls runSuite(name, fn). fn returns
// the suite's JSON result; its optional `table` is what the runner prints.

/** A table the runner prints: one row per measurement. */
export interface BenchTable {
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
}

export interface SuiteResult {
  table?: BenchTable;
  /** Reasons the run failed although it produced results: the runner writes them, then exits 1. */
  failures?: string[];
  [key: string]: unknown;
}

/** window.__bench, read by the runner (scripts/bench.mjs). */
export interface BenchState {
  suite: string;
  state: 'running' | 'done' | 'error';
  /** The last progress line, for the runner's timeout message. */
  progress: string;
  result?: SuiteResult;
  error?: string;
}

declare global {
  interface Window {
    __bench?: BenchState;
  }
}

/** Options passed by the runner as URL query parameters: `--quick` -> ?quick=1, `--budget-ms=500` -> ?budget-ms=500. */
export const options = new URLSearchParams(globalThis.location.search);

export function flag(name: string): boolean {
  const value = options.get(name);
  return value !== null && value !== '0' && value !== 'false';
}

export function numberOption(name: string, fallback: number): number {
  const value = options.get(name);
  if (value === null) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`option --${name}: "${value}" is not a number`);
  return n;
}

/** A progress line: printed by the runner (page console) and shown on the page. */
export function log(message: string): void {
  console.log(`[bench] ${message}`);
  if (window.__bench) window.__bench.progress = message;
  const pre = document.getElementById('log');
  if (pre) pre.textContent += `${message}\n`;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Runs a suite and publishes its result (or its error) on window.__bench. */
export async function runSuite(suite: string, fn: () => Promise<SuiteResult>): Promise<void> {
  window.__bench = { suite, state: 'running', progress: 'starting' };
  try {
    const result = await fn();
    window.__bench = { suite, state: 'done', progress: 'done', result };
    log('done');
  } catch (error) {
    const message = error instanceof Error && error.stack ? `${errorMessage(error)}\n${error.stack}` : errorMessage(error);
    window.__bench = { suite, state: 'error', progress: window.__bench?.progress ?? '', error: message };
    console.error(`[bench] failed: ${message}`);
  }
}

export interface Timing {
  /** Iterations in the timed run. */
  iterations: number;
  /** Wall time of the timed run, from the first submission to the end of the final sync. */
  totalMs: number;
  msPerIteration: number;
  /** The first (untimed) iteration with its sync: includes pipeline compilation and first uploads. */
  warmupMs: number;
  /** Timed runs made while choosing the iteration count (the last one is reported). */
  runs: number;
}

export interface TimingOptions {
  /** Aim for a timed run of about this long. */
  budgetMs: number;
  maxIterations: number;
  minIterations?: number;
}

/**
 * Times `step` the way a training loop runs: `iterations` calls back to back, then one `sync` that waits
 * for all of their GPU work. Warms up once (step + sync, untimed), times one iteration to estimate the
 * count that fills the budget, then times that many; a run shorter than half the budget (the estimate
 * was off) is redone with a better count. Stops at maxIterations; one iteration longer than the budget
 * is reported as is.
 */
export async function timeLoop(step: (i: number) => void | Promise<void>, sync: () => Promise<void>, opts: TimingOptions): Promise<Timing> {
  const minIterations = Math.max(1, opts.minIterations ?? 1);
  let t0 = performance.now();
  await step(0);
  await sync();
  const warmupMs = performance.now() - t0;

  let iterations = Math.min(minIterations, opts.maxIterations);
  let runs = 0;
  for (;;) {
    t0 = performance.now();
    for (let i = 0; i < iterations; i++) await step(i);
    await sync();
    const totalMs = performance.now() - t0;
    runs++;
    if (totalMs >= opts.budgetMs / 2 || iterations >= opts.maxIterations || runs >= 6) {
      return { iterations, totalMs, msPerIteration: totalMs / iterations, warmupMs, runs };
    }
    const perIteration = Math.max(totalMs / iterations, 1e-3);
    iterations = Math.min(opts.maxIterations, Math.max(iterations + 1, Math.ceil(opts.budgetMs / perIteration)));
  }
}

/** Lets the page paint and the runner's poll through between long measurements. */
export function yieldToBrowser(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
