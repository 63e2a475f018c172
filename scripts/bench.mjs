#!/usr/bin/env node
// Runs a browser benchmark suite and records its result:
//
//   npm run bench -- <suite> [--quick] [--budget-ms=N] [--max-iterations=N] [--timeout-min=N] [--headed] [--verbose]
//
// A suite is a page, bench/<suite>.html, whose module (bench/<suite>.ts) measures when loaded and publishes
// window.__bench = { state: 'running' | 'done' | 'error', progress, result, error } (see bench/common.ts).
// This script serves the project with Vite's dev server (the project's vite.config.ts: same module
// resolution and ORT runtime serving as the app), opens the page in Debian's chromium through Playwright
// with WebGPU on (e2e/chromium.ts), waits for the result, adds where and when it ran (chromium version,
// date, git commit), writes bench/results/<suite>.json and prints the suite's table.
//
// Options other than --timeout-min, --headed and --verbose are passed to the page as URL query parameters
// (--quick -> ?quick=1, --budget-ms=500 -> ?budget-ms=500); each suite documents the ones it reads.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const RUNNER_OPTIONS = new Set(['timeout-min', 'headed', 'verbose']);

function fail(message, code = 1) {
  console.error(`[bench] ${message}`);
  process.exit(code);
}

function availableSuites() {
  return existsSync(benchDir) ? readdirSync(benchDir).filter((f) => f.endsWith('.html')).map((f) => f.slice(0, -5)).sort() : [];
}

function parseArgs(argv) {
  let suite = null;
  const options = new Map();
  for (const arg of argv) {
    if (arg.startsWith('--')) {
      const [key, ...rest] = arg.slice(2).split('=');
      options.set(key, rest.length > 0 ? rest.join('=') : '1');
    } else if (suite === null) {
      suite = arg;
    } else {
      fail(`unexpected argument "${arg}" (one suite per run)`, 2);
    }
  }
  const suites = availableSuites();
  if (!suite) fail(`usage: npm run bench -- <suite> [--quick] [options]; suites: ${suites.join(', ') || '(none)'}`, 2);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(suite) || !suites.includes(suite)) {
    fail(`no suite "${suite}" (bench/${suite}.html); suites: ${suites.join(', ') || '(none)'}`, 2);
  }
  return { suite, options };
}

/** Read-only git facts (no command here writes to the repository, not even the index's stat cache). */
function gitInfo() {
  const git = (...args) => execFileSync('git', ['--no-optional-locks', ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const changes = git('status', '--porcelain', '--untracked-files=no');
    return { commit: git('rev-parse', 'HEAD'), branch: git('rev-parse', '--abbrev-ref', 'HEAD'), dirty: changes.length > 0 };
  } catch {
    return { commit: null, branch: null, dirty: null };
  }
}

/** Installed versions of the project's direct dependencies (the peers a suite compares against among them). */
function packageVersions() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const versions = {};
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).sort()) {
    try {
      versions[name] = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      versions[name] = null;
    }
  }
  return versions;
}

