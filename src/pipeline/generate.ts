// The inference pipeline: a loaded model bundle (bundle.ts) as text-to-image generation on ONE execution provider,
// the same code in the app's Worker and in the Node CLIs (no DOM). Label-conditioned bundles of 2D points (the toy
// teachers and their students) run through it too: the prompt names a label and each image is a scatter of points
// (generatePoints.ts).
//
//   const pipeline = await Pipeline.create(ort, await loadBundle(source), { provider: 'webgpu' });
//   const result = await pipeline.generate({ prompt: 'a red circle on a blue background', seed: 7, steps: 4 }, { signal });
//
// - Provider: every ORT session (text encoder, denoiser, step graphs, decoder) is created with exactly the one
//   provider asked for, never a list ORT could fall back along silently; the result names it. Where WebGPU is
//   missing (webGpuAvailability()), the caller creates a 'wasm' pipeline and says so.
// - Prompt: transformers.js' AutoTokenizer over the bundle's tokenizer files (from the bundle's bytes; nothing
//   remote), then the bundle's text encoder as an ORT session (generateText.ts).
// - Sampling (generatePlan.ts, generateSampler.ts): Euler (the teacher's sampler, with classifier-free guidance when
//   guidance != 1: text and empty-caption rows in one batched denoiser call) or SenseFlow's x0-renoise at the anchors
//   (few-step students), for flow bundles, and the same two for epsilon-prediction bundles. N images from seeds
//   seed .. seed + N - 1 in one denoiser call per step; the noise is drawn on the host (noise.ts), so a seed gives the
//   same image in Node and in the browser. generateEach batches images of DIFFERENT prompts and seeds the same way (an
//   evaluation's captions): image i of a batch is the image its (prompt, seed) gives alone.
// - WebGPU: session outputs stay in GPU buffers (preferredOutputLocation 'gpu-buffer') from the text encoder to
//   the last step; the final image (and the per-step x0 previews, when asked) are the only reads. The denoiser and
//   the step graph write into buffers allocated once per shape (generateBuffers.ts), not fresh ones per call.
// - One generation at a time per pipeline (a second call waits); AbortSignal checked between steps (rejects with
//   an AbortError, the pipeline stays usable); LatestWins (generateLatest.ts) for "a new prompt replaces the old".
import { toRGBA } from '../data/render';
import type { Ort } from '../onnx/exportOrt';
import type { LoadedBundle } from './bundle';
import { BundleError, type Manifest } from './manifest';
import { levelsFor, planSampler, SAMPLER_NAMES, type SamplerName } from './generatePlan';
import { type DenoiseCall, runSampler, type StepReport, throwIfAborted } from './generateSampler';
import { createSession, type OrtSession, type SessionOptions } from './generateSession';
import { GpuOutputs } from './generateBuffers';
import { affineGraphModel, HostSteps, type StepRunner, StepGraphs } from './generateStepGraph';
import { DEFAULT_POINT_COUNT, isPointsModel, LabelConditioner, labelIndex, MAX_POINT_COUNT, pointsPicture, pointsSampleShape, reshapeOnHost } from './generatePoints';
import { type EncodedText, inputType, numberTensor, TextConditioner, withExternalData } from './generateText';
import { imageSeed, isSeed } from './noise';

export { LatestWins } from './generateLatest';
export { abortError } from './generateSampler';
export { DEFAULT_POINT_COUNT, isPointsModel, MAX_POINT_COUNT } from './generatePoints';
export type { SamplerName, StepReport };

type OrtTensor = InstanceType<Ort['Tensor']>;

export type ExecutionProvider = 'webgpu' | 'wasm';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['webgpu', 'wasm'];

/** Most images one call makes (one denoiser batch; twice that many rows with guidance). */
export const MAX_BATCH = 64;

export interface PipelineOptions {
  provider: ExecutionProvider;
  /**
   * WebGPU image models: 'pooled' (default) has the denoiser and the step graphs write into buffers allocated once
   * per shape (generateBuffers.ts); 'ort' lets ORT allocate every output per call (the bench's baseline).
   */
  outputBuffers?: 'pooled' | 'ort';
}

