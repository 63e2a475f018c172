// The basic modules: Linear, LayerNorm, MLP. Weights are stored [in, out] (y = x @ W + b), the layout
// ONNX MatMul takes as an initializer with no transpose.
import { init, Module } from '../module';
import { type Activation, linear } from '../ops/linear';
import { layerNorm } from '../ops/norm';
import type { Tensor } from '../tensor';
import type { Engine } from '../engine';

export interface LinearOptions {
  bias?: boolean;
  seed?: number;
  /** 'xavier' (default), 'zeros' (adaLN-Zero's modulation and final layers start as the identity / zero). */
  init?: 'xavier' | 'zeros' | { std: number };
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(engine: Engine, readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super(engine);
    const shape = [inFeatures, outFeatures];
    const seed = options.seed ?? 0;
    const kind = options.init ?? 'xavier';
    const data = kind === 'zeros' ? init.zeros(shape) : kind === 'xavier' ? init.xavier(shape, seed) : init.normal(shape, kind.std, seed);
    this.weight = this.param('weight', shape, data);
    this.bias = options.bias === false ? null : this.param('bias', [outFeatures], init.zeros([outFeatures]));
  }

  // x[..., in] -> y[..., out]
  forward(x: Tensor, activation: Activation = 'none'): Tensor {
    return linear(x, this.weight, this.bias, activation);
  }
}

export class LayerNorm extends Module {
  readonly gamma: Tensor | null;
  readonly beta: Tensor | null;

  /** affine false: no gamma/beta (a DiT block's norms, whose scale and shift come from adaLN). */
  constructor(engine: Engine, readonly dim: number, readonly options: { affine?: boolean; eps?: number } = {}) {
    super(engine);
    const affine = options.affine ?? true;
    this.gamma = affine ? this.param('weight', [dim], init.ones([dim])) : null;
    this.beta = affine ? this.param('bias', [dim], init.zeros([dim])) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.gamma, this.beta, this.options.eps ?? 1e-6);
  }
}

/** Two linear layers with an activation between them, fused into the first layer's epilogue. */
export class MLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(engine: Engine, inFeatures: number, hidden: number, outFeatures: number, readonly activation: Activation = 'gelu', seed = 0) {
    super(engine);
    this.fc1 = this.child('fc1', new Linear(engine, inFeatures, hidden, { seed }));
    this.fc2 = this.child('fc2', new Linear(engine, hidden, outFeatures, { seed: seed + 1 }));
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x, this.activation));
  }
}
