// The generation worker: ONNX Runtime, the model bundles and the OPFS model cache live here, so the page stays
// responsive while a model loads or denoises. The page picks the execution provider (it knows whether WebGPU is
// available and whether the user forced wasm) and the worker runs exactly that one: a pipeline never falls back.
// Pipelines are kept per (model, provider), the few most recently used, so a second generation skips loading.
import * as Comlink from 'comlink';
import { toRGBA } from '../data/render';
import { type BundleSource, fetchSource, isInferenceFile, loadBundle } from '../pipeline/bundle';
import { type ExecutionProvider, type GenerateRequest, Pipeline } from '../pipeline/generate';
import { abortError } from '../pipeline/generateSampler';
import { folderName, readDirectoryHandle, readFileList } from '../pipeline/localFolder';
import { BundleError, MANIFEST_FILE, parseManifest } from '../pipeline/manifest';
import { type CachedModel, type ModelCache, openModelCache } from '../pipeline/modelCache';
import { loadOrt } from '../pipeline/ort';
import { encodePngWithSettings } from '../pipeline/pngMeta';
import { storageUse } from '../pipeline/storage';
import type { Ort } from '../onnx/exportOrt';
import { type CacheProgress, type CachedModelInfo, type GenerateEvent, type GenerateWorkerApi, type ModelRef, modelKey, type WorkerGenerateResult } from './generateApi';

/** Pipelines kept alive: enough for a teacher and a student on one provider, plus one more. */
const KEPT_PIPELINES = 3;

let ortModule: Promise<Ort> | undefined;
function ort(): Promise<Ort> {
  ortModule ??= loadOrt().then((module) => {
    // Multi-threaded wasm needs cross-origin isolation, which this app does not ask for.
    module.env.wasm.numThreads = 1;
    return module as unknown as Ort;
  });
  return ortModule;
}

let cacheOpened: Promise<ModelCache> | undefined;
function cache(): Promise<ModelCache> {
  cacheOpened ??= openModelCache().catch((error: unknown) => {
    cacheOpened = undefined;
    throw error;
  });
  return cacheOpened;
}

const pipelines = new Map<string, Promise<Pipeline>>();

function dropPipeline(key: string): void {
  const pipeline = pipelines.get(key);
  pipelines.delete(key);
  void pipeline?.then((p) => p.release()).catch(() => undefined);
}

async function sourceOf(model: ModelRef): Promise<BundleSource> {
  return model.source === 'bundled' ? fetchSource(new URL(model.url, globalThis.location.href)) : (await cache()).source(model.name);
}

/** The pipeline of a model on a provider: kept, or loaded now (reporting progress); null `loadMs` when kept. */
async function pipelineFor(model: ModelRef, provider: ExecutionProvider, report: (event: GenerateEvent) => void): Promise<{ pipeline: Pipeline; loadMs: number | null }> {
  const key = `${modelKey(model)}|${provider}`;
  const kept = pipelines.get(key);
  if (kept) {
    // Most recently used last.
    pipelines.delete(key);
    pipelines.set(key, kept);
    return { pipeline: await kept, loadMs: null };
  }
  const started = performance.now();
  const loading = (async () => {
    report({ type: 'loading', what: `Loading ${model.name}` });
    // The training checkpoints stay unread: inference runs the ONNX files.
    const bundle = await loadBundle(await sourceOf(model), { only: isInferenceFile, onProgress: (progress) => report({ type: 'loading', what: `Loading ${model.name}`, progress }) });
    report({ type: 'loading', what: `Starting ${model.name} on ${provider === 'webgpu' ? 'WebGPU' : 'wasm'}` });
    const pipeline = await Pipeline.create(await ort(), bundle, { provider });
    // The first run on WebGPU compiles its shaders: pay for it here, not in the first image's timings.
    report({ type: 'loading', what: `Warming up ${model.name} on ${provider === 'webgpu' ? 'WebGPU' : 'wasm'}` });
    await pipeline.warmUp();
    return pipeline;
  })();
  pipelines.set(key, loading);
  loading.catch(() => {
    if (pipelines.get(key) === loading) pipelines.delete(key);
  });
  while (pipelines.size > KEPT_PIPELINES) dropPipeline(pipelines.keys().next().value!);
  return { pipeline: await loading, loadMs: performance.now() - started };
}

/** Rejects as soon as `signal` aborts (the work itself goes on: a loading pipeline is kept for the next request). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) reject(abortError(signal.reason));
    const onAbort = () => reject(abortError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const jobs = new Map<number, AbortController>();

function describeCached(model: CachedModel): CachedModelInfo {
  return { name: model.name, manifest: model.manifest, ...(model.problem ? { problem: model.problem } : {}), bytes: model.bytes, files: model.files, cachedAt: model.cachedAt };
}

/** Drops the kept pipelines of a cached model (it was replaced or deleted). */
function forgetCached(name: string): void {
  for (const key of [...pipelines.keys()]) if (key.startsWith(`${modelKey({ source: 'cached', name })}|`)) dropPipeline(key);
}

