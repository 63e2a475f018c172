// The sampler's update between two denoiser calls (generatePlan.ts) as a tiny ONNX graph that ORT runs on the same
// execution provider as the denoiser, so on WebGPU the image being denoised never leaves the GPU: the denoiser's
// prediction (a GPU tensor) goes in, the next step's input and the x0 estimate come out as GPU tensors, and only
// what is asked for (the final image, previews) is read back. Where the tensors live on the host anyway (the wasm
// provider; points bundles), HostSteps computes the same update in JavaScript, operation by operation in float32 as
// the graph does, which saves an ORT call per step (~0.25 ms on wasm: a quarter of the pipeline's own time for a
// 1-step student).
//
//   inputs   x [B', C, H, W]       the denoiser's input (B' = 2N with guidance: the N images twice, text then null)
//            prediction [B', ...]  the denoiser's output
//            coefficients [6]      w, a, b, c, d, f
//            noise [N, ...]        fresh noise (x0-renoise graphs only)
//   outputs  next [B', ...]        c x + d p + f noise (doubled again with guidance: the next denoiser input)
//            x0 [N, ...]           a x + b p
// with p = p_null + w (p_text - p_null) under guidance, else the prediction.
import { attr, DataType, GraphBuilder } from '../onnx/graph';
import type { Ort } from '../onnx/exportOrt';
import type { StepCoefficients } from './generatePlan';
import { createSession, type OrtSession, type SessionOptions } from './generateSession';

export interface StepGraphVariant {
  /** The batch holds every image twice (text, then null) and the prediction is guided. */
  guided: boolean;
  /** The update adds fresh noise. */
  renoise: boolean;
}

export const STEP_GRAPH_NAMES = { x: 'x', prediction: 'prediction', coefficients: 'coefficients', noise: 'noise', next: 'next', x0: 'x0' } as const;

/** The step graph's ONNX bytes. */
export function stepGraphModel({ guided, renoise }: StepGraphVariant): Uint8Array {
  const g = new GraphBuilder(`sampler_step${guided ? '_guided' : ''}${renoise ? '_renoise' : ''}`);
  const names = STEP_GRAPH_NAMES;
  const full = ['batch', 'channels', 'height', 'width'];
  const images = ['images', 'channels', 'height', 'width'];
  const x = g.input(names.x, DataType.FLOAT, full);
  const prediction = g.input(names.prediction, DataType.FLOAT, full);
  const [w, a, b, c, d, f] = g.split(g.input(names.coefficients, DataType.FLOAT, [6]), 0, [1, 1, 1, 1, 1, 1]) as [string, string, string, string, string, string];
  let xs = x;
  let p = prediction;
  if (guided) {
    // Split without sizes: two equal halves (opset 17).
    xs = g.opMany('Split', [x], 2, [attr.int('axis', 0)], 'SplitX')[0]!;
    const [text, none] = g.opMany('Split', [prediction], 2, [attr.int('axis', 0)], 'SplitPrediction') as [string, string];
    p = g.add(none, g.mul(w, g.sub(text, none)));
  }
  const x0 = g.add(g.mul(a, xs), g.mul(b, p));
  let next = g.add(g.mul(c, xs), g.mul(d, p));
  if (renoise) next = g.add(next, g.mul(f, g.input(names.noise, DataType.FLOAT, images)));
  if (guided) next = g.concat([next, next], 0);
  g.output(next, names.next, DataType.FLOAT, full);
  g.output(x0, names.x0, DataType.FLOAT, images);
  return g.encode({ docString: 'senseflow-web sampler step: x0 = a x + b p, next = c x + d p + f noise, p guided by w' });
}

type OrtTensor = InstanceType<Ort['Tensor']>;

/** What runs the sampler's update between two denoiser calls: the step graphs, or the host. */
export interface StepRunner {
  /** Gets the variants ready (sessions made) so the first generation does not wait for them. */
  prepare(variants: readonly StepGraphVariant[]): Promise<void>;
  /** One update; the caller owns (and disposes) the outputs. `into`: pre-allocated outputs to write (GPU runners). */
  run(variant: StepGraphVariant, x: OrtTensor, prediction: OrtTensor, guidance: number, k: StepCoefficients, noise?: OrtTensor, into?: { next: OrtTensor; x0: OrtTensor }): Promise<{ next: OrtTensor; x0: OrtTensor }>;
  release(): Promise<void>;
}

/** The step graphs of one execution provider, one session per variant, made when first needed. */
export class StepGraphs implements StepRunner {
  private readonly sessions = new Map<string, Promise<OrtSession>>();

  constructor(
    private readonly ort: Ort,
    private readonly sessionOptions: SessionOptions,
  ) {}

