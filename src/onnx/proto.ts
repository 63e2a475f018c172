// A small writer for ONNX models (onnx.proto, protobuf binary encoding), with no protobuf library:
// enough of ModelProto to export our networks (nodes, initializers, typed inputs and outputs,
// attributes) and to build one-op models for benchmarks and tests.
//
// Protobuf wire format in brief: a message is a sequence of fields; each field is a key
// (field_number << 3 | wire_type, as a varint) followed by its value. Wire types used here:
//   0 varint            int32, int64, enums (negative numbers take 10 bytes, two's complement)
//   2 length-delimited  strings, bytes, nested messages (a varint byte length, then the bytes)
//   5 32-bit            float (IEEE 754, little-endian)
// onnx.proto is proto2: repeated scalars (TensorProto.dims, AttributeProto.ints/floats) are written
// unpacked, one key per value, which is proto2's canonical encoding (parsers accept both forms).
//
// Field numbers, from onnx/onnx.proto:
//   ModelProto          ir_version 1, producer_name 2, producer_version 3, domain 4, model_version 5,
//                       doc_string 6, graph 7, opset_import 8, metadata_props 14
//   OperatorSetIdProto  domain 1, version 2
//   GraphProto          node 1, name 2, initializer 5, doc_string 10, input 11, output 12, value_info 13
//   NodeProto           input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6, domain 7
//   AttributeProto      name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9, type 20
//   TensorProto         dims 1, data_type 2, name 8, raw_data 9, doc_string 12
//   ValueInfoProto      name 1, type 2, doc_string 3
//   TypeProto           tensor_type 1;  TypeProto.Tensor  elem_type 1, shape 2
//   TensorShapeProto    dim 1;  TensorShapeProto.Dimension  dim_value 1, dim_param 2
//   StringStringEntryProto  key 1, value 2
//
// Large tensors are not copied while the message tree is built: a Writer keeps a list of chunks
// (views of the caller's arrays included) and only encodeModel() concatenates them, once.

/** TensorProto.DataType */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType (the ones this writer emits). */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

/** IR version 8 (ONNX 1.10+) with the default-domain opset 17 (ONNX 1.12): what onnxruntime-web and our exports target. */
export const DEFAULT_IR_VERSION = 8;
export const DEFAULT_OPSET = 17;

// ---- the model, as plain data ----

export interface OnnxModel {
  graph: OnnxGraph;
  /** Defaults to DEFAULT_IR_VERSION. */
  irVersion?: number;
  /** Defaults to [{ domain: '', version: DEFAULT_OPSET }]. */
  opsetImports?: readonly OpsetImport[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Free-form key/value metadata (ModelProto.metadata_props). */
  metadata?: Readonly<Record<string, string>>;
}

export interface OpsetImport {
  /** '' is the default ONNX domain ("ai.onnx"). */
  domain: string;
  version: number;
}

export interface OnnxGraph {
  name: string;
  /** Topologically sorted. */
  nodes: readonly OnnxNode[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers?: readonly TensorData[];
  /** Types of intermediate values (optional; helps shape inference and debugging). */
  valueInfo?: readonly ValueInfo[];
  docString?: string;
}

export interface OnnxNode {
  opType: string;
  /** Value names; '' marks an omitted optional input. */
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Operator-set domain; omitted (or '') for standard ONNX operators. */
  domain?: string;
  attributes?: readonly Attribute[];
  docString?: string;
}

/** A tensor value: an initializer, or an attribute's tensor. */
export interface TensorData {
  name: string;
  dataType: DataType;
  dims: readonly number[];
  /** The elements, row-major, fixed-width little-endian (TensorProto.raw_data). */
  rawData: Uint8Array;
  docString?: string;
}

/** A dimension: a fixed size, or a symbolic name ('batch') for a size known only at run time. */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  elemType: DataType;
  /** null: rank unknown (no shape written). */
  shape: readonly Dim[] | null;
  docString?: string;
}

export type Attribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number | bigint }
  | { name: string; type: 'string'; value: string | Uint8Array }
  | { name: string; type: 'tensor'; value: TensorData }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'ints'; value: readonly (number | bigint)[] }
  | { name: string; type: 'strings'; value: readonly string[] };

/** Attribute constructors: `attr.int('transB', 1)`, `attr.floats('scales', [1, 2])`. */
export const attr = {
  float: (name: string, value: number): Attribute => ({ name, type: 'float', value }),
  int: (name: string, value: number | bigint): Attribute => ({ name, type: 'int', value }),
  string: (name: string, value: string | Uint8Array): Attribute => ({ name, type: 'string', value }),
  tensor: (name: string, value: TensorData): Attribute => ({ name, type: 'tensor', value }),
  floats: (name: string, value: readonly number[]): Attribute => ({ name, type: 'floats', value }),
  ints: (name: string, value: readonly (number | bigint)[]): Attribute => ({ name, type: 'ints', value }),
  strings: (name: string, value: readonly string[]): Attribute => ({ name, type: 'strings', value }),
};

