// A small ONNX graph builder over proto.ts: named values, one call per node, parameters of engine
// modules as initializers named by their checkpoint paths ("blocks.0.attn.qkv.weight"), and cached
// int64/float constants. The exporters (export*.ts) write our networks with it, op for op as the
// engine computes them, so an ONNX file and the engine agree to float32 rounding.
//
// Values are plain strings (ONNX names). Node and value names carry the scope they were made in
// ("blocks.0/crossAttn/MatMul_31"), which makes ORT's error messages point at the module.
// Opset 17: Split, Squeeze, Unsqueeze, ReduceSum, Pad, Clip take their sizes/axes/bounds as inputs.
import type { Module } from '../nn/module';
import type { Tensor } from '../nn/tensor';
import {
  type Attribute,
  attr,
  DataType,
  DEFAULT_OPSET,
  type Dim,
  encodeModel,
  floatTensor,
  int64Tensor,
  type OnnxModel,
  type OnnxNode,
  type TensorData,
  type ValueInfo,
} from './proto';

export type Value = string;

/** Parameter values by checkpoint path: what parseSafetensors returns, or readParameters(module). */
export type ParameterValues = ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;

/** Reads every parameter of a module back from the GPU, keyed by its dotted path. */
export async function readParameters(module: Module): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const named = module.namedParameters();
  // Reads started together share one wait on the GPU instead of a round trip each.
  const data = await Promise.all(named.map(([, t]) => t.read()));
  return new Map(named.map(([path, t], i) => [path, { shape: [...t.shape], data: data[i]! }]));
}

/** Parameter values from a parsed safetensors file (its `tensors` record). */
export function parameterValuesOf(tensors: Readonly<Record<string, { shape: readonly number[]; data: Float32Array }>>): ParameterValues {
  return new Map(Object.entries(tensors));
}

