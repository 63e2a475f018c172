// reciprocal(x, floor) = 1 / max(x, floor), elementwise: x[...S] -> y[...S]; dx = dy * (-1 / x^2) where x > floor,
// 0 where the floor holds. The DiT's x-prediction output divides by the noise level with it (nets/dit.ts).
import reciprocalSource from '../../kernels/reciprocal.wgsl?raw';
import type { HostTensor } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, launch1d, output } from './common';

const reciprocalKernel = { label: 'reciprocal', code: reciprocalSource, params: { n: 'u32', floor: 'f32' } } as const;

function reciprocalPass(x: Tensor, floor: number, dy: Tensor | null): Tensor {
  const out = output(x.engine, x.shape, dy ? 'reciprocal.backward' : 'reciprocal');
  launch1d(x.engine, reciprocalKernel, x.size, {
    // The forward binds x in dy's slot (unread there): one binding layout for both directions.
    bindings: [x.buffer, (dy ?? x).buffer, out.buffer],
    params: { n: x.size, floor },
    constants: { BACKWARD: dy ? 1 : 0 },
  });
  return out;
}

/** 1 / max(x, floor); floor must be positive, so the result is finite for every finite x. */
export function reciprocal(x: Tensor, floor: number): Tensor {
  assertF32(x, 'reciprocal');
  if (!(floor > 0 && Number.isFinite(floor))) throw new Error(`reciprocal: the floor must be a positive number, got ${floor}`);
  const y = reciprocalPass(x, floor, null);
  return record(y, [x], (dy) => [reciprocalPass(x, floor, dy)]);
}

// ---- float64 reference ----

export function reciprocalReference(floor: number): Reference {
  return {
    forward: ([x]: readonly HostTensor[]) => ({ shape: [...x!.shape], data: x!.data.map((v) => 1 / Math.max(v, floor)) }),
    backward: ([x]: readonly HostTensor[], dy: HostTensor) => [{ shape: [...x!.shape], data: x!.data.map((v, i) => (v > floor ? -dy.data[i]! / (v * v) : 0)) }],
  };
}
