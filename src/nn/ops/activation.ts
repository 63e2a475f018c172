// Pointwise activations: gelu (tanh approximation), silu and relu, forward and backward in one kernel.
// x[...S] -> y[...S]; dx = dy * f'(x) (the backward recomputes f' from x rather than storing it).
import activationSource from '../../kernels/activation.wgsl?raw';
import type { HostTensor } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, launch1d, output } from './common';

const activationKernel = { label: 'activation', code: activationSource, params: { n: 'u32' } } as const;

type Activation = 'gelu' | 'silu' | 'relu';
const ACTIVATION_CODES: Record<Activation, number> = { gelu: 0, silu: 1, relu: 2 };

function activationPass(kind: Activation, x: Tensor, dy: Tensor | null): Tensor {
  const out = output(x.engine, x.shape, dy ? `${kind}.backward` : kind);
  launch1d(x.engine, activationKernel, x.size, {
    // The forward binds x in dy's slot (unread there): one binding layout for both directions.
    bindings: [x.buffer, (dy ?? x).buffer, out.buffer],
    params: { n: x.size },
    constants: { ACTIVATION: ACTIVATION_CODES[kind], BACKWARD: dy ? 1 : 0 },
  });
  return out;
}

function activation(kind: Activation, x: Tensor): Tensor {
  assertF32(x, kind);
  const y = activationPass(kind, x, null);
  return record(y, [x], (dy) => [activationPass(kind, x, dy)]);
}

/** GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export const gelu = (x: Tensor): Tensor => activation('gelu', x);
/** SiLU (swish): x * sigmoid(x). */
export const silu = (x: Tensor): Tensor => activation('silu', x);
/** ReLU: max(x, 0), with derivative 0 at 0. */
export const relu = (x: Tensor): Tensor => activation('relu', x);

// ---- float64 references ----

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

function geluValue(v: number): number {
  return 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v ** 3)));
}

function geluDerivative(v: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v ** 3));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * v * v);
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const siluValue = (v: number): number => v * sigmoid(v);
function siluDerivative(v: number): number {
  const s = sigmoid(v);
  return s * (1 + v * (1 - s));
}

function pointwiseReference(f: (v: number) => number, df: (v: number) => number): Reference {
  return {
    forward: ([x]: readonly HostTensor[]) => ({ shape: [...x!.shape], data: x!.data.map(f) }),
    backward: ([x]: readonly HostTensor[], dy: HostTensor) => [{ shape: [...x!.shape], data: x!.data.map((v, i) => dy.data[i]! * df(v)) }],
  };
}

export const geluReference = (): Reference => pointwiseReference(geluValue, geluDerivative);
export const siluReference = (): Reference => pointwiseReference(siluValue, siluDerivative);
export const reluReference = (): Reference => pointwiseReference((v) => Math.max(v, 0), (v) => (v > 0 ? 1 : 0));