// ---- tensor and value helpers ----

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function checkDims(name: string, dims: readonly number[], length: number): void {
  for (const d of dims) if (!Number.isInteger(d) || d < 0) throw new Error(`ONNX tensor "${name}": invalid dims [${dims.join(', ')}]`);
  if (elementCount(dims) !== length) throw new Error(`ONNX tensor "${name}": ${length} values for dims [${dims.join(', ')}]`);
}

/** A FLOAT tensor. A Float32Array is referenced, not copied (on little-endian hosts): do not modify it before encoding. */
export function floatTensor(name: string, dims: readonly number[], data: Float32Array | ArrayLike<number>): TensorData {
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  checkDims(name, dims, values.length);
  let rawData: Uint8Array;
  if (LITTLE_ENDIAN_HOST) {
    rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  } else {
    rawData = new Uint8Array(values.length * 4);
    const view = new DataView(rawData.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  }
  return { name, dataType: DataType.FLOAT, dims: [...dims], rawData };
}

/** An INT64 tensor (shapes for Reshape, axes, indices). */
export function int64Tensor(name: string, dims: readonly number[], data: ArrayLike<number | bigint>): TensorData {
  checkDims(name, dims, data.length);
  const rawData = new Uint8Array(data.length * 8);
  const view = new DataView(rawData.buffer);
  for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i]!), true);
  return { name, dataType: DataType.INT64, dims: [...dims], rawData };
}

/** A float tensor graph input or output. */
export function floatValue(name: string, shape: readonly Dim[] | null): ValueInfo {
  return { name, elemType: DataType.FLOAT, shape };
}

// ---- protobuf encoding ----

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();
const UINT64_MASK = (1n << 64n) - 1n;

/** Accumulates an encoded message as a list of chunks, so nested messages and big payloads are never copied twice. */
export class Writer {
  private readonly chunks: Uint8Array[] = [];
  private scratch = new Uint8Array(256);
  private scratchUsed = 0;
  /** The encoded size so far, in bytes. */
  length = 0;

  private reserve(bytes: number): void {
    if (this.scratchUsed + bytes <= this.scratch.length) return;
    this.flushScratch();
    if (bytes > this.scratch.length) this.scratch = new Uint8Array(Math.max(bytes, this.scratch.length * 2));
  }

  private flushScratch(): void {
    if (this.scratchUsed === 0) return;
    this.chunks.push(this.scratch.subarray(0, this.scratchUsed));
    this.scratch = new Uint8Array(this.scratch.length);
    this.scratchUsed = 0;
  }

  private byte(b: number): void {
    this.scratch[this.scratchUsed++] = b;
    this.length++;
  }

  /** A raw varint: non-negative integers up to 2^53 as numbers; int64 (negative included) as a number or a bigint. */
  varint(value: number | bigint): void {
    this.reserve(10);
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
      let v = value;
      while (v >= 0x80) {
        this.byte((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.byte(v);
      return;
    }
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`varint: ${value} is not a safe integer (pass a bigint)`);
    // Two's complement in 64 bits: -1 becomes 2^64 - 1 (ten bytes), as protobuf encodes negative int64.
    let v = BigInt(value) & UINT64_MASK;
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** A varint field (int32, int64, enum, bool). */
  int(field: number, value: number | bigint): void {
    this.key(field, WIRE_VARINT);
    this.varint(value);
  }

  /** A float field (fixed 32 bits, little-endian). */
  float(field: number, value: number): void {
    this.key(field, WIRE_FIXED32);
    this.reserve(4);
    new DataView(this.scratch.buffer, this.scratch.byteOffset).setFloat32(this.scratchUsed, value, true);
    this.scratchUsed += 4;
    this.length += 4;
  }

  /** A bytes field; the array is referenced, not copied. */
  bytes(field: number, data: Uint8Array): void {
    this.key(field, WIRE_LENGTH_DELIMITED);
    this.varint(data.byteLength);
    if (data.byteLength === 0) return;
    this.flushScratch();
    this.chunks.push(data);
    this.length += data.byteLength;
  }

  /** A string field (UTF-8). */
  string(field: number, value: string): void {
    this.bytes(field, textEncoder.encode(value));
  }

  /** A nested message field, written by `write` into a child writer. */
  message(field: number, write: (w: Writer) => void): void {
    const child = new Writer();
    write(child);
    this.key(field, WIRE_LENGTH_DELIMITED);
    this.varint(child.length);
    this.flushScratch();
    this.chunks.push(...child.takeChunks());
    this.length += child.length;
  }

  private takeChunks(): Uint8Array[] {
    this.flushScratch();
    return this.chunks;
  }

  /** The encoded message as one array. */
  finish(): Uint8Array {
    const chunks = this.takeChunks();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}

function writeTensor(w: Writer, t: TensorData): void {
  const expectedBytes = elementCount(t.dims) * bytesPerElement(t.dataType);
  if (t.rawData.byteLength !== expectedBytes) {
    throw new Error(`ONNX tensor "${t.name}": ${t.rawData.byteLength} bytes of data for dims [${t.dims.join(', ')}] (expected ${expectedBytes})`);
  }
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  w.bytes(9, t.rawData);
  if (t.docString) w.string(12, t.docString);
}

function bytesPerElement(type: DataType): number {
  switch (type) {
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
      return 1;
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 2;
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 4;
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.DOUBLE:
      return 8;
    default:
      throw new Error(`ONNX data type ${type} cannot be stored as raw_data`);
  }
}

function writeValueInfo(w: Writer, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      if (v.shape) {
        tensor.message(2, (shape) => {
          for (const d of v.shape!) {
            shape.message(1, (dim) => {
              if (typeof d === 'number') dim.int(1, d);
              else dim.string(2, d);
            });
          }
        });
      }
    }),
  );
  if (v.docString) w.string(3, v.docString);
}