const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: TensorData[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private readonly scopes: string[] = [];
  private readonly constants = new Map<string, Value>();
  /** Engine tensor -> its checkpoint path and value, set by bindModule. */
  private readonly parameterPaths = new Map<Tensor, string>();
  private readonly parameterValues = new Map<string, Float32Array>();
  private readonly emitted = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /**
   * Makes a module's parameters available as initializers named by their paths (prefix + path).
   * Checks every parameter has a value of the module's shape first, naming each one that has not.
   */
  bindModule(module: Module, values: ParameterValues, prefix = ''): void {
    const problems: string[] = [];
    for (const [path, tensor] of module.namedParameters(prefix)) {
      const value = values.get(path);
      if (!value) problems.push(`"${path}" has no value (expected shape ${formatShape(tensor.shape)})`);
      else if (formatShape(value.shape) !== formatShape(tensor.shape)) problems.push(`"${path}": expected shape ${formatShape(tensor.shape)}, got ${formatShape(value.shape)}`);
      else if (value.data.length !== tensor.size) problems.push(`"${path}": ${value.data.length} values for shape ${formatShape(tensor.shape)}`);
      else {
        this.parameterPaths.set(tensor, path);
        this.parameterValues.set(path, value.data);
      }
    }
    if (problems.length > 0) throw new Error(`ONNX export of "${this.name}": the parameter values do not match the module:\n  ${problems.join('\n  ')}`);
  }

  /** The initializer holding an engine parameter (emitted on first use). */
  parameter(tensor: Tensor): Value {
    const path = this.parameterPaths.get(tensor);
    if (path === undefined) throw new Error(`ONNX export of "${this.name}": parameter ${tensor.describe()} belongs to no bound module (call bindModule first)`);
    if (!this.emitted.has(path)) {
      this.claim(path);
      this.initializers.push(floatTensor(path, tensor.shape, this.parameterValues.get(path)!));
      this.emitted.add(path);
    }
    return path;
  }

  /** Runs fn with node names prefixed by `name` (module paths: "blocks.0", "attn"). */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private claim(name: string): void {
    if (this.used.has(name)) throw new Error(`ONNX export of "${this.name}": the name "${name}" is used twice`);
    this.used.add(name);
  }

  private fresh(hint: string): string {
    const prefix = this.scopes.length > 0 ? `${this.scopes.join('/')}/` : '';
    let name: string;
    do name = `${prefix}${hint}_${this.counter++}`;
    while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  input(name: string, elemType: DataType, shape: readonly Dim[]): Value {
    this.claim(name);
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Declares `value` a graph output called `name` (through an Identity when the names differ). */
  output(value: Value, name: string, elemType: DataType, shape: readonly Dim[]): void {
    if (value !== name) {
      this.claim(name);
      this.nodes.push({ opType: 'Identity', inputs: [value], outputs: [name], name });
    }
    this.outputs.push({ name, elemType, shape });
  }

  /** A node with one output. */
  op(opType: string, inputs: readonly Value[], attributes: readonly Attribute[] = [], hint = opType): Value {
    return this.opMany(opType, inputs, 1, attributes, hint)[0]!;
  }

  opMany(opType: string, inputs: readonly Value[], outputCount: number, attributes: readonly Attribute[] = [], hint = opType): Value[] {
    const name = this.fresh(hint);
    const outputs = outputCount === 1 ? [name] : Array.from({ length: outputCount }, (_, i) => `${name}:${i}`);
    for (const o of outputs.slice(outputCount === 1 ? 1 : 0)) this.claim(o);
    this.nodes.push({ opType, inputs, outputs, name, attributes });
    return outputs;
  }

  // ---- constants (deduplicated by content) ----

  private cached(key: string, make: (name: string) => TensorData, hint: string): Value {
    let name = this.constants.get(key);
    if (!name) {
      const saved = this.scopes.splice(0); // constants are shared across scopes: name them at the top
      name = this.fresh(hint);
      this.scopes.push(...saved);
      this.initializers.push(make(name));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, sizes). */
  int64s(values: readonly number[]): Value {
    return this.cached(`i64:${values.join(',')}`, (name) => int64Tensor(name, [values.length], values), 'int64s');
  }

  /** A 0-D int64 constant (Gather's scalar index). */
  int64Scalar(value: number): Value {
    return this.cached(`i64s:${value}`, (name) => int64Tensor(name, [], [value]), 'index');
  }

  /** A float32 scalar (rounded to f32 once, as a WGSL literal is). */
  scalar(value: number): Value {
    const f = Math.fround(value);
    return this.cached(`f32s:${Object.is(f, -0) ? '-0' : f}`, (name) => floatTensor(name, [], [f]), 'scalar');
  }

  /** A float32 constant tensor. */
  floats(dims: readonly number[], values: ArrayLike<number>, hint = 'const'): Value {
    const data = Float32Array.from(values);
    return this.cached(`f32:${formatShape(dims)}:${Array.from(data).join(',')}`, (name) => floatTensor(name, dims, data), hint);
  }

  // ---- op shorthands ----

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
  /** Reshape; 0 copies the input's dimension (dynamic batch), -1 is inferred. */
  reshape(x: Value, shape: readonly number[]): Value {
    return this.op('Reshape', [x, this.int64s(shape)]);
  }
  transpose(x: Value, perm: readonly number[]): Value {
    return this.op('Transpose', [x], [attr.ints('perm', perm)]);
  }
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.op('Unsqueeze', [x, this.int64s(axes)]);
  }
  /** Splits along `axis` into pieces of the given sizes. */
  split(x: Value, axis: number, sizes: readonly number[]): Value[] {
    return this.opMany('Split', [x, this.int64s(sizes)], sizes.length, [attr.int('axis', axis)]);
  }
  /** x[..., index, ...] along `axis`, the axis removed. */
  gatherIndex(x: Value, axis: number, index: number): Value {
    return this.op('Gather', [x, this.int64Scalar(index)], [attr.int('axis', axis)]);
  }
  concat(values: readonly Value[], axis: number): Value {
    return this.op('Concat', values, [attr.int('axis', axis)]);
  }
  cast(x: Value, to: DataType): Value {
    return this.op('Cast', [x], [attr.int('to', to)]);
  }
  reduceSum(x: Value, axes: readonly number[], keepDims: boolean): Value {
    return this.op('ReduceSum', [x, this.int64s(axes)], [attr.int('keepdims', keepDims ? 1 : 0)]);
  }

  /** The model, ready for encodeModel. */
  build(options: { docString?: string; metadata?: Record<string, string> } = {}): OnnxModel {
    return {
      producerName: 'senseflow-web',
      opsetImports: [{ domain: '', version: DEFAULT_OPSET }],
      ...(options.docString ? { docString: options.docString } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
      graph: { name: this.name, nodes: this.nodes, inputs: this.inputs, outputs: this.outputs, initializers: this.initializers },
    };
  }

  encode(options: { docString?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    return encodeModel(this.build(options));
  }

  /** How many nodes so far (for tests and reports). */
  get nodeCount(): number {
    return this.nodes.length;
  }
}

export { attr, DataType };