export interface GenerateRequest {
  /** The text; for a points bundle, the name of a label (empty: label 0, the unconditional one). */
  prompt: string;
  /** Integer in [0, 2^32): image b of the batch uses seed + b. */
  seed: number;
  /** Default: the manifest's steps.default. A few-step model runs only at its listed step counts. */
  steps?: number;
  /** Default: 'x0' (x0-renoise) for a few-step model (schedule 'anchors'), 'euler' for a teacher. */
  sampler?: SamplerName;
  /** Classifier-free guidance weight; 1 = none (one denoiser row per image). Default: the manifest's. */
  guidance?: number;
  /** Images, from seeds seed .. seed + batch - 1. Default 1. */
  batch?: number;
  /** Read back each step's x0 estimate (StepReport.previews, GeneratedImage.previews; pixel-space models only). */
  previews?: boolean;
  /** Points per image (points bundles only). Default DEFAULT_POINT_COUNT. */
  points?: number;
}

export interface GenerateOptions {
  signal?: AbortSignal;
  /**
   * After every step (with the previews when asked for). When it returns a promise the next step waits for it: in a
   * Worker on the wasm provider every await of a step resolves without returning to the event loop, so a Worker that
   * must hear "cancel" between steps returns a macrotask here (e.g. a setTimeout 0).
   */
  onStep?: (report: StepReport) => void | Promise<void>;
}

/** One image of a generateEach batch: its own prompt and seed. */
export interface ImageRequest {
  prompt: string;
  /** Integer in [0, 2^32). */
  seed: number;
}

/** The settings generateEach's images share: a GenerateRequest without the per-image prompt and seed. */
export type SharedRequest = Omit<GenerateRequest, 'prompt' | 'seed' | 'batch'>;

/** The request with every default filled in: what reproduces the images (and what a PNG's text chunks hold). */
export interface GenerateSettings {
  /** As asked; for a points bundle, the label's name as the manifest spells it. generateEach: the first image's. */
  prompt: string;
  /** generateEach: the first image's (each GeneratedImage has its own). */
  seed: number;
  steps: number;
  sampler: SamplerName;
  guidance: number;
  batch: number;
  /** The noise levels the denoiser ran at (flow s, or epsilon timesteps). */
  levels: number[];
  /** Points per image (points bundles only). */
  points?: number;
}

export interface GeneratedImage {
  /** The image's prompt, resolved as GenerateSettings.prompt is. */
  prompt: string;
  seed: number;
  width: number;
  height: number;
  channels: number;
  /** [channels, height, width], float in [-1, 1] (not clamped). */
  chw: Float32Array;
  /** width x height RGBA, row-major, alpha 255. */
  rgba: Uint8ClampedArray;
  /** Each step's x0 estimate (CHW), when previews were asked for. */
  previews: Float32Array[];
  /** A points bundle's sample, [points, dims], of which the image is the scatter. */
  points?: Float32Array;
}

export interface GenerateTimings {
  tokenizeMs: number;
  textEncoderMs: number;
  /** Per step: denoiser, update and preview reads. */
  stepMs: number[];
  /** Per step: the denoiser call alone. On WebGPU, ORT returns once the work is queued, so the GPU time shows up in decodeMs. */
  denoiserMs: number[];
  /** From the last step to the RGBA bytes: decoder (latent models), the read back, the conversion. */
  decodeMs: number;
  totalMs: number;
  /** totalMs minus the model calls (text encoder, denoiser, decoder): tokenizing, noise, updates, reads, conversion. */
  pipelineOverheadMs: number;
}

export interface GenerateResult {
  images: GeneratedImage[];
  settings: GenerateSettings;
  /** The execution provider every session ran on. */
  provider: ExecutionProvider;
  model: { name: string; sha256: string };
  timings: GenerateTimings;
}

/** Whether this context can run the WebGPU provider, and why not. */
export async function webGpuAvailability(): Promise<{ available: true } | { available: false; reason: string }> {
  const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
  if (!gpu) return { available: false, reason: 'this context has no navigator.gpu (no WebGPU: an older browser, an insecure context, or Node)' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, reason: 'navigator.gpu.requestAdapter() found no adapter' };
  } catch (error) {
    return { available: false, reason: `requesting a WebGPU adapter failed: ${(error as Error).message}` };
  }
  return { available: true };
}