function printTable(table) {
  if (!table || !Array.isArray(table.columns) || !Array.isArray(table.rows)) return;
  const text = (v) => (v === null || v === undefined ? '-' : typeof v === 'number' ? String(v) : v);
  const rows = table.rows.map((r) => r.map(text));
  const widths = table.columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Columns of numbers (and the words that stand in for one) are right-aligned.
  const numberLike = (v) => v === null || v === undefined || typeof v === 'number' || /^(-?[\d.]+(e[+-]?\d+)?|n\/a|error|skipped|todo)$/i.test(String(v));
  const numeric = table.columns.map((_, i) => table.rows.every((r) => numberLike(r[i])));
  const line = (cells) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(`\n${table.title}`);
  console.log(line(table.columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('');
}

async function main() {
  const { suite, options } = parseArgs(process.argv.slice(2));
  const timeoutMs = Number(options.get('timeout-min') ?? 30) * 60_000;
  const headed = options.has('headed');
  const verbose = options.has('verbose');
  const query = new URLSearchParams([...options].filter(([k]) => !RUNNER_OPTIONS.has(k)));
  const started = Date.now();

  const { createServer } = await import('vite');
  const { chromium } = await import('@playwright/test');

  // No HMR and no file watching: other work in the tree must not reload the page mid-measurement.
  const server = await createServer({
    configFile: join(root, 'vite.config.ts'),
    root,
    logLevel: 'warn',
    clearScreen: false,
    cacheDir: join(root, 'node_modules', '.vite-bench'),
    optimizeDeps: { entries: [`bench/${suite}.html`] },
    server: { host: 'localhost', port: 5180, strictPort: false, hmr: false, watch: null },
  });
  let browser = null;
  const cleanup = async () => {
    await browser?.close().catch(() => {});
    await server.close().catch(() => {});
  };
  process.once('SIGINT', () => {
    cleanup().finally(() => process.exit(130));
  });

  try {
    await server.listen();
    const base = server.resolvedUrls?.local[0];
    if (!base) throw new Error('the Vite dev server did not report a local URL');
    // e2e/chromium.ts is TypeScript; Vite loads it for us, so the launch flags live in one place.
    const { chromiumLaunchOptions } = await server.ssrLoadModule('/e2e/chromium.ts');
    const launch = chromiumLaunchOptions();
    browser = await chromium.launch({ ...launch, headless: !headed });
    const chromiumVersion = browser.version();
    const page = await browser.newPage();
    page.on('console', (msg) => {
      const text = msg.text();
      if (text.startsWith('[bench]')) console.log(text);
      else if (verbose || msg.type() === 'error') console.log(`[page ${msg.type()}] ${text.length > 400 && !verbose ? `${text.slice(0, 400)} ...` : text}`);
    });
    page.on('pageerror', (error) => console.log(`[page error] ${error.message}`));
    let crashed = false;
    page.on('crash', () => {
      crashed = true;
      console.error('[bench] the page crashed (renderer or GPU process)');
    });

    const url = `${base}bench/${suite}.html${query.size > 0 ? `?${query}` : ''}`;
    console.log(`[bench] ${suite}: ${url} in chromium ${chromiumVersion} (${launch.executablePath})`);
    // The first load of a fresh dependency cache pre-bundles the suite's libraries: allow for it.
    await page.goto(url, { timeout: 180_000 });
    try {
      await page.waitForFunction(() => window.__bench !== undefined && window.__bench.state !== 'running', null, { timeout: timeoutMs, polling: 1000 });
    } catch (error) {
      const progress = crashed ? null : await page.evaluate(() => window.__bench?.progress ?? null).catch(() => null);
      throw new Error(
        crashed
          ? 'the page crashed before the suite finished'
          : `no result within ${timeoutMs / 60_000} min (last progress: ${progress ?? 'none: did the page load? run with --verbose'}): ${error.message.split('\n')[0]}`,
      );
    }
    const state = await page.evaluate(() => window.__bench);
    if (state.state === 'error') throw new Error(`the ${suite} suite failed in the page:\n${state.error}`);
    const userAgent = await page.evaluate(() => navigator.userAgent);

    const record = {
      suite,
      date: new Date().toISOString(),
      git: gitInfo(),
      chromium: { version: chromiumVersion, executable: launch.executablePath, args: launch.args, headless: !headed, userAgent },
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      options: Object.fromEntries(query),
      runnerSeconds: (Date.now() - started) / 1000,
      packages: packageVersions(),
      ...state.result,
    };
    const outDir = join(benchDir, 'results');
    mkdirSync(outDir, { recursive: true });
    const outFile = join(outDir, `${suite}.json`);
    writeFileSync(outFile, `${JSON.stringify(record, null, 2)}\n`);
    printTable(state.result?.table);
    console.log(`[bench] wrote ${relative(root, outFile)} (${record.runnerSeconds.toFixed(0)} s)`);
    const failures = state.result?.failures ?? [];
    if (failures.length > 0) throw new Error(`the ${suite} suite ran but failed:\n  ${failures.join('\n  ')}`);
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error) => fail(error instanceof Error ? error.message : String(error)),
);
