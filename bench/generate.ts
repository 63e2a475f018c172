// The generate suite: the app's inference pipeline (src/pipeline/generate.ts) on a bundled model, on ORT's WebGPU
// execution provider and on its wasm provider, in the same page.
//
// For each provider, in this order (WebGPU first, then wasm):
//   cold start   per bundle: fetch + verify (loadBundle over the dev server), Pipeline.create (every ORT session of
//                the bundle on that one provider), and the first generate (1 step): what a user waits for the first
//                image. ORT's wasm runtime (25 MB, shared by both providers) is fetched and compiled once, before
//                either cold start, by a one-node session, and reported on its own as ortRuntimeInitMs.
//   warm         `reps` generations (batch 1, seeds seed..seed+reps-1) at 1, 2 and 4 steps (a few-step student at
//                the ones its manifest lists), medians of the pipeline's own timings (GenerateTimings); the cold
//                start's generation was the warm-up (kernels compiled, buffers sized). A repetition does not start
//                once `budget-ms` has passed since the first (one 50-step image takes minutes on SwiftShader), so
//                `reps` in the result says how many ran; short ones repeat until 3 s are timed (at most 60).
//   teacher      the teacher at its 50 steps with its default guidance; ratio = its median over the median 1-step
//                image of the student (--student=NAME; default: the first few-step bundle vite.config.ts ships, from
//                virtual:bundled-models; --student=none for none) or, without one, of the teacher itself.
// Overhead: the median over reps of timings.pipelineOverheadMs / totalMs, as the pipeline defines it (total minus the model calls: tokenizing,
// noise, the sampler's update graphs, reads, RGBA conversion). On WebGPU, session.run returns once the work is
// queued, so the GPU's time is waited for in the final read (decodeMs) and lands in that overhead; the suite also
// reports the overhead without the final read, which bounds the host-side part from below, and with an idle read in
// its place (the same image-sized read timed right after the generation, when the GPU has nothing queued): the
// host-side part including one real read back, the figure the "under 10%" is about.
// Output buffers (WebGPU): the teacher with its outputs in pre-allocated buffers (the pipeline's default) against a
// second pipeline whose outputs ORT allocates per call (outputBuffers 'ort'), generations alternating between the two.
//
// Page options (URL query, from `npm run bench -- generate --<option>`): model (shapes-teacher), student (auto|none|NAME),
// providers (webgpu,wasm), steps (1,2,4), teacher-steps (50), reps (3), budget-ms (60000), seed (7), prompt.
import { describeAdapter } from '../src/gpu/device';
import { matmulModel } from '../src/onnx/proto';
import type { Ort } from '../src/onnx/exportOrt';
import { fetchSource, type LoadedBundle, loadBundle } from '../src/pipeline/bundle';
import { type ExecutionProvider, type GenerateResult, type GenerateTimings, Pipeline } from '../src/pipeline/generate';
import { GpuOutputs } from '../src/pipeline/generateBuffers';
import { loadOrt } from '../src/pipeline/ort';
import bundledModels from 'virtual:bundled-models';
import { type BenchTable, errorMessage, log, numberOption, options, runSuite, yieldToBrowser } from './common';

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (ms: number, digits = 1) => Number(ms.toFixed(digits));
/** Short generations repeat until they have taken this long together (at most MAX_REPS). */
const MIN_TIMED_MS = 3000;
const MAX_REPS = 60;
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

interface WarmMeasurement {
  model: string;
  steps: number;
  sampler: string;
  guidance: number;
  reps: number;
  /** Median of timings.totalMs over the reps: ms per image (batch 1). */
  msPerImage: number;
  totalsMs: number[];
  medianTokenizeMs: number;
  medianTextEncoderMs: number;
  /** Median over reps of the summed denoiser calls (on WebGPU: the time to queue them). */
  medianDenoiserMs: number;
  medianDecodeMs: number;
  medianPipelineOverheadMs: number;
  /** Median over reps of pipelineOverheadMs / totalMs (a median: one rep descheduled by another process skews a sum). */
  overheadFraction: number;
  /** The same without decodeMs (the final read, where WebGPU's queued work is waited for). */
  overheadFractionExcludingFinalRead: number;
  /** WebGPU: median ms of reading one image-sized buffer right after each generation (nothing queued on the GPU). */
  medianIdleReadMs?: number;
  /** WebGPU: median over reps of (pipelineOverheadMs - decodeMs + idle read) / totalMs. */
  overheadFractionWithIdleRead?: number;
}