/** The sha256 of a bundle's denoiser ONNX file, as its manifest lists it (the model's identity in PNG metadata). */
export function denoiserSha256(manifest: Manifest): string {
  const entry = manifest.files.find((f) => f.path === manifest.denoiser.onnx);
  if (!entry) throw new BundleError('manifest.json', 'denoiser.onnx', `names "${manifest.denoiser.onnx}", which is not in files`);
  return entry.sha256;
}

/** `hostOutputs`: every output comes back to the host, also on WebGPU (points: tiny, and reshaped between calls). */
function sessionOptionsFor(provider: ExecutionProvider, hostOutputs: boolean): SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    ...(provider === 'webgpu' && !hostOutputs ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
  };
}

/** The prompt side of a generation: text through the text encoder, or a label's name (generatePoints.ts). */
interface Conditioner {
  /** The denoiser's conditioning feeds for `prompts`, each one repeated over `rowsPerPrompt` denoiser rows. */
  encode(prompts: readonly string[], rowsPerPrompt: number): Promise<EncodedText>;
  release(): Promise<void>;
}

/** Which bundles the pipeline runs: text-conditioned images, and label-conditioned 2D points. */
function checkRunnable(manifest: Manifest): void {
  const { conditioning, space } = manifest;
  if (isPointsModel(manifest)) {
    if (space.type === 'points' && space.dims !== 2) throw new BundleError('manifest.json', 'space.dims', `is ${space.dims}: the pipeline draws 2D points`);
    return;
  }
  if (conditioning !== 'text') throw new BundleError('manifest.json', 'conditioning', `is "${conditioning}" for ${space.type} space: the pipeline runs label-conditioned models of 2D points, and images from text prompts`);
  if (space.type === 'points') throw new BundleError('manifest.json', 'space', 'is "points" with text conditioning: the pipeline draws points for a label, and generates images (pixel or latent space) from text');
}

/** [channels, height, width] of the denoiser's sample: the pixels, or the latent (from the ONNX input when it is static). */
function sampleShape(manifest: Manifest, denoiser: OrtSession): [number, number, number] {
  const { space, resolution } = manifest;
  if (space.type === 'points' || !resolution) throw new BundleError('manifest.json', 'space', `is "${space.type}": the pipeline generates images (pixel or latent space)`);
  if (space.type === 'pixel') return [space.channels, resolution.height, resolution.width];
  const meta = denoiser.inputMetadata?.find((m) => m.name === manifest.denoiser.inputs.sample);
  const dims = meta && meta.isTensor ? meta.shape.slice(-2) : [];
  if (dims.length === 2 && dims.every((d) => typeof d === 'number' && d > 0)) return [space.channels, dims[0] as number, dims[1] as number];
  // A dynamic latent size: the usual VAE's factor of 8.
  return [space.channels, Math.round(resolution.height / 8), Math.round(resolution.width / 8)];
}

export class Pipeline {
  readonly modelSha256: string;
  private tail: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(
    private readonly ort: Ort,
    readonly manifest: Manifest,
    readonly provider: ExecutionProvider,
    private readonly conditioner: Conditioner,
    private readonly denoiser: OrtSession,
    private readonly stepGraphs: StepRunner,
    private readonly decoder: { session: OrtSession; affine: OrtSession } | null,
    /** [channels, height, width] of the denoised sample (a points bundle: [DEFAULT_POINT_COUNT, 2, 1]). */
    readonly sampleShape: readonly [number, number, number],
    /** Whether the bundle draws 2D points for a label. */
    readonly drawsPoints: boolean,
    /** WebGPU image models: the pre-allocated outputs of the denoiser and the step graphs. */
    private readonly outputs: GpuOutputs | null,
  ) {
    this.modelSha256 = denoiserSha256(manifest);
  }

