// adaLN modulation (DiT): x [B, T, C], shift [B, C], scale [B, C] -> x * (1 + scale) + shift, the
// per-sample shift and scale broadcast over the T tokens. One fused forward kernel; the backward is
// dx = dy * (1 + scale) (the same kernel without the shift) and one kernel for dshift = sum_t dy and
// dscale = sum_t dy * x.
import forwardSource from '../../kernels/modulate.wgsl?raw';
import backwardSource from '../../kernels/modulate_backward.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, assertShape, launch1d, output } from './common';

const PARAMS = { n: 'u32', tokens: 'u32', channels: 'u32' } as const;
const forwardKernel = { label: 'modulate', code: forwardSource, params: PARAMS };
const backwardKernel = { label: 'modulate_backward', code: backwardSource, params: PARAMS };

export function modulate(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  assertF32(x, 'modulate: x');
  assertF32(shift, 'modulate: shift');
  assertF32(scale, 'modulate: scale');
  if (x.rank !== 3) throw new Error(`modulate: x: expected [batch, tokens, channels], got ${x.describe()}`);
  const [batch, tokens, channels] = x.shape as [number, number, number];
  assertShape(shift, [batch, channels], 'modulate: shift');
  assertShape(scale, [batch, channels], 'modulate: scale');
  const engine = x.engine;
  const params = { n: x.size, tokens, channels };
  const y = output(engine, x.shape, 'modulate');
  launch1d(engine, forwardKernel, x.size, { bindings: [x.buffer, shift.buffer, scale.buffer, y.buffer], params, constants: { ADD_SHIFT: 1 } });
  return record(y, [x, shift, scale], (dy) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = output(engine, x.shape, 'modulate.dx');
      launch1d(engine, forwardKernel, x.size, { bindings: [dy.buffer, shift.buffer, scale.buffer, dx.buffer], params, constants: { ADD_SHIFT: 0 } });
    }
    if (!shift.requiresGrad && !scale.requiresGrad) return [dx, null, null];
    // Both sums come from one pass over dy and x; the one not needed is dropped.
    const dshift = output(engine, shift.shape, 'modulate.dshift');
    const dscale = output(engine, scale.shape, 'modulate.dscale');
    const n = batch * channels;
    launch1d(engine, backwardKernel, n, { bindings: [dy.buffer, x.buffer, dshift.buffer, dscale.buffer], params: { n, tokens, channels } });
    if (!shift.requiresGrad) dshift.dispose();
    if (!scale.requiresGrad) dscale.dispose();
    return [dx, shift.requiresGrad ? dshift : null, scale.requiresGrad ? dscale : null];
  });
}

// ---- float64 reference (inputs: [x, shift, scale]) ----

export function modulateReference(): Reference {
  const each = (x: HostTensor, f: (i: number, row: number) => void) => {
    const [, tokens, channels] = x.shape as [number, number, number];
    for (let i = 0; i < x.data.length; i++) f(i, Math.floor(i / (tokens * channels)) * channels + (i % channels));
  };
  return {
    forward([x, shift, scale]) {
      const y = host(x!.shape);
      each(x!, (i, row) => (y.data[i] = x!.data[i]! * (1 + scale!.data[row]!) + shift!.data[row]!));
      return y;
    },
    backward([x, shift, scale], dy) {
      const dx = host(x!.shape);
      const dshift = host(shift!.shape);
      const dscale = host(scale!.shape);
      each(x!, (i, row) => {
        dx.data[i] = dy.data[i]! * (1 + scale!.data[row]!);
        dshift.data[row]! += dy.data[i]!;
        dscale.data[row]! += dy.data[i]! * x!.data[i]!;
      });
      return [dx, dshift, dscale];
    },
  };
}
