// Sinusoidal timestep embedding (DiT, diffusers with flip_sin_to_cos=True): t [B] -> [B, dim] =
// [cos(s t f_0), ..., cos(s t f_{h-1}), sin(s t f_0), ..., sin(s t f_{h-1}) (, 0 when dim is odd)],
// h = floor(dim / 2), f_i = exp(-ln(maxPeriod) i / h), s = scale. Differentiable in t.
import preciseMathSource from '../../kernels/precise_math.wgsl?raw';
import timestepSource from '../../kernels/timestep.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { fromArray, record, type Tensor } from '../tensor';
import { assertF32, launch1d, output } from './common';

export interface TimestepOptions {
  /** The longest period, in units of scale * t (default 10000). */
  maxPeriod?: number;
  /** t is multiplied by this first (default 1000: a sigma in [0, 1] then spans the frequencies the way diffusion timesteps in [0, 1000] do; pass 1 for timesteps). */
  scale?: number;
}

const timestepKernel = {
  label: 'timestep',
  code: `${preciseMathSource}\n${timestepSource}`,
  params: { n: 'u32', dim: 'u32', half_dim: 'u32' },
} as const;

function resolve(dim: number, options: TimestepOptions) {
  const maxPeriod = options.maxPeriod ?? 10000;
  const scale = options.scale ?? 1000;
  if (!Number.isInteger(dim) || dim < 2) throw new Error(`timestepEmbedding: dim must be an integer >= 2, got ${dim}`);
  if (!(maxPeriod > 0) || !Number.isFinite(maxPeriod)) throw new Error(`timestepEmbedding: maxPeriod must be a positive number, got ${maxPeriod}`);
  if (!Number.isFinite(scale)) throw new Error(`timestepEmbedding: scale must be finite, got ${scale}`);
  return { maxPeriod, scale, half: Math.floor(dim / 2) };
}

/** f_i = exp(-ln(maxPeriod) i / half), i < half. */
function frequencies(half: number, maxPeriod: number): number[] {
  return Array.from({ length: half }, (_, i) => Math.exp((-Math.log(maxPeriod) * i) / half));
}

export function timestepEmbedding(t: Tensor, dim: number, options: TimestepOptions = {}): Tensor {
  assertF32(t, 'timestepEmbedding: t');
  if (t.rank !== 1) throw new Error(`timestepEmbedding: t: expected [batch], got ${t.describe()}`);
  const { maxPeriod, scale, half } = resolve(dim, options);
  const engine = t.engine;
  const batch = t.shape[0]!;
  // Frequencies in turns, g_i = scale f_i / 2 pi, rounded to f32 once (see timestep.wgsl).
  const turns = frequencies(half, maxPeriod).map((f) => (scale * f) / (2 * Math.PI));
  const pass = (dy: Tensor | null): Tensor => {
    const n = dy ? batch : batch * dim;
    const out = output(engine, dy ? [batch] : [batch, dim], dy ? 'timestep.backward' : 'timestep');
    const g = fromArray(engine, [half], turns, 'f32', 'timestep.turns'); // half floats: cheaper to upload than to cache
    const bindings = [t.buffer, g.buffer, (dy ?? t).buffer, out.buffer];
    launch1d(engine, timestepKernel, n, { bindings, params: { n, dim, half_dim: half }, constants: { BACKWARD: dy ? 1 : 0 } });
    g.dispose();
    return out;
  };
  return record(pass(null), [t], (dy) => [pass(dy)]);
}

// ---- float64 reference ----

export function timestepEmbeddingReference(dim: number, options: TimestepOptions = {}): Reference {
  const { maxPeriod, scale, half } = resolve(dim, options);
  const freqs = frequencies(half, maxPeriod);
  return {
    forward([t]: readonly HostTensor[]): HostTensor {
      const out = host([t!.data.length, dim]);
      t!.data.forEach((v, b) =>
        freqs.forEach((f, i) => {
          out.data[b * dim + i] = Math.cos(scale * v * f);
          out.data[b * dim + half + i] = Math.sin(scale * v * f);
        }),
      );
      return out;
    },
    backward([t]: readonly HostTensor[], dy: HostTensor): HostTensor[] {
      const dt = host([t!.data.length]);
      t!.data.forEach((v, b) => {
        let total = 0;
        freqs.forEach((f, i) => {
          total += f * (Math.cos(scale * v * f) * dy.data[b * dim + half + i]! - Math.sin(scale * v * f) * dy.data[b * dim + i]!);
        });
        dt.data[b] = scale * total;
      });
      return [dt];
    },
  };
}
