// Layer normalisation over the last axis, with optional affine parameters (adaLN DiT blocks normalise
// without them and modulate afterwards).
// x[..., C], gamma[C], beta[C] -> y[..., C];  y = (x - mean) / sqrt(var + eps) * gamma + beta
// The forward saves the per-row mean and rstd ([rows, 2] f32, 8 bytes per row) for the backward, which
// then needs only x, dy and gamma: dx (layer_norm_grad_input.wgsl) and dgamma, dbeta
// (layer_norm_grad_affine.wgsl). The statistics are freed after the backward, or at once when no
// gradient is recorded.
// Measured, x [640, 256] (B=8, T=80, C=256), best of 9 on 2 loaded CPU cores: SwiftShader forward 7 ms,
// forward + backward 12 ms without affine, 25 ms with (the C-way parallel dgamma/dbeta column kernel is
// the slow part); llvmpipe 1.5 / 3.3 / 5.2 ms.
import gradAffineSource from '../../kernels/layer_norm_grad_affine.wgsl?raw';
import gradInputSource from '../../kernels/layer_norm_grad_input.wgsl?raw';
import forwardSource from '../../kernels/layer_norm.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, assertShape, launch1d, output } from './common';

const forwardKernel = { label: 'layer_norm', code: forwardSource, params: { rows: 'u32', channels: 'u32', eps: 'f32' } } as const;
const gradInputKernel = { label: 'layer_norm_grad_input', code: gradInputSource, params: { rows: 'u32', channels: 'u32' } } as const;
const gradAffineKernel = { label: 'layer_norm_grad_affine', code: gradAffineSource, params: { rows: 'u32', channels: 'u32' } } as const;

/** Layer normalisation over x's last axis; gamma and beta ([C]) are optional. */
export function layerNorm(x: Tensor, gamma?: Tensor | null, beta?: Tensor | null, eps = 1e-6): Tensor {
  assertF32(x, 'layerNorm x');
  if (x.rank < 1) throw new Error(`layerNorm x: expected [..., C], got ${x.describe()}`);
  const channels = x.shape[x.rank - 1]!;
  if (channels === 0) throw new Error(`layerNorm x: the last axis is empty in ${x.describe()}`);
  if (gamma) {
    assertF32(gamma, 'layerNorm gamma');
    assertShape(gamma, [channels], 'layerNorm gamma');
  }
  if (beta) {
    assertF32(beta, 'layerNorm beta');
    assertShape(beta, [channels], 'layerNorm beta');
  }
  if (!(eps >= 0)) throw new Error(`layerNorm: eps must be >= 0, got ${eps}`);
  const engine = x.engine;
  const rows = x.size / channels;
  const y = output(engine, x.shape, 'layer_norm');
  const stats = output(engine, [rows, 2], 'layer_norm.stats');
  launch1d(engine, forwardKernel, rows, {
    // A missing gamma or beta is never read; x stands in for its binding.
    bindings: [x.buffer, (gamma ?? x).buffer, (beta ?? x).buffer, y.buffer, stats.buffer],
    params: { rows, channels, eps },
    constants: { HAS_GAMMA: gamma ? 1 : 0, HAS_BETA: beta ? 1 : 0 },
  });
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  record(y, inputs, (dy) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = output(engine, x.shape, 'layer_norm.dx');
      launch1d(engine, gradInputKernel, rows, {
        bindings: [x.buffer, (gamma ?? x).buffer, dy.buffer, stats.buffer, dx.buffer],
        params: { rows, channels },
        constants: { HAS_GAMMA: gamma ? 1 : 0 },
      });
    }
    let dgamma: Tensor | null = null;
    let dbeta: Tensor | null = null;
    if (gamma?.requiresGrad || beta?.requiresGrad) {
      dgamma = output(engine, [channels], 'layer_norm.dgamma');
      dbeta = output(engine, [channels], 'layer_norm.dbeta');
      launch1d(engine, gradAffineKernel, channels, {
        bindings: [x.buffer, dy.buffer, stats.buffer, dgamma.buffer, dbeta.buffer],
        params: { rows, channels },
      });
      if (!gamma?.requiresGrad) {
        dgamma.dispose();
        dgamma = null;
      }
      if (!beta?.requiresGrad) {
        dbeta.dispose();
        dbeta = null;
      }
    }
    stats.dispose(); // the tape runs each entry once
    return [dx, ...(gamma ? [dgamma] : []), ...(beta ? [dbeta] : [])];
  });
  if (!y.requiresGrad) stats.dispose(); // nothing recorded: no backward will read them
  return y;
}

// ---- float64 reference ----

interface RowStats {
  mean: Float64Array;
  rstd: Float64Array;
}

function rowStats(x: HostTensor, eps: number): RowStats {
  const channels = x.shape[x.shape.length - 1]!;
  const rows = x.data.length / channels;
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let total = 0;
    for (let c = 0; c < channels; c++) total += x.data[r * channels + c]!;
    const m = total / channels;
    let squares = 0;
    for (let c = 0; c < channels; c++) squares += (x.data[r * channels + c]! - m) ** 2;
    mean[r] = m;
    rstd[r] = 1 / Math.sqrt(squares / channels + eps);
  }
  return { mean, rstd };
}

/** Inputs [x, gamma (if hasGamma), beta (if hasBeta)]. */
export function layerNormReference(eps: number, hasGamma: boolean, hasBeta: boolean): Reference {
  const unpack = (inputs: readonly HostTensor[]) => {
    const x = inputs[0]!;
    const gamma = hasGamma ? inputs[1]! : null;
    const beta = hasBeta ? inputs[hasGamma ? 2 : 1]! : null;
    const channels = x.shape[x.shape.length - 1]!;
    return { x, gamma, beta, channels, rows: x.data.length / channels, ...rowStats(x, eps) };
  };
  return {
    forward(inputs) {
      const { x, gamma, beta, channels, rows, mean, rstd } = unpack(inputs);
      const y = host(x.shape);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < channels; c++) {
          const i = r * channels + c;
          y.data[i] = (x.data[i]! - mean[r]!) * rstd[r]! * (gamma ? gamma.data[c]! : 1) + (beta ? beta.data[c]! : 0);
        }
      }
      return y;
    },
    backward(inputs, dy) {
      const { x, gamma, beta, channels, rows, mean, rstd } = unpack(inputs);
      const dx = host(x.shape);
      const dgamma = host([channels]);
      const dbeta = host([channels]);
      for (let r = 0; r < rows; r++) {
        const base = r * channels;
        const xhat = (c: number) => (x.data[base + c]! - mean[r]!) * rstd[r]!;
        const g = (c: number) => dy.data[base + c]! * (gamma ? gamma.data[c]! : 1);
        let sumG = 0;
        let sumGXhat = 0;
        for (let c = 0; c < channels; c++) {
          sumG += g(c);
          sumGXhat += g(c) * xhat(c);
          dgamma.data[c] = dgamma.data[c]! + dy.data[base + c]! * xhat(c);
          dbeta.data[c] = dbeta.data[c]! + dy.data[base + c]!;
        }
        for (let c = 0; c < channels; c++) {
          dx.data[base + c] = rstd[r]! * (g(c) - sumG / channels - xhat(c) * (sumGXhat / channels));
        }
      }
      return [dx, ...(gamma ? [dgamma] : []), ...(beta ? [dbeta] : [])];
    },
  };
}
