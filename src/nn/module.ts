// Modules: named parameters in a tree, the way checkpoints (safetensors) and the SenseFlow parameter
// utilities (clone, IDA's lerp) address them: "blocks.0.attn.qkv.weight".
import type { Engine } from './engine';
import { randn } from './host';
import { parameter, type Tensor } from './tensor';

export abstract class Module {
  private readonly params = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  constructor(readonly engine: Engine) {}

  /** Registers a parameter initialised with `data`. */
  protected param(name: string, shape: readonly number[], data: ArrayLike<number>): Tensor {
    if (this.params.has(name) || this.children.has(name)) throw new Error(`duplicate parameter or child "${name}"`);
    const t = parameter(this.engine, shape, data, name);
    this.params.set(name, t);
    return t;
  }

  protected child<M extends Module>(name: string, module: M): M {
    if (this.params.has(name) || this.children.has(name)) throw new Error(`duplicate parameter or child "${name}"`);
    this.children.set(name, module);
    return module;
  }

  /** Every parameter with its dotted path, in registration order (children after own parameters). */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.params) out.push([prefix + name, t]);
    for (const [name, m] of this.children) out.push(...m.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  dispose(): void {
    for (const t of this.parameters()) t.dispose();
  }
}

/** Initialisers: deterministic from a seed, so a model built twice with one seed is the same model. */
export const init = {
  zeros: (shape: readonly number[]) => new Float32Array(shape.reduce((a, b) => a * b, 1)),
  ones: (shape: readonly number[]) => new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1),
  normal: (shape: readonly number[], std: number, seed: number) => Float32Array.from(randn(shape, seed, std).data),
  /** Xavier/Glorot uniform-variance normal for a [fanIn, fanOut] weight. */
  xavier: (shape: readonly number[], seed: number) => {
    const fanIn = shape[0] ?? 1;
    const fanOut = shape[shape.length - 1] ?? 1;
    return Float32Array.from(randn(shape, seed, Math.sqrt(2 / (fanIn + fanOut))).data);
  },
};
