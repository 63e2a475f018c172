// Fully connected layer with the bias and the activation fused into the matmul's epilogue (one kernel).
// x[..., IN] @ weight[IN, OUT] + bias[OUT] -> z[..., OUT]; y = activation(z) -> y[..., OUT]
//
// Backward: dz = dy * activation'(z); dx = dz @ weight^T and dweight = x^T @ dz with the matmul kernels'
// transpose flags (x's leading dims folded into the rows, so dweight is one [IN, rows] @ [rows, OUT]
// product); dbias = the sum of dz over rows.
// activation'(z) needs the pre-activation z. The forward kernel saves it (a second store of each
// output, rows*OUT floats kept until backward) rather than have the backward recompute it: recomputing
// is another full rows*IN*OUT matmul, 50% more than the forward, while saving costs one extra write per
// output. y alone is not enough: GELU is not invertible and SiLU only piecewise. With no activation, or
// when no gradient is recorded (noGrad, inputs without requiresGrad), nothing is saved.
import activationGradSource from '../../kernels/linear_activation_grad.wgsl?raw';
import { host, type HostTensor } from '../host';
import type { Reference } from '../testing';
import { record, type Tensor } from '../tensor';
import { assertF32, launch1d, output } from './common';
import { encodeMatmul, matmulHost, type MatmulProblem } from './matmul';
import { sumTo, sumToReference } from './reduce';

export type Activation = 'none' | 'gelu' | 'silu';

/** ACTIVATION codes of matmul_common.wgsl and linear_activation_grad.wgsl. */
const ACTIVATION_CODES: Record<Activation, number> = { none: 0, gelu: 1, silu: 2 };

const activationGradKernel = { label: 'linear_activation_grad', code: activationGradSource, params: { n: 'u32' } } as const;

/** A rows x K @ K x N problem with no batch dims. */
function plain(a: Tensor, b: Tensor, M: number, N: number, K: number, transA: boolean, transB: boolean): MatmulProblem {
  return { a, b, M, N, K, transA, transB, batch: [], aStrides: [], bStrides: [] };
}

export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null, activation: Activation = 'none'): Tensor {
  assertF32(x, 'linear: x');
  assertF32(weight, 'linear: weight');
  if (x.rank < 1) throw new Error(`linear: x must be [..., IN], got ${x.describe()}`);
  const IN = x.shape.at(-1)!;
  if (weight.rank !== 2 || weight.shape[0] !== IN) throw new Error(`linear: weight must be [${IN}, OUT] for x ${x.describe()}, got ${weight.describe()}`);
  const OUT = weight.shape[1]!;
  if (bias) {
    assertF32(bias, 'linear: bias');
    if (bias.rank !== 1 || bias.shape[0] !== OUT) throw new Error(`linear: bias must be [${OUT}] for weight ${weight.describe()}, got ${bias.describe()}`);
  }
  if (!(activation in ACTIVATION_CODES)) throw new Error(`linear: activation must be one of ${Object.keys(ACTIVATION_CODES).join(', ')}, got ${activation}`);
  const engine = x.engine;
  const rows = x.shape.slice(0, -1).reduce((n, d) => n * d, 1);
  const y = output(engine, [...x.shape.slice(0, -1), OUT], `linear.${activation}`);
  let preactivation: Tensor | null = null;
  record(y, bias ? [x, weight, bias] : [x, weight], (dy) => {
    const dz = preactivation ? activationGrad(dy, preactivation, activation) : dy;
    const dx = x.requiresGrad ? output(engine, x.shape, 'linear.dx') : null;
    if (dx) encodeMatmul(plain(dz, weight, rows, IN, OUT, false, true), dx);
    const dweight = weight.requiresGrad ? output(engine, weight.shape, 'linear.dweight') : null;
    if (dweight) encodeMatmul(plain(x, dz, IN, OUT, rows, true, false), dweight);
    let dbias: Tensor | null = null;
    if (bias?.requiresGrad) {
      const rowsView = dz.view([rows, OUT]);
      dbias = sumTo(rowsView, [OUT]);
      rowsView.dispose();
    }
    // z and dz are not needed past this point (the tape entry runs once); free them before the step ends.
    if (dz !== dy) dz.dispose();
    preactivation?.dispose();
    return bias ? [dx, dweight, dbias] : [dx, dweight];
  });
  // record() marks y when it recorded the backward: only then is z worth saving.
  if (y.requiresGrad && activation !== 'none') preactivation = output(engine, y.shape, 'linear.preactivation');
  encodeMatmul(plain(x, weight, rows, OUT, IN, false, false), y, { bias, activation: ACTIVATION_CODES[activation], preactivation });
  return y;
}

/** dz = dy * activation'(z). */
function activationGrad(dy: Tensor, z: Tensor, activation: Activation): Tensor {
  const dz = output(dy.engine, dy.shape, 'linear.dz');
  launch1d(dy.engine, activationGradKernel, dy.size, { bindings: [dy.buffer, z.buffer, dz.buffer], params: { n: dy.size }, constants: { ACTIVATION: ACTIVATION_CODES[activation] } });
  return dz;
}

// ---- float64 reference ----

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** activation(z) and activation'(z), in float64. */
export function activationReference(activation: Activation, z: number): [number, number] {
  if (activation === 'gelu') {
    const t = Math.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z ** 3));
    return [0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)];
  }
  if (activation === 'silu') {
    const s = 1 / (1 + Math.exp(-z));
    return [z * s, s * (1 + z * (1 - s))];
  }
  return [z, 1];
}

export function linearReference(activation: Activation, hasBias: boolean): Reference {
  // z = x2d @ w + b, with x2d the [rows, IN] view of x.
  const preactivation = (x: HostTensor, w: HostTensor, b: HostTensor | undefined) => {
    const IN = w.shape[0]!;
    const OUT = w.shape[1]!;
    const z = matmulHost({ shape: [x.data.length / IN, IN], data: x.data }, w);
    if (hasBias) for (let i = 0; i < z.data.length; i++) z.data[i] = z.data[i]! + b!.data[i % OUT]!;
    return { z, shape: [...x.shape.slice(0, -1), OUT] };
  };
  return {
    forward([x, w, b]) {
      const { z, shape } = preactivation(x!, w!, b);
      return host(shape, z.data.map((v) => activationReference(activation, v)[0]));
    },
    backward([x, w, b], dy) {
      const { z } = preactivation(x!, w!, b);
      const IN = w!.shape[0]!;
      const OUT = w!.shape[1]!;
      const dz = host(z.shape, z.data.map((v, i) => dy.data[i]! * activationReference(activation, v)[1]));
      const x2d = { shape: [x!.data.length / IN, IN], data: x!.data };
      const dx = matmulHost(dz, w!, false, true);
      const grads: HostTensor[] = [host(x!.shape, dx.data), matmulHost(x2d, dz, true, false)];
      if (hasBias) grads.push(sumToReference(dz, [OUT]));
      return grads;
    },
  };
}