  /**
   * A pipeline over a loaded (verified) bundle on one execution provider. `ort` is the onnxruntime-web module the
   * caller loaded: 'onnxruntime-web/webgpu' in the browser (pipeline/ort.ts loadOrt), 'onnxruntime-web' in Node.
   * Rejects when the provider cannot start (ORT's own message), or when the bundle is neither a text-to-image model
   * nor a label-conditioned model of 2D points.
   */
  static async create(ort: Ort, bundle: LoadedBundle, options: PipelineOptions): Promise<Pipeline> {
    const { provider } = options;
    if (!EXECUTION_PROVIDERS.includes(provider)) throw new Error(`provider must be one of ${EXECUTION_PROVIDERS.join(', ')}, got ${JSON.stringify(provider)}`);
    const { manifest, files } = bundle;
    checkRunnable(manifest);
    const drawsPoints = isPointsModel(manifest);
    const sessionOptions = sessionOptionsFor(provider, drawsPoints);
    const sessions: { release(): Promise<void> }[] = [];
    const open = async (path: string, externalData?: string[]) => {
      const session = await createSession(ort, files.get(path)!, withExternalData(sessionOptions, bundle, path, externalData));
      sessions.push(session);
      return session;
    };
    // Where every tensor comes back to the host (wasm; points), the update runs there too: one ORT call less per step.
    const stepGraphs: StepRunner = provider === 'wasm' || drawsPoints ? new HostSteps(ort) : new StepGraphs(ort, sessionOptions);
    try {
      const denoiser = await open(manifest.denoiser.onnx, manifest.denoiser.externalData);
      const sampleType = inputType(denoiser, manifest.denoiser.inputs.sample);
      if (sampleType !== 'float32') throw new BundleError(manifest.denoiser.onnx, 'denoiser.inputs.sample', `is ${sampleType}; the pipeline runs float32 denoisers`);
      const shape = drawsPoints ? pointsSampleShape(DEFAULT_POINT_COUNT, 2) : sampleShape(manifest, denoiser);
      const conditioner: Conditioner = drawsPoints
        ? new LabelConditioner(ort, manifest, inputType(denoiser, manifest.denoiser.inputs.label!))
        : await TextConditioner.create(ort, bundle, sessionOptions, (name) => inputType(denoiser, name));
      sessions.push(conditioner);
      let decoder: { session: OrtSession; affine: OrtSession } | null = null;
      if (manifest.space.type === 'latent') {
        if (!manifest.decoder) throw new BundleError('manifest.json', 'decoder', 'is missing (required for latent space)');
        decoder = { session: await open(manifest.decoder.onnx, manifest.decoder.externalData), affine: await createSession(ort, affineGraphModel(), sessionOptions) };
        sessions.push(decoder.affine);
      }
      await stepGraphs.prepare([false, true].flatMap((guided) => [false, true].map((renoise) => ({ guided, renoise }))));
      // Points are reshaped on the host between calls (generatePoints.ts), so only image models keep GPU outputs.
      const outputs = provider === 'webgpu' && !drawsPoints && options.outputBuffers !== 'ort' ? await GpuOutputs.create(ort) : null;
      return new Pipeline(ort, manifest, provider, conditioner, denoiser, stepGraphs, decoder, shape, drawsPoints, outputs);
    } catch (error) {
      await Promise.all(sessions.map((s) => s.release().catch(() => undefined)));
      await stepGraphs.release();
      throw error;
    }
  }

  /** WebGPU image models: the output buffers allocated so far (unchanged by a generation of a shape seen before); else 0. */
  get outputBuffersCreated(): number {
    return this.outputs?.created ?? 0;
  }

  /** The request with the bundle's defaults filled in; throws an Error naming the bad setting. */
  resolve(request: GenerateRequest): GenerateSettings {
    const { manifest } = this;
    if (typeof request.prompt !== 'string') throw new Error('prompt must be a string');
    if (!isSeed(request.seed)) throw new Error(`seed must be an integer in [0, 2^32), got ${request.seed}`);
    const steps = request.steps ?? manifest.steps.default;
    const sampler = request.sampler ?? (manifest.steps.schedule === 'anchors' ? 'x0' : 'euler');
    if (!SAMPLER_NAMES.includes(sampler)) throw new Error(`sampler must be one of ${SAMPLER_NAMES.join(', ')}, got ${JSON.stringify(sampler)}`);
    const guidance = request.guidance ?? manifest.guidance.default;
    if (!(Number.isFinite(guidance) && guidance >= 0)) throw new Error(`guidance must be a number >= 0, got ${guidance}`);
    const batch = request.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new Error(`batch must be an integer from 1 to ${MAX_BATCH}, got ${batch}`);
    const settings: GenerateSettings = { prompt: request.prompt, seed: request.seed, steps, sampler, guidance, batch, levels: levelsFor(manifest, steps) };
    if (!this.drawsPoints) {
      if (request.points !== undefined) throw new Error(`points is a setting of models that draw points; ${manifest.name} generates images`);
      return settings;
    }
    const points = request.points ?? DEFAULT_POINT_COUNT;
    if (!Number.isInteger(points) || points < 1 || points > MAX_POINT_COUNT) throw new Error(`points must be an integer from 1 to ${MAX_POINT_COUNT}, got ${points}`);
    return { ...settings, prompt: this.resolvePrompt(request.prompt), points };
  }