  private session(variant: StepGraphVariant): Promise<OrtSession> {
    const key = `${variant.guided}/${variant.renoise}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = createSession(this.ort, stepGraphModel(variant), this.sessionOptions);
      this.sessions.set(key, session);
      session.catch(() => this.sessions.delete(key));
    }
    return session;
  }

  /** Creates the sessions of these variants now (so the first generation does not wait for them). */
  async prepare(variants: readonly StepGraphVariant[]): Promise<void> {
    await Promise.all(variants.map((v) => this.session(v)));
  }

  /**
   * Runs one update; the caller owns (and disposes) the two outputs. `into`: pre-allocated output tensors
   * (generateBuffers.ts) that ORT writes instead of allocating; they are what this returns.
   */
  async run(
    variant: StepGraphVariant,
    x: OrtTensor,
    prediction: OrtTensor,
    guidance: number,
    k: StepCoefficients,
    noise?: OrtTensor,
    into?: { next: OrtTensor; x0: OrtTensor },
  ): Promise<{ next: OrtTensor; x0: OrtTensor }> {
    const session = await this.session(variant);
    const feeds: Record<string, OrtTensor> = {
      [STEP_GRAPH_NAMES.x]: x,
      [STEP_GRAPH_NAMES.prediction]: prediction,
      [STEP_GRAPH_NAMES.coefficients]: new this.ort.Tensor('float32', Float32Array.of(guidance, k.a, k.b, k.c, k.d, k.f), [6]),
    };
    if (variant.renoise) {
      if (!noise) throw new Error('a renoise step needs its fresh noise');
      feeds[STEP_GRAPH_NAMES.noise] = noise;
    }
    if (into) {
      await session.run(feeds, { [STEP_GRAPH_NAMES.next]: into.next, [STEP_GRAPH_NAMES.x0]: into.x0 });
      return into;
    }
    const out = await session.run(feeds);
    return { next: out[STEP_GRAPH_NAMES.next]!, x0: out[STEP_GRAPH_NAMES.x0]! };
  }

  async release(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s.catch(() => null))?.release()));
  }
}

/**
 * The step graph's update computed on the host, for tensors already there (the wasm provider, points bundles):
 * every operation rounded to float32 in the graph's order, so the numbers are the graph's.
 */
export class HostSteps implements StepRunner {
  constructor(private readonly ort: Ort) {}

  async prepare(): Promise<void> {}

  async run(variant: StepGraphVariant, x: OrtTensor, prediction: OrtTensor, guidance: number, k: StepCoefficients, noise?: OrtTensor, into?: { next: OrtTensor; x0: OrtTensor }): Promise<{ next: OrtTensor; x0: OrtTensor }> {
    if (into) throw new Error('HostSteps writes host tensors; pre-allocated GPU outputs go with StepGraphs');
    if (x.location !== 'cpu' || prediction.location !== 'cpu') throw new Error(`HostSteps needs host tensors, got x on ${x.location} and the prediction on ${prediction.location}`);
    if (variant.renoise && !noise) throw new Error('a renoise step needs its fresh noise');
    const f = Math.fround;
    const [w, a, b, c, d, fNoise] = [guidance, k.a, k.b, k.c, k.d, k.f].map(f) as [number, number, number, number, number, number];
    const xs = x.data as Float32Array;
    const ps = prediction.data as Float32Array;
    const e = noise?.data as Float32Array | undefined;
    const size = variant.guided ? xs.length / 2 : xs.length;
    const x0 = new Float32Array(size);
    const next = new Float32Array(xs.length);
    for (let i = 0; i < size; i++) {
      // p = p_null + w (p_text - p_null) under guidance (text rows first, null rows second).
      const p = variant.guided ? f(ps[size + i]! + f(w * f(ps[i]! - ps[size + i]!))) : ps[i]!;
      x0[i] = f(f(a * xs[i]!) + f(b * p));
      let n = f(f(c * xs[i]!) + f(d * p));
      if (e) n = f(n + f(fNoise * e[i]!));
      next[i] = n;
    }
    if (variant.guided) next.copyWithin(size, 0, size);
    const images = variant.guided ? [x.dims[0]! / 2, ...x.dims.slice(1)] : x.dims;
    return { next: new this.ort.Tensor('float32', next, x.dims), x0: new this.ort.Tensor('float32', x0, images) };
  }

  async release(): Promise<void> {}
}

/** y = x * coefficients[0] + coefficients[1]: a latent x0 to the decoder's input (1 / scale, shift), on the same provider. */
export function affineGraphModel(): Uint8Array {
  const g = new GraphBuilder('latent_to_decoder');
  const shape = ['images', 'channels', 'height', 'width'];
  const x = g.input('x', DataType.FLOAT, shape);
  const [scale, shift] = g.split(g.input('coefficients', DataType.FLOAT, [2]), 0, [1, 1]) as [string, string];
  g.output(g.add(g.mul(x, scale), shift), 'y', DataType.FLOAT, shape);
  return g.encode({ docString: 'senseflow-web: latent / scale + shift' });
}
