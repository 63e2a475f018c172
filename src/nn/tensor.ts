// Tensors on GPU buffers, their lifetimes, and the autograd tape.
//
// Lifetimes are explicit: a tensor's buffer goes back to the engine's pool on dispose(). tidy(fn)
// disposes every tensor created inside fn except those it returns (and parameters, which live until
// disposed by hand), so a training step written inside tidy cannot leak.
//
// Autograd is a tape: an op whose inputs need gradients appends an entry {inputs, output, backward};
// backward(root) walks the tape from the end, handing each entry the gradient of its output and
// accumulating what it returns into its inputs' gradients. A parameter's gradient lands in `.grad`
// (added to what is there, so several losses can contribute before an optimizer step).
import type { Engine } from './engine';

export type DType = 'f32' | 'u32';

interface TapeEntry {
  inputs: readonly Tensor[];
  output: Tensor;
  /** Gradients of the inputs given the output's; null where an input needs none. */
  backward: (gradOutput: Tensor) => readonly (Tensor | null)[];
}

interface Context {
  scopes: Set<Tensor>[];
  tape: TapeEntry[];
  gradEnabled: boolean;
}

const contexts = new WeakMap<Engine, Context>();

function context(engine: Engine): Context {
  let ctx = contexts.get(engine);
  if (!ctx) contexts.set(engine, (ctx = { scopes: [], tape: [], gradEnabled: true }));
  return ctx;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

let nextId = 0;

/** A pooled buffer shared by a tensor and its views (reshape); returned to the pool when the last one is disposed. */
export interface Storage {
  readonly buffer: GPUBuffer;
  refs: number;
}

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  /** A parameter is a leaf the optimizer updates: it needs gradients and outlives tidy scopes. */
  readonly isParameter: boolean;
  /** True for parameters and for every output of a recorded op. */
  requiresGrad: boolean;
  grad: Tensor | null = null;
  label: string;
  private storage: Storage | null;

  constructor(
    readonly engine: Engine,
    readonly shape: readonly number[],
    storage: GPUBuffer | Storage,
    readonly dtype: DType = 'f32',
    options: { parameter?: boolean; requiresGrad?: boolean; label?: string } = {},
  ) {
    for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    this.size = sizeOf(shape);
    if ('refs' in storage) {
      if (storage.refs <= 0) throw new Error('view of a disposed tensor');
      storage.refs++;
      this.storage = storage;
    } else {
      this.storage = { buffer: storage, refs: 1 };
    }
    this.isParameter = options.parameter ?? false;
    this.requiresGrad = this.isParameter || (options.requiresGrad ?? false);
    this.label = options.label ?? '';
    if (!this.isParameter) context(engine).scopes.at(-1)?.add(this);
  }

  get buffer(): GPUBuffer {
    if (!this.storage) throw new Error(`tensor ${this.describe()} used after dispose()`);
    return this.storage.buffer;
  }

  get isDisposed(): boolean {
    return this.storage === null;
  }

  /** The same data under another shape of the same size (no copy; the buffer is shared). */
  view(shape: readonly number[]): Tensor {
    if (!this.storage) throw new Error(`view of ${this.describe()} after dispose()`);
    if (sizeOf(shape) !== this.size) throw new Error(`view: ${this.describe()} has ${this.size} values, [${shape.join(', ')}] has ${sizeOf(shape)}`);
    return new Tensor(this.engine, shape, this.storage, this.dtype, { label: this.label });
  }

  get rank(): number {
    return this.shape.length;
  }

  describe(): string {
    return `${this.label || `#${this.id}`}[${this.shape.join(', ')}]`;
  }

  dispose(): void {
    if (!this.storage) return;
    if (--this.storage.refs === 0) this.engine.pool.release(this.storage.buffer);
    this.storage = null;
    this.grad?.dispose();
    this.grad = null;
  }

  async read(): Promise<Float32Array> {
    const data = await this.engine.readBuffer(this.buffer, this.size);
    return new Float32Array(data);
  }

  async readU32(): Promise<Uint32Array> {
    return new Uint32Array(await this.engine.readBuffer(this.buffer, this.size));
  }

  /** Reads a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a one-element tensor, got ${this.describe()}`);
    return (await this.read())[0]!;
  }
}

/** A new uninitialised f32 (or u32) tensor from the pool. */
export function empty(engine: Engine, shape: readonly number[], dtype: DType = 'f32', label = ''): Tensor {
  return new Tensor(engine, shape, engine.pool.acquire(sizeOf(shape) * 4, label || 'tensor'), dtype, { label });
}

export function fromArray(engine: Engine, shape: readonly number[], data: ArrayLike<number>, dtype: DType = 'f32', label = ''): Tensor {
  if (data.length !== sizeOf(shape)) throw new Error(`${label || 'tensor'}: ${data.length} values for shape [${shape.join(', ')}]`);
  const typed = dtype === 'f32' ? Float32Array.from(data) : Uint32Array.from(data);
  return new Tensor(engine, shape, engine.upload(typed, label || 'tensor'), dtype, { label });
}

export function parameter(engine: Engine, shape: readonly number[], data: ArrayLike<number>, label: string): Tensor {
  if (data.length !== sizeOf(shape)) throw new Error(`${label}: ${data.length} values for shape [${shape.join(', ')}]`);
  return new Tensor(engine, shape, engine.upload(Float32Array.from(data), label), 'f32', { parameter: true, label });
}

export type Kept = Tensor | readonly Kept[] | { readonly [key: string]: Kept } | number | string | boolean | null | undefined | void;

// Finds the tensors in tidy's result: in arrays and plain objects only (anything else, such as a class
// instance that refers back to itself, is not looked into), each visited once.
function collect(value: unknown, into: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  if (!value || typeof value !== 'object' || seen.has(value)) return;
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return;
  seen.add(value);
  for (const v of Object.values(value)) collect(v, into, seen);
}

/**
 * Runs fn and disposes every tensor it created except those in its result (which move to the enclosing
 * scope). Tape entries recorded inside are dropped at the end too, unless the result still needs them
 * (call backward inside the scope). fn must be synchronous.
 */
export function tidy<T extends Kept>(engine: Engine, fn: () => T): T {
  const ctx = context(engine);
  const scope = new Set<Tensor>();
  const tapeLength = ctx.tape.length;
  ctx.scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy() takes a synchronous function; await outside it');
  } finally {
    ctx.scopes.pop();
  }
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of scope) {
    if (keep.has(t)) ctx.scopes.at(-1)?.add(t);
    else t.dispose();
  }
  ctx.tape.length = Math.min(ctx.tape.length, tapeLength);
  return result;
}