  /** A prompt as the images name it (a points bundle's label as the manifest spells it); throws for an unknown label. */
  private resolvePrompt(prompt: string): string {
    if (typeof prompt !== 'string') throw new Error('prompt must be a string');
    return this.drawsPoints ? this.manifest.labels![labelIndex(this.manifest, prompt)]! : prompt;
  }

  /** Generates `batch` images; one generation runs at a time (a second call waits for the first). */
  generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    return this.queue(() => {
      const settings = this.resolve(request);
      const items = Array.from({ length: settings.batch }, (_, b) => ({ prompt: settings.prompt, seed: imageSeed(settings.seed, b) }));
      return this.generateNow(items, settings, request.previews ?? false, options);
    });
  }

  /**
   * One batch of images with their own prompts and seeds (at most MAX_BATCH), sharing steps, sampler, guidance:
   * one text-encoder call and one denoiser call per step for all of them. images[i] is the image `items[i]` gives
   * alone (generate with that prompt and seed), to float rounding.
   */
  generateEach(items: readonly ImageRequest[], request: SharedRequest = {}, options: GenerateOptions = {}): Promise<GenerateResult> {
    return this.queue(() => {
      if (!Array.isArray(items) || items.length < 1 || items.length > MAX_BATCH) throw new Error(`generateEach takes 1 to ${MAX_BATCH} images, got ${Array.isArray(items) ? items.length : typeof items}`);
      const settings = this.resolve({ ...request, prompt: items[0]!.prompt, seed: items[0]!.seed, batch: items.length });
      const resolved = items.map((item, i) => {
        if (!isSeed(item.seed)) throw new Error(`image ${i}: seed must be an integer in [0, 2^32), got ${item.seed}`);
        try {
          return { prompt: this.resolvePrompt(item.prompt), seed: item.seed };
        } catch (error) {
          throw new Error(`image ${i}: ${(error as Error).message}`);
        }
      });
      return this.generateNow(resolved, settings, request.previews ?? false, options);
    });
  }

  /** Runs `work` after the generation before it (one at a time per pipeline). */
  private queue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** One small generation so the first real one does not pay for shader compilation (WebGPU) and session warm-up. */
  async warmUp(): Promise<void> {
    await this.generate({ prompt: '', seed: 0, steps: 1 });
  }

  /** `items`: each image's resolved prompt and seed; `settings`: what they share (batch = items.length). */
  private async generateNow(items: readonly ImageRequest[], settings: GenerateSettings, previews: boolean, options: GenerateOptions): Promise<GenerateResult> {
    if (this.released) throw new Error('this pipeline has been released');
    const started = performance.now();
    const { signal } = options;
    throwIfAborted(signal);
    const { ort, manifest } = this;
    const { batch, guidance } = settings;
    const guided = guidance !== 1;
    const plan = planSampler(manifest.kind, settings.sampler, settings.levels);
    // A points image is N denoiser rows (generatePoints.ts); an image is one.
    const rowsPerImage = settings.points ?? 1;
    const shape = settings.points ? pointsSampleShape(settings.points, 2) : this.sampleShape;

    const prompts = items.map((item) => item.prompt);
    if (guided) prompts.push(...Array<string>(batch).fill(''));
    const conditioning = await this.conditioner.encode(prompts, rowsPerImage);
    let x0: OrtTensor | undefined;
    try {
      throwIfAborted(signal);
      const { sample, sigma } = manifest.denoiser.inputs;
      const prediction = manifest.denoiser.outputs.prediction;
      const sigmaType = inputType(this.denoiser, sigma);
      const sigmaMeta = this.denoiser.inputMetadata?.find((m) => m.name === sigma);
      // Some exports take one timestep for the whole batch ([1]); ours take one per row.
      const rows = prompts.length * rowsPerImage;
      const sigmaRows = sigmaMeta && sigmaMeta.isTensor && sigmaMeta.shape.length === 1 && sigmaMeta.shape[0] === 1 ? 1 : rows;
      const denoise: DenoiseCall = async (x, level) => {
        const input = this.drawsPoints ? reshapeOnHost(ort, x, [rows, 2]) : x;
        const feeds = { ...conditioning.feeds, [sample]: input, [sigma]: numberTensor(ort, sigmaType, new Array(sigmaRows).fill(level), [sigmaRows], `denoiser input ${sigma}`) };
        if (this.outputs) {
          const into = this.outputs.tensor('prediction', x.dims);
          await this.denoiser.run(feeds, { [prediction]: into });
          return into;
        }
        const out = await this.denoiser.run(feeds, [prediction]);
        return this.drawsPoints ? reshapeOnHost(ort, out[prediction]!, x.dims) : out[prediction]!;
      };
      const sampled = await runSampler({
        ort,
        stepGraphs: this.stepGraphs,
        plan,
        guidance,
        guided,
        shape,
        seeds: items.map((item) => item.seed),
        denoise,
        ...(this.outputs ? { outputs: this.outputs } : {}),
        previews: previews && manifest.space.type === 'pixel',
        ...(signal ? { signal } : {}),
        ...(options.onStep ? { onStep: options.onStep } : {}),
      });
      x0 = sampled.x0;
      throwIfAborted(signal);

      const decodeStarted = performance.now();
      let decoderMs = 0;
      let pixels: Float32Array;
      let [channels, height, width] = shape;
      if (this.decoder) {
        const space = manifest.space as Extract<Manifest['space'], { type: 'latent' }>;
        const coefficients = new ort.Tensor('float32', Float32Array.of(1 / space.scale, space.shift ?? 0), [2]);
        const { y } = await this.decoder.affine.run({ x: x0, coefficients });
        const decoderStarted = performance.now();
        const decoded = await this.decoder.session.run({ [manifest.decoder!.inputs.latent]: y! }, [manifest.decoder!.outputs.image]);
        y!.dispose();
        const image = decoded[manifest.decoder!.outputs.image]!;
        pixels = (await image.getData()) as Float32Array;
        decoderMs = performance.now() - decoderStarted;
        [channels, height, width] = image.dims.slice(-3) as [number, number, number];
        image.dispose();
      } else {
        pixels = (await x0.getData()) as Float32Array;
      }
      const size = channels * height * width;
      const images = Array.from({ length: batch }, (_, b): GeneratedImage => {
        const { prompt, seed } = items[b]!;
        const values = pixels.slice(b * size, (b + 1) * size);
        if (this.drawsPoints) return { prompt, seed, ...pointsPicture(values, 2), previews: [], points: values };
        return { prompt, seed, width, height, channels, chw: values, rgba: toRGBA(values, channels, width, height), previews: sampled.previews.map((step) => step[b]!) };
      });
      const finished = performance.now();
      const totalMs = finished - started;
      const modelMs = conditioning.textEncoderMs + sampled.denoiserMs.reduce((a, b) => a + b, 0) + decoderMs;
      return {
        images,
        settings,
        provider: this.provider,
        model: { name: manifest.name, sha256: this.modelSha256 },
        timings: {
          tokenizeMs: conditioning.tokenizeMs,
          textEncoderMs: conditioning.textEncoderMs,
          stepMs: sampled.stepMs,
          denoiserMs: sampled.denoiserMs,
          decodeMs: finished - decodeStarted,
          totalMs,
          pipelineOverheadMs: totalMs - modelMs,
        },
      };
    } finally {
      conditioning.dispose();
      x0?.dispose();
    }
  }

  /** Frees every session (waits for a running generation first). */
  async release(): Promise<void> {
    await this.tail;
    if (this.released) return;
    this.released = true;
    await Promise.all([this.conditioner.release(), this.denoiser.release(), this.stepGraphs.release(), this.decoder?.session.release(), this.decoder?.affine.release()]);
    this.outputs?.release();
  }
}
