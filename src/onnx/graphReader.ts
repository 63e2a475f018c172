// A minimal ONNX reader: the graph's inputs and outputs (names, element types, shapes) and the
// external-data files its initializers point to, which is what a bundle check needs ("the manifest
// says the denoiser takes `sample`; does the file?"). Everything else is skipped by length, so a
// large model is scanned without decoding its weights. No protobuf library (the writer is proto.ts).
//
// Fields read (onnx/onnx.proto):
//   ModelProto      graph 7
//   GraphProto      node 1 (counted only), name 2, initializer 5, input 11, output 12
//   TensorProto     name 8, external_data 13 (StringStringEntryProto key 1, value 2), data_location 14 (1 = EXTERNAL)
//   ValueInfoProto  name 1, type 2;  TypeProto tensor_type 1;  TypeProto.Tensor elem_type 1, shape 2
//   TensorShapeProto dim 1;  Dimension dim_value 1, dim_param 2
// Graph inputs that are also initializers (allowed before IR 4) are not inputs a caller feeds: left out.
import type { DataType, Dim } from './proto';

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType (1 FLOAT, 7 INT64, ...); 0 when the type is not a tensor or is unset. */
  elemType: DataType | 0;
  /** null when the file gives no shape. */
  shape: Dim[] | null;
}

export interface OnnxExternalData {
  /** The initializer stored outside the file. */
  tensor: string;
  /** The file it is in, relative to the model (external_data "location"). */
  location: string;
}

export interface OnnxGraphSummary {
  graphName: string;
  nodeCount: number;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializerCount: number;
  externalData: OnnxExternalData[];
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextDecoder('utf-8');

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private fail(what: string): never {
    throw new Error(`not a valid ONNX model: ${what} at byte ${this.pos}`);
  }

  /** A varint as a number (values past 2^53 lose precision; nothing read here is that large). */
  varint(): number {
    let result = 0;
    let factor = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * factor;
      if (b < 0x80) return result;
      factor *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** The next field's key, or null at the end. */
  key(): { field: number; wire: number } | null {
    if (this.done) return null;
    const key = this.varint();
    return { field: Math.floor(key / 8), wire: key % 8 };
  }

  /** A length-delimited field's sub-reader. */
  nested(): Reader {
    const length = this.varint();
    if (this.pos + length > this.end) this.fail(`a field of ${length} bytes runs past the end of its message`);
    const child = new Reader(this.bytes, this.pos, this.pos + length);
    this.pos += length;
    return child;
  }

  string(): string {
    const r = this.nested();
    return utf8.decode(r.bytes.subarray(r.pos, r.end));
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH_DELIMITED:
        this.nested();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) this.fail('truncated field');
    this.pos += n;
  }
}

/** Calls `on(field, wire, reader)` for each field; fields `on` does not consume are skipped. */
function fields(r: Reader, on: (field: number, wire: number, r: Reader) => boolean): void {
  for (let key = r.key(); key; key = r.key()) {
    if (!on(key.field, key.wire, r)) r.skip(key.wire);
  }
}

function readDimension(r: Reader): Dim {
  let dim: Dim = '';
  fields(r, (field, wire, d) => {
    if (field === 1 && wire === WIRE_VARINT) dim = d.varint();
    else if (field === 2 && wire === WIRE_LENGTH_DELIMITED) dim = d.string();
    else return false;
    return true;
  });
  return dim;
}

function readValueInfo(r: Reader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  fields(r, (field, wire, v) => {
    if (wire !== WIRE_LENGTH_DELIMITED) return false;
    if (field === 1) info.name = v.string();
    else if (field === 2) {
      fields(v.nested(), (typeField, typeWire, t) => {
        if (typeField !== 1 || typeWire !== WIRE_LENGTH_DELIMITED) return false; // not a tensor type
        fields(t.nested(), (tensorField, tensorWire, tr) => {
          if (tensorField === 1 && tensorWire === WIRE_VARINT) info.elemType = tr.varint() as DataType;
          else if (tensorField === 2 && tensorWire === WIRE_LENGTH_DELIMITED) {
            const shape: Dim[] = [];
            fields(tr.nested(), (dimField, dimWire, s) => {
              if (dimField !== 1 || dimWire !== WIRE_LENGTH_DELIMITED) return false;
              shape.push(readDimension(s.nested()));
              return true;
            });
            info.shape = shape;
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return info;
}

function readInitializer(r: Reader): { name: string; location: string | null } {
  let name = '';
  let external = false;
  let location: string | null = null;
  fields(r, (field, wire, t) => {
    if (field === 8 && wire === WIRE_LENGTH_DELIMITED) name = t.string();
    else if (field === 14 && wire === WIRE_VARINT) external = t.varint() === 1;
    else if (field === 13 && wire === WIRE_LENGTH_DELIMITED) {
      let key = '';
      let value = '';
      fields(t.nested(), (entryField, entryWire, e) => {
        if (entryWire !== WIRE_LENGTH_DELIMITED) return false;
        if (entryField === 1) key = e.string();
        else if (entryField === 2) value = e.string();
        else return false;
        return true;
      });
      if (key === 'location') location = value;
    } else return false;
    return true;
  });
  return { name, location: external ? location : null };
}

/** The inputs, outputs and external-data files of an ONNX model. Throws on bytes that are not one. */
export function readOnnxGraph(bytes: Uint8Array): OnnxGraphSummary {
  const model: { graph?: Reader } = {};
  fields(new Reader(bytes), (field, wire, r) => {
    if (field !== 7 || wire !== WIRE_LENGTH_DELIMITED) return false;
    model.graph = r.nested();
    return true;
  });
  const graph = model.graph;
  if (!graph) throw new Error('not a valid ONNX model: no graph (ModelProto field 7)');
  const summary: OnnxGraphSummary = { graphName: '', nodeCount: 0, inputs: [], outputs: [], initializerCount: 0, externalData: [] };
  const initializers = new Set<string>();
  fields(graph, (field, wire, r) => {
    if (wire !== WIRE_LENGTH_DELIMITED) return false;
    if (field === 1) {
      summary.nodeCount++;
      return false; // skipped by length
    }
    if (field === 2) summary.graphName = r.string();
    else if (field === 5) {
      const { name, location } = readInitializer(r.nested());
      initializers.add(name);
      summary.initializerCount++;
      if (location !== null) summary.externalData.push({ tensor: name, location });
    } else if (field === 11) summary.inputs.push(readValueInfo(r.nested()));
    else if (field === 12) summary.outputs.push(readValueInfo(r.nested()));
    else return false;
    return true;
  });
  summary.inputs = summary.inputs.filter((v) => !initializers.has(v.name));
  return summary;
}