/** Checks a bundle's files against its manifest (every listed file present), then caches them under `name`. */
async function cacheFiles(files: Map<string, Uint8Array>, where: string, name: string | null, onProgress?: (progress: CacheProgress) => void): Promise<CachedModelInfo> {
  const manifestFile = files.get(MANIFEST_FILE);
  if (!manifestFile) throw new BundleError(MANIFEST_FILE, null, `is missing: ${where} is not a model bundle`);

  const manifest = parseManifest(manifestFile);
  for (const entry of manifest.files) {
    if (!files.has(entry.path)) throw new BundleError(entry.path, null, `is missing from ${where} (listed in ${MANIFEST_FILE} files)`);
  }
  const total = manifest.files.reduce((n, f) => n + f.bytes, 0);
  void onProgress?.({ phase: 'reading', progress: { path: MANIFEST_FILE, loadedFiles: manifest.files.length, totalFiles: manifest.files.length, loadedBytes: total, totalBytes: total } });
  const target = name ?? manifest.name;
  forgetCached(target);
  const cached = await (await cache()).put(target, files, manifestFile, { onProgress: (progress) => void onProgress?.({ phase: 'writing', progress }) });
  return describeCached(cached);
}

const api: GenerateWorkerApi = {
  async generate(jobId, model, provider, request: GenerateRequest, onEvent) {
    const controller = new AbortController();
    jobs.set(jobId, controller);
    const report = (event: GenerateEvent) => void onEvent?.(event);
    try {
      const { pipeline, loadMs } = await untilAborted(pipelineFor(model, provider, report), controller.signal);
      const result = await pipeline.generate(
        { ...request, previews: true },
        {
          signal: controller.signal,
          onStep: (step) => {
            // Previews come from pixel-space models only, whose sample is the image (not latents, not points).
            const [channels, height, width] = pipeline.sampleShape;
            const previews = step.previews?.map((chw) => toRGBA(chw, channels, width, height));
            report({ type: 'step', step: step.step, steps: step.steps, ms: step.ms, ...(previews ? { previews, width, height } : { width: 0, height: 0 }) });
            // Back to the event loop between steps, so a cancel (a message) can arrive: ORT's wasm runs resolve as
            // microtasks, which would otherwise keep this worker from reading its messages until the last step.
            return new Promise<void>((resolve) => setTimeout(resolve, 0));
          },
        },
      );
      const { settings } = result;
      const images = result.images.map((image) => {
        const [channels, height, width] = pipeline.sampleShape;
        const png = encodePngWithSettings(
          { width: image.width, height: image.height, data: image.rgba },
          { prompt: settings.prompt, seed: image.seed, steps: settings.steps, sampler: settings.sampler, guidance: settings.guidance, model: result.model.name, modelSha256: result.model.sha256 },
          { Software: 'senseflow-web' },
        );
        return { seed: image.seed, width: image.width, height: image.height, rgba: image.rgba, png, previews: image.previews.map((chw) => toRGBA(chw, channels, width, height)) };
      });
      const answer: WorkerGenerateResult = { images, settings, provider: result.provider, model: result.model, timings: result.timings, loadMs };
      return Comlink.transfer(answer, images.flatMap((i) => [i.rgba.buffer, i.png.buffer as ArrayBuffer, ...i.previews.map((p) => p.buffer)]));
    } finally {
      jobs.delete(jobId);
      // The page's callback arrived as a Comlink proxy: let it go with the job.
      (onEvent as unknown as Comlink.Remote<(event: GenerateEvent) => void> | undefined)?.[Comlink.releaseProxy]();
    }
  },

  cancel(jobId) {
    jobs.get(jobId)?.abort(abortError('cancelled'));
  },

  async listCached() {
    return (await (await cache()).list()).map(describeCached);
  },

  async cacheFromUrl(url, name, onProgress) {
    const source = fetchSource(new URL(url, globalThis.location.href));
    // Keep manifest.json's bytes as they were served (the cache stores it verbatim).
    let manifestBytes: Uint8Array | undefined;
    const recording: BundleSource = {
      description: source.description,
      read: async (path) => {
        const bytes = await source.read(path);
        if (path === MANIFEST_FILE) manifestBytes = bytes;
        return bytes;
      },
    };
    const bundle = await loadBundle(recording, { onProgress: (progress) => void onProgress?.({ phase: 'reading', progress }) });
    const target = name ?? bundle.manifest.name;
    forgetCached(target);
    const cached = await (await cache()).put(target, bundle.files, manifestBytes ?? bundle.manifest, { onProgress: (progress) => void onProgress?.({ phase: 'writing', progress }) });
    return describeCached(cached);
  },

  async cacheFromFolder(folder, name, onProgress) {
    const files = Array.isArray(folder) ? await readFileList(folder) : await readDirectoryHandle(folder);
    const where = Array.isArray(folder) ? `the folder ${folderName(folder) ?? ''}`.trim() : `the folder ${folder.name}`;
    return cacheFiles(files, where, name, onProgress);
  },

  cacheFromFiles(files, name, onProgress) {
    return cacheFiles(files, 'the exported student', name, onProgress);
  },

  async deleteCached(name) {
    forgetCached(name);
    return (await cache()).delete(name);
  },

  storageUse: () => storageUse(),
};

Comlink.expose(api);