/** The same generations with pre-allocated output buffers and with ORT's per-call outputs, alternating. */
interface OutputBufferComparison {
  model: string;
  steps: number;
  reps: number;
  pooledMsPerImage: number;
  ortMsPerImage: number;
  pooledTotalsMs: number[];
  ortTotalsMs: number[];
  /** Buffers the pooled pipeline had allocated when the comparison ended (ORT's own: allocated per call). */
  pooledBuffers: number;
}

interface ColdStart {
  model: string;
  fetchMs: number;
  createMs: number;
  firstGenerateMs: number;
  firstImageSteps: number;
  totalMs: number;
}

interface ProviderResult {
  provider: ExecutionProvider;
  status: 'ok' | 'error';
  error?: string;
  /** The teacher's, then the student's (each the first pipeline of its bundle on this provider in the page). */
  coldStarts: ColdStart[];
  warm: WarmMeasurement[];
  teacherVsOneStep?: { teacher: string; teacherSteps: number; teacherMsPerImage: number; oneStepModel: string; oneStepMsPerImage: number; ratio: number };
  /** The adapter ORT's WebGPU provider runs on (its device's adapterInfo). */
  ortAdapter?: Record<string, unknown>;
  /** WebGPU: pre-allocated output buffers against ORT's per-call outputs. */
  outputBuffers?: OutputBufferComparison[];
}

function listOption(name: string, fallback: string): string[] {
  return (options.get(name) ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function stepsOption(): number[] {
  return listOption('steps', '1,2,4').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`option --steps: "${s}" is not a step count`);
    return n;
  });
}

/** A bundle's folder under the app's base: the ones vite.config.ts bundles (virtual:bundled-models), else models/NAME/. */
function bundlePath(name: string): string {
  return bundledModels.find((m) => (m.manifest as { name?: string }).name === name)?.path ?? `models/${name}/`;
}

async function fetchBundle(name: string): Promise<{ bundle: LoadedBundle; ms: number }> {
  const started = performance.now();
  // The dev server (scripts/bench.mjs, the project's vite.config.ts) serves the project root, models/ included.
  const bundle = await loadBundle(fetchSource(new URL(`${import.meta.env.BASE_URL}${bundlePath(name)}`, globalThis.location.href)));
  return { bundle, ms: performance.now() - started };
}

/** The first few-step (schedule 'anchors') text-to-image bundle the app ships, if any. */
function bundledStudent(): string | null {
  const student = bundledModels.find((m) => (m.manifest as { steps?: { schedule?: string } }).steps?.schedule === 'anchors');
  return (student?.manifest as { name?: string } | undefined)?.name ?? null;
}

function summarize(model: string, results: GenerateResult[], idleReads: readonly number[]): WarmMeasurement {
  const t = results.map((r) => r.timings);
  const denoiser = (x: GenerateTimings) => sum(x.denoiserMs);
  const totals = t.map((x) => x.totalMs);
  const { settings } = results[0]!;
  return {
    model,
    steps: settings.steps,
    sampler: settings.sampler,
    guidance: settings.guidance,
    reps: results.length,
    msPerImage: round(median(totals)),
    totalsMs: totals.map((x) => round(x)),
    medianTokenizeMs: round(median(t.map((x) => x.tokenizeMs)), 2),
    medianTextEncoderMs: round(median(t.map((x) => x.textEncoderMs)), 2),
    medianDenoiserMs: round(median(t.map(denoiser))),
    medianDecodeMs: round(median(t.map((x) => x.decodeMs)), 2),
    medianPipelineOverheadMs: round(median(t.map((x) => x.pipelineOverheadMs)), 2),
    overheadFraction: round(median(t.map((x) => x.pipelineOverheadMs / x.totalMs)), 4),
    overheadFractionExcludingFinalRead: round(median(t.map((x) => (x.pipelineOverheadMs - x.decodeMs) / x.totalMs)), 4),
    ...(idleReads.length
      ? {
          medianIdleReadMs: round(median(idleReads), 2),
          overheadFractionWithIdleRead: round(median(t.map((x, i) => (x.pipelineOverheadMs - x.decodeMs + idleReads[i]!) / x.totalMs)), 4),
        }
      : {}),
  };
}

/** The buffers idleRead reads, one per image shape, kept for the page's life. */
let readProbe: Promise<GpuOutputs> | undefined;

/** WebGPU: ms to read one image of `pipeline` back from a GPU buffer on ORT's device, with nothing queued before it. */
async function idleRead(ort: Ort, pipeline: Pipeline): Promise<number> {
  const tensor = (await (readProbe ??= GpuOutputs.create(ort))).tensor('probe', [1, ...pipeline.sampleShape]);
  const started = performance.now();
  await tensor.getData();
  return performance.now() - started;
}

