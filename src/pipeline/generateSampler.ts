// The denoising loop: seeded starting noise, then per step one denoiser call for the whole batch (the N images, and
// with guidance the same N again against the empty caption) and one step-graph update (generateStepGraph.ts) with
// the coefficients of generatePlan.ts. The tensors handed from one call to the next stay where ORT put them (GPU
// buffers on WebGPU); the host sees the x0 estimates only when previews are asked for. Cancellation is checked
// between steps; every tensor made here is disposed on every path out.
import type { Ort } from '../onnx/exportOrt';
import type { SamplerPlan } from './generatePlan';
import type { StepRunner } from './generateStepGraph';
import type { GpuOutputs } from './generateBuffers';
import { NoiseStream } from './noise';

type OrtTensor = InstanceType<Ort['Tensor']>;

/** The model: its prediction (velocity or noise) for the batch x at one noise level. The caller of runSampler keeps x. */
export type DenoiseCall = (x: OrtTensor, level: number, step: number) => Promise<OrtTensor>;

export interface StepReport {
  /** 0-based. */
  step: number;
  steps: number;
  /** Wall time of this step (denoiser, update, preview readback). */
  ms: number;
  /** The x0 estimate of each image after this step, CHW, when previews were asked for. */
  previews?: Float32Array[];
}

export interface SamplerRun {
  ort: Ort;
  stepGraphs: StepRunner;
  plan: SamplerPlan;
  /** Classifier-free guidance weight; the batch is doubled (text, null) when `guided`. */
  guidance: number;
  guided: boolean;
  /** One image: [channels, height, width]. */
  shape: readonly [number, number, number];
  /** One seed per image: image b's noise stream (the batch is seeds.length). */
  seeds: readonly number[];
  denoise: DenoiseCall;
  previews?: boolean;
  /**
   * WebGPU: the step graph writes into these pre-allocated buffers (x ping-pongs between two, x0 has one) instead of
   * fresh ones from ORT. The returned x0 is then a view of the pool's buffer, valid until the next generation.
   */
  outputs?: GpuOutputs;
  signal?: AbortSignal;
  /** After every step; when it returns a promise, the next step waits for it. */
  onStep?: (report: StepReport) => void | Promise<void>;
}

export interface SamplerOutput {
  /** The final x0 estimate [N, C, H, W]; the caller disposes it. */
  x0: OrtTensor;
  /** previews[step][image], CHW (empty unless asked for). */
  previews: Float32Array[][];
  stepMs: number[];
  denoiserMs: number[];
}

export function abortError(reason?: unknown): DOMException {
  const error = new DOMException('The generation was aborted', 'AbortError');
  if (reason !== undefined) Object.defineProperty(error, 'cause', { value: reason });
  return error;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal.reason);
}

/** The batch's noise streams, one per image, and the starting x (doubled under guidance). */
function startingNoise(run: SamplerRun, streams: NoiseStream[]): Float32Array {
  const size = run.shape[0] * run.shape[1] * run.shape[2];
  const batch = streams.length;
  const x = new Float32Array(size * batch * (run.guided ? 2 : 1));
  streams.forEach((stream, b) => stream.next(size, x, b * size));
  if (run.plan.startScale !== 1) for (let i = 0; i < size * batch; i++) x[i]! *= run.plan.startScale;
  if (run.guided) x.copyWithin(size * batch, 0, size * batch);
  return x;
}

function splitImages(data: Float32Array, batch: number): Float32Array[] {
  const size = data.length / batch;
  return Array.from({ length: batch }, (_, b) => data.slice(b * size, (b + 1) * size));
}

export async function runSampler(run: SamplerRun): Promise<SamplerOutput> {
  const { ort, plan, shape } = run;
  const size = shape[0] * shape[1] * shape[2];
  const batch = run.seeds.length;
  const streams = run.seeds.map((seed) => new NoiseStream(seed));
  const rows = batch * (run.guided ? 2 : 1);
  let x: OrtTensor = new ort.Tensor('float32', startingNoise(run, streams), [rows, ...shape]);
  const output: SamplerOutput = { x0: undefined as unknown as OrtTensor, previews: [], stepMs: [], denoiserMs: [] };
  const live = new Set<OrtTensor>([x]);
  const drop = (t: OrtTensor | undefined) => {
    if (t && live.delete(t)) t.dispose();
  };
  try {
    for (let i = 0; i < plan.steps.length; i++) {
      throwIfAborted(run.signal);
      const step = plan.steps[i]!;
      const last = i + 1 === plan.steps.length;
      const started = performance.now();
      const prediction = await run.denoise(x, step.level, i);
      live.add(prediction);
      output.denoiserMs.push(performance.now() - started);
      // The last step of x0-renoise is x0 itself (f = 0): the plain update, no noise drawn.
      const renoise = plan.renoise && !last;
      let noise: OrtTensor | undefined;
      if (renoise) {
        const fresh = new Float32Array(size * batch);
        streams.forEach((stream, b) => stream.next(size, fresh, b * size));
        noise = new ort.Tensor('float32', fresh, [batch, ...shape]);
        live.add(noise);
      }
      const into = run.outputs && { next: run.outputs.tensor(i % 2 ? 'x.b' : 'x.a', [rows, ...shape]), x0: run.outputs.tensor('x0', [batch, ...shape]) };
      const { next, x0 } = await run.stepGraphs.run({ guided: run.guided, renoise }, x, prediction, run.guidance, step, noise, into);
      live.add(next);
      live.add(x0);
      drop(x);
      drop(prediction);
      drop(noise);
      let previews: Float32Array[] | undefined;
      if (run.previews) {
        previews = splitImages((await x0.getData()) as Float32Array, batch);
        output.previews.push(previews);
      }
      output.stepMs.push(performance.now() - started);
      await run.onStep?.({ step: i, steps: plan.steps.length, ms: output.stepMs[i]!, ...(previews ? { previews } : {}) });
      if (last) {
        drop(next);
        live.delete(x0);
        output.x0 = x0;
      } else {
        drop(x0);
        x = next;
      }
    }
    return output;
  } finally {
    for (const t of live) t.dispose();
    live.clear();
  }
}