function writeAttribute(w: Writer, a: Attribute): void {
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.int(20, AttributeType.FLOAT);
      w.float(2, a.value);
      break;
    case 'int':
      w.int(20, AttributeType.INT);
      w.int(3, a.value);
      break;
    case 'string':
      w.int(20, AttributeType.STRING);
      if (typeof a.value === 'string') w.string(4, a.value);
      else w.bytes(4, a.value);
      break;
    case 'tensor':
      w.int(20, AttributeType.TENSOR);
      w.message(5, (t) => writeTensor(t, a.value));
      break;
    case 'floats':
      w.int(20, AttributeType.FLOATS);
      for (const v of a.value) w.float(7, v);
      break;
    case 'ints':
      w.int(20, AttributeType.INTS);
      for (const v of a.value) w.int(8, v);
      break;
    case 'strings':
      w.int(20, AttributeType.STRINGS);
      for (const v of a.value) w.string(9, v);
      break;
  }
}

function writeNode(w: Writer, n: OnnxNode): void {
  for (const input of n.inputs) w.string(1, input);
  for (const output of n.outputs) w.string(2, output);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, (m) => writeAttribute(m, a));
  if (n.docString) w.string(6, n.docString);
  if (n.domain) w.string(7, n.domain);
}

function writeGraph(w: Writer, g: OnnxGraph): void {
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name);
  for (const t of g.initializers ?? []) w.message(5, (m) => writeTensor(m, t));
  if (g.docString) w.string(10, g.docString);
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
  for (const v of g.valueInfo ?? []) w.message(13, (m) => writeValueInfo(m, v));
}

/** Checks what an ONNX runtime would reject with a less helpful message: unknown names, duplicates. */
export function validateGraph(g: OnnxGraph): void {
  const defined = new Set<string>();
  const define = (name: string, what: string) => {
    if (!name) throw new Error(`ONNX graph "${g.name}": ${what} has an empty name`);
    if (defined.has(name)) throw new Error(`ONNX graph "${g.name}": "${name}" (${what}) is defined twice`);
    defined.add(name);
  };
  for (const v of g.inputs) define(v.name, 'graph input');
  for (const t of g.initializers ?? []) if (!defined.has(t.name)) define(t.name, 'initializer');
  for (const n of g.nodes) {
    for (const input of n.inputs) {
      if (input && !defined.has(input)) throw new Error(`ONNX graph "${g.name}": node ${n.name || n.opType} reads "${input}" before anything defines it`);
    }
    for (const output of n.outputs) if (output) define(output, `output of ${n.name || n.opType}`);
  }
  for (const v of g.outputs) if (!defined.has(v.name)) throw new Error(`ONNX graph "${g.name}": output "${v.name}" is never computed`);
}

/** Encodes a model as ONNX protobuf bytes (what InferenceSession.create and onnx.load take). */
export function encodeModel(model: OnnxModel): Uint8Array {
  validateGraph(model.graph);
  const w = new Writer();
  w.int(1, model.irVersion ?? DEFAULT_IR_VERSION);
  if (model.producerName) w.string(2, model.producerName);
  if (model.producerVersion) w.string(3, model.producerVersion);
  if (model.docString) w.string(6, model.docString);
  w.message(7, (g) => writeGraph(g, model.graph));
  for (const opset of model.opsetImports ?? [{ domain: '', version: DEFAULT_OPSET }]) {
    w.message(8, (m) => {
      m.string(1, opset.domain);
      m.int(2, opset.version);
    });
  }
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (m) => {
      m.string(1, key);
      m.string(2, value);
    });
  }
  return w.finish();
}

/**
 * A model with one MatMul: a[...batch, M, K] @ b[...batch, K, N] -> y[...batch, M, N], both operands
 * graph inputs (so a benchmark can feed them from GPU buffers).
 */
export function matmulModel(aShape: readonly Dim[], bShape: readonly Dim[], yShape: readonly Dim[]): Uint8Array {
  return encodeModel({
    producerName: 'senseflow-web',
    graph: {
      name: 'matmul',
      nodes: [{ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'], name: 'matmul' }],
      inputs: [floatValue('a', aShape), floatValue('b', bShape)],
      outputs: [floatValue('y', yShape)],
    },
  });
}