/** The teacher's generations with pooled outputs (`pooled`) against a pipeline whose outputs ORT allocates, alternating. */
async function compareOutputBuffers(ort: Ort, pooled: Pipeline, settings: Settings): Promise<OutputBufferComparison[]> {
  const { bundle } = await fetchBundle(settings.model);
  const baseline = await Pipeline.create(ort, bundle, { provider: 'webgpu', outputBuffers: 'ort' });
  try {
    const { prompt, seed } = settings;
    await baseline.generate({ prompt, seed, steps: 1 }); // its warm-up, as the cold start was the pooled one's
    const rows: OutputBufferComparison[] = [];
    for (const steps of runnableSteps(pooled, settings.steps)) {
      const totals = new Map<Pipeline, number[]>([
        [pooled, []],
        [baseline, []],
      ]);
      for (let r = 0; r < settings.reps; r++) {
        // Alternate which goes first, so a slow moment of a shared machine falls on both.
        for (const pipeline of r % 2 ? [baseline, pooled] : [pooled, baseline]) {
          totals.get(pipeline)!.push((await pipeline.generate({ prompt, seed: seed + r, steps })).timings.totalMs);
          await yieldToBrowser();
        }
      }
      const [pooledTotals, ortTotals] = [totals.get(pooled)!, totals.get(baseline)!];
      const row = {
        model: settings.model,
        steps,
        reps: settings.reps,
        pooledMsPerImage: round(median(pooledTotals)),
        ortMsPerImage: round(median(ortTotals)),
        pooledTotalsMs: pooledTotals.map((x) => round(x)),
        ortTotalsMs: ortTotals.map((x) => round(x)),
        pooledBuffers: pooled.outputBuffersCreated,
      };
      log(`webgpu: ${steps} step${steps > 1 ? 's' : ''}, pre-allocated outputs ${row.pooledMsPerImage} ms vs ORT's per-call outputs ${row.ortMsPerImage} ms`);
      rows.push(row);
    }
    return rows;
  } finally {
    await baseline.release();
  }
}

/**
 * Up to settings.reps generations (at least one; no new one once settings.budgetMs has passed), after an untimed one
 * when asked; and more, up to MAX_REPS, while they have taken less than MIN_TIMED_MS together: a 10 ms wasm image
 * measured 3 times says little about a 1 ms overhead.
 */
async function timeGenerations(ort: Ort, pipeline: Pipeline, steps: number, settings: Settings, untimed: boolean): Promise<WarmMeasurement> {
  const { prompt, seed } = settings;
  if (untimed) await pipeline.generate({ prompt, seed, steps });
  const results: GenerateResult[] = [];
  const idleReads: number[] = [];
  const started = performance.now();
  const more = (r: number) => (r < settings.reps ? r === 0 || performance.now() - started < settings.budgetMs : r < MAX_REPS && performance.now() - started < MIN_TIMED_MS);
  for (let r = 0; more(r); r++) {
    results.push(await pipeline.generate({ prompt, seed: seed + r, steps }));
    if (pipeline.provider === 'webgpu') idleReads.push(await idleRead(ort, pipeline));
    await yieldToBrowser();
  }
  const measured = summarize(pipeline.manifest.name, results, idleReads);
  log(`${pipeline.provider}: ${measured.model} ${steps} ${measured.sampler} steps: ${measured.msPerImage} ms per image (overhead ${(100 * measured.overheadFraction).toFixed(1)}%)`);
  return measured;
}

/** Fetch, Pipeline.create and the first image of a bundle on one provider (1 step, or a few-step model's fewest). */
async function coldStart(ort: Ort, provider: ExecutionProvider, name: string, settings: Settings): Promise<{ pipeline: Pipeline; cold: ColdStart }> {
  log(`${provider}: cold start of ${name}`);
  const started = performance.now();
  const { bundle, ms: fetchMs } = await fetchBundle(name);
  const created = performance.now();
  const pipeline = await Pipeline.create(ort, bundle, { provider });
  const generated = performance.now();
  try {
    const steps = Math.min(...runnableSteps(pipeline, [1, ...Object.keys(pipeline.manifest.steps.sigmas).map(Number)]));
    const first = await pipeline.generate({ prompt: settings.prompt, seed: settings.seed, steps });
    const finished = performance.now();
    if (first.provider !== provider) throw new Error(`the pipeline ran on ${first.provider}, not ${provider}`);
    const cold = { model: name, fetchMs: round(fetchMs), createMs: round(generated - created), firstGenerateMs: round(finished - generated), firstImageSteps: steps, totalMs: round(finished - started) };
    log(`${provider}: first image of ${name} after ${cold.totalMs} ms (fetch ${cold.fetchMs}, sessions ${cold.createMs}, first generate ${cold.firstGenerateMs})`);
    return { pipeline, cold };
  } catch (error) {
    await pipeline.release().catch(() => undefined);
    throw error;
  }
}