/** Keeps a tensor alive past the tidy scope it was made in (the caller now owns it). */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of context(t.engine).scopes) scope.delete(t);
  return t;
}

export function noGrad<T>(engine: Engine, fn: () => T): T {
  const ctx = context(engine);
  const previous = ctx.gradEnabled;
  ctx.gradEnabled = false;
  try {
    return fn();
  } finally {
    ctx.gradEnabled = previous;
  }
}

/**
 * Called by every op after computing its output: records the backward closure when gradients are
 * enabled and any input needs one. The closure receives dL/d(output) and returns dL/d(input) per input.
 */
export function record(output: Tensor, inputs: readonly Tensor[], backward: TapeEntry['backward']): Tensor {
  const ctx = context(output.engine);
  if (!ctx.gradEnabled || !inputs.some((t) => t.requiresGrad)) return output;
  output.requiresGrad = true;
  ctx.tape.push({ inputs, output, backward });
  return output;
}

/**
 * Backpropagates from `root` (seeded with `seed`, default ones for a scalar root) through the tape,
 * accumulates into parameters' `.grad`, and clears the tape. Returns the gradient of every tensor it
 * reached (temporaries: disposed with the enclosing tidy scope), so tests can read any of them.
 */
export function backward(root: Tensor, seed?: Tensor, add: (a: Tensor, b: Tensor) => Tensor = defaultAdd): Map<Tensor, Tensor> {
  const engine = root.engine;
  const ctx = context(engine);
  if (!seed) {
    if (root.size !== 1) throw new Error(`backward() from non-scalar ${root.describe()} needs a seed gradient`);
    seed = fromArray(engine, root.shape, [1], 'f32', 'grad.seed');
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const tape = ctx.tape;
  ctx.tape = [];
  const previous = ctx.gradEnabled;
  ctx.gradEnabled = false;
  try {
    for (let i = tape.length - 1; i >= 0; i--) {
      const entry = tape[i]!;
      const gradOutput = grads.get(entry.output);
      if (!gradOutput) continue;
      const gradInputs = entry.backward(gradOutput);
      entry.inputs.forEach((input, k) => {
        const g = gradInputs[k];
        if (!g || !input.requiresGrad) return;
        checkShape(g, input, entry);
        const existing = grads.get(input);
        grads.set(input, existing ? add(existing, g) : g);
      });
    }
  } finally {
    ctx.gradEnabled = previous;
  }
  for (const [t, g] of grads) {
    if (!t.isParameter) continue;
    t.grad = t.grad ? keep(addInPlaceOrNew(t.grad, g, add)) : keep(copyOf(g));
  }
  return grads;
}

function checkShape(g: Tensor, input: Tensor, entry: TapeEntry): void {
  if (g.size !== input.size) {
    throw new Error(`backward of ${entry.output.describe()}: gradient [${g.shape.join(', ')}] for input ${input.describe()}`);
  }
}

// The tape uses the elementwise add op, registered by nn/ops/elementwise.ts (tensor.ts cannot import ops).
let defaultAddImpl: ((a: Tensor, b: Tensor) => Tensor) | null = null;
let copyImpl: ((a: Tensor) => Tensor) | null = null;

export function registerTapeOps(add: (a: Tensor, b: Tensor) => Tensor, copy: (a: Tensor) => Tensor): void {
  defaultAddImpl = add;
  copyImpl = copy;
}

function defaultAdd(a: Tensor, b: Tensor): Tensor {
  if (!defaultAddImpl) throw new Error('import nn/ops before calling backward()');
  return defaultAddImpl(a, b);
}

function copyOf(a: Tensor): Tensor {
  if (!copyImpl) throw new Error('import nn/ops before calling backward()');
  return copyImpl(a);
}

function addInPlaceOrNew(existing: Tensor, g: Tensor, add: (a: Tensor, b: Tensor) => Tensor): Tensor {
  const sum = add(existing, g);
  existing.dispose();
  return sum;
}