/** The step counts of `settings.steps` a bundle runs at (a few-step model only at the counts its manifest lists). */
function runnableSteps(pipeline: Pipeline, steps: readonly number[]): number[] {
  const { schedule, sigmas } = pipeline.manifest.steps;
  return schedule === 'anchors' ? steps.filter((n) => sigmas[String(n)]) : [...steps];
}

async function measureProvider(ort: Ort, provider: ExecutionProvider, settings: Settings): Promise<ProviderResult> {
  const result: ProviderResult = { provider, status: 'ok', coldStarts: [], warm: [] };
  const pipelines: Pipeline[] = [];
  try {
    const teacher = await coldStart(ort, provider, settings.model, settings);
    pipelines.push(teacher.pipeline);
    result.coldStarts.push(teacher.cold);
    if (provider === 'webgpu') {
      const device = (await ort.env.webgpu.device) as GPUDevice & { adapterInfo?: GPUAdapterInfo };
      const info = device.adapterInfo;
      if (info) result.ortAdapter = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description };
    }
    // The cold start's generate compiled every kernel and sized every buffer (batch 1): no untimed run is needed.
    for (const steps of runnableSteps(teacher.pipeline, settings.steps)) result.warm.push(await timeGenerations(ort, teacher.pipeline, steps, settings, false));
    if (provider === 'webgpu') result.outputBuffers = await compareOutputBuffers(ort, teacher.pipeline, settings);
    const teacherRun =
      result.warm.find((w) => w.steps === settings.teacherSteps) ?? (await timeGenerations(ort, teacher.pipeline, settings.teacherSteps, settings, false));
    if (!result.warm.includes(teacherRun)) result.warm.push(teacherRun);

    let oneStep = result.warm.find((w) => w.steps === 1);
    if (settings.student) {
      const student = await coldStart(ort, provider, settings.student, settings);
      pipelines.push(student.pipeline);
      result.coldStarts.push(student.cold);
      const studentRuns: WarmMeasurement[] = [];
      for (const steps of runnableSteps(student.pipeline, settings.steps)) studentRuns.push(await timeGenerations(ort, student.pipeline, steps, settings, false));
      result.warm.push(...studentRuns);
      oneStep = studentRuns.find((w) => w.steps === 1) ?? (await timeGenerations(ort, student.pipeline, 1, settings, false));
      if (!result.warm.includes(oneStep)) result.warm.push(oneStep);
    }
    oneStep ??= await timeGenerations(ort, teacher.pipeline, 1, settings, false);
    result.teacherVsOneStep = {
      teacher: settings.model,
      teacherSteps: settings.teacherSteps,
      teacherMsPerImage: teacherRun.msPerImage,
      oneStepModel: oneStep.model,
      oneStepMsPerImage: oneStep.msPerImage,
      ratio: round(teacherRun.msPerImage / oneStep.msPerImage, 2),
    };
  } catch (error) {
    result.status = 'error';
    result.error = errorMessage(error);
    log(`${provider}: ${result.error}`);
  } finally {
    for (const pipeline of pipelines) await pipeline.release().catch(() => undefined);
  }
  return result;
}

interface Settings {
  model: string;
  student: string | null;
  providers: ExecutionProvider[];
  steps: number[];
  teacherSteps: number;
  reps: number;
  /** No further repetition of one measurement starts after this long (the first always runs). */
  budgetMs: number;
  seed: number;
  prompt: string;
}

async function adapterReport(): Promise<Record<string, unknown>> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { available: false, reason: 'no navigator.gpu' };
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { available: false, reason: 'requestAdapter() returned null' };
  return { available: true, ...describeAdapter(adapter, 'browser') };
}

runSuite('generate', async () => {
  const benchStarted = performance.now();
  const providers = listOption('providers', 'webgpu,wasm');
  for (const p of providers) if (p !== 'webgpu' && p !== 'wasm') throw new Error(`option --providers: "${p}" is not webgpu or wasm`);
  const settings: Settings = {
    model: options.get('model') ?? 'shapes-teacher',
    student: options.get('student') === 'none' ? null : (options.get('student') ?? bundledStudent()),
    providers: providers as ExecutionProvider[],
    steps: stepsOption(),
    teacherSteps: numberOption('teacher-steps', 50),
    reps: numberOption('reps', 3),
    budgetMs: numberOption('budget-ms', 60_000),
    seed: numberOption('seed', 7),
    prompt: options.get('prompt') ?? 'a red circle at the top left and a blue square on a green background',
  };
  const adapter = await adapterReport();

  const ort = (await loadOrt()) as unknown as Ort;
  ort.env.logLevel = 'warning';
  // ORT's wasm runtime is shared by both providers; load it once, before either cold start.
  const runtimeStarted = performance.now();
  const probe = await ort.InferenceSession.create(matmulModel([1, 1], [1, 1], [1, 1]), { executionProviders: ['wasm'] });
  await probe.release();
  const ortRuntimeInitMs = round(performance.now() - runtimeStarted);
  log(`ORT runtime loaded in ${ortRuntimeInitMs} ms (wasm threads: ${ort.env.wasm.numThreads ?? 'default'}, crossOriginIsolated: ${globalThis.crossOriginIsolated})`);

  const results: ProviderResult[] = [];
  for (const provider of settings.providers) results.push(await measureProvider(ort, provider, settings));

  const failures = results.filter((r) => r.status === 'error').map((r) => `${r.provider}: ${r.error}`);
  const rows: BenchTable['rows'] = [];
  for (const r of results) {
    if (r.status === 'error') {
      rows.push([r.provider, 'error', null, null, null, null, null]);
      continue;
    }
    for (const c of r.coldStarts) rows.push([r.provider, `${c.model}: cold start to first image (${c.firstImageSteps} step)`, c.totalMs, null, null, null, null]);
    for (const w of r.warm) {
      const overheadWithIdleRead = w.overheadFractionWithIdleRead === undefined ? null : round(100 * w.overheadFractionWithIdleRead, 1);
      rows.push([r.provider, `${w.model} ${w.steps} ${w.sampler} step${w.steps > 1 ? 's' : ''}, guidance ${w.guidance}`, w.msPerImage, round(100 * w.overheadFraction, 1), round(100 * w.overheadFractionExcludingFinalRead, 1), overheadWithIdleRead, null]);
    }
    for (const c of r.outputBuffers ?? []) {
      rows.push([r.provider, `${c.model} ${c.steps} step${c.steps > 1 ? 's' : ''}: ORT's per-call outputs (pre-allocated: row above)`, c.ortMsPerImage, null, null, null, null]);
      rows.push([r.provider, `${c.model} ${c.steps} step${c.steps > 1 ? 's' : ''}: pre-allocated outputs, same run, alternating`, c.pooledMsPerImage, null, null, null, null]);
    }
    const ratio = r.teacherVsOneStep!;
    rows.push([r.provider, `${ratio.teacher} ${ratio.teacherSteps} steps / ${ratio.oneStepModel} 1 step`, null, null, null, null, ratio.ratio]);
  }
  const table: BenchTable = {
    title: `Generate (${settings.model}, batch 1, medians of ${settings.reps} or more; adapter ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ') || 'none'})`,
    columns: ['provider', 'measurement', 'ms per image', 'overhead %', 'overhead % w/o read', 'overhead % with idle read', 'ratio'],
    rows,
  };
  return {
    adapter,
    ortVersion: ort.env.versions.web ?? __ORT_VERSION__,
    ortWasm: { numThreads: ort.env.wasm.numThreads ?? null, crossOriginIsolated: globalThis.crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency },
    ortRuntimeInitMs,
    settings,
    method:
      'Per provider and model: cold start = fetch+verify bundle, Pipeline.create, first 1-step generate (ORT runtime loaded beforehand, ortRuntimeInitMs); ' +
      'warm = up to `reps` timed generates per step count (batch 1, consecutive seeds; none started after budgetMs), medians of GenerateTimings.totalMs; ' +
      'overhead = median over reps of pipelineOverheadMs/totalMs (on WebGPU this includes waiting for the GPU in the final read; overheadFractionExcludingFinalRead leaves decodeMs out; overheadFractionWithIdleRead puts an image-sized read timed with the GPU idle in its place); ' +
      'outputBuffers (WebGPU) = the teacher with pre-allocated outputs vs a pipeline with ORT-allocated outputs, generations alternating, medians; ' +
      'teacherVsOneStep.ratio = median ms at teacher-steps / median ms of the 1-step model.',
    providers: results,
    failures,
    benchMs: round(performance.now() - benchStarted),
    table,
  };
});
