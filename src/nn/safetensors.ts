// Checkpoints in the Hugging Face safetensors format, so a model trained here loads in Python
// (`safetensors.numpy.load_file`, `safetensors.torch.load_file`) and back. Browser and Node alike:
// only Uint8Array, DataView and TextEncoder/TextDecoder (no Buffer, no fs).
//
// Layout (https://huggingface.co/docs/safetensors, the Rust crate's `serialize` / `read_metadata`):
//   8 bytes   N, the header length, an unsigned 64-bit little-endian integer
//   N bytes   UTF-8 JSON: {"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...],
//             "data_offsets": [begin, end]}, ...}; the HF writer pads it with spaces to a multiple of 8
//   the rest  the data section: each tensor's little-endian values, row-major, at [begin, end) relative
//             to the start of the data section. The tensors tile it exactly: sorted by begin, each one
//             starts where the previous ended, the first at 0, the last ends at the end of the file.
// We write what the HF writer writes for F32 tensors (tensors sorted by name, compact JSON, space
// padding), so our files are byte-identical to Python's apart from the order of metadata keys.
import type { Module } from './module';
import { sizeOf } from './tensor';

export interface HostArray {
  shape: number[];
  data: Float32Array;
}

export interface Safetensors {
  tensors: Record<string, HostArray>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';
const F32_BYTES = 4;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Orders names by their UTF-8 bytes, as the Rust writer does (JS string order differs above U+FFFF). */
function compareUtf8(a: string, b: string, encoder: TextEncoder): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

export function serializeSafetensors(tensors: Record<string, HostArray>, metadata?: Record<string, string>): Uint8Array {
  const encoder = new TextEncoder();
  const names = Object.keys(tensors).sort((a, b) => compareUtf8(a, b, encoder));
  // Written by hand rather than JSON.stringify(object): objects put integer-like keys ("0", "12") first,
  // and the Rust writer lists the metadata, then the tensors in the order of their data.
  const fields: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new Error(`safetensors metadata "${key}" is a ${typeof value}; metadata values must be strings (JSON.stringify it)`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:{${Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) throw new Error(`"${METADATA_KEY}" is reserved for metadata in safetensors; rename that tensor`);
    const { shape, data } = tensors[name]!;
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`tensor "${name}" has shape ${formatShape(shape)}; dimensions must be non-negative integers`);
    }
    if (!(data instanceof Float32Array)) throw new Error(`tensor "${name}": data must be a Float32Array (only F32 is written)`);
    if (data.length !== sizeOf(shape)) throw new Error(`tensor "${name}" has ${data.length} values but shape ${formatShape(shape)} needs ${sizeOf(shape)}`);
    const bytes = data.length * F32_BYTES;
    fields.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: 'F32', shape: [...shape], data_offsets: [offset, offset + bytes] })}`);
    offset += bytes;
  }
  const json = encoder.encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // the HF writer pads with spaces so the data starts 8-aligned
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  const view = new DataView(out.buffer);
  for (const name of names) {
    const data = tensors[name]!.data;
    if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else for (let i = 0; i < data.length; i++) view.setFloat32(at + i * F32_BYTES, data[i]!, true);
    at += data.byteLength;
  }
  return out;
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

interface Entry {
  name: string;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, value: unknown): Entry {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`safetensors header: tensor "${name}" is ${JSON.stringify(value)}, expected {dtype, shape, data_offsets}`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new Error(`safetensors header: tensor "${name}" has no dtype string`);
  if (dtype !== 'F32') {
    throw new Error(`tensor "${name}" has dtype ${dtype}, which is not supported: only F32 is; convert the file to float32 first (e.g. in Python, {k: v.float() for k, v in ...})`);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new Error(`safetensors header: tensor "${name}" has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
    throw new Error(`safetensors header: tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new Error(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
  const expected = sizeOf(shape) * F32_BYTES;
  if (end - begin !== expected) {
    throw new Error(`tensor "${name}" with shape ${formatShape(shape)} needs ${expected} bytes of F32, but its data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
  }
  return { name, shape, begin, end };
}

/**
 * Reads a safetensors file of F32 tensors. The tensors' data are copies (not views into `bytes`), so any
 * header length is accepted even when it leaves the data unaligned for a Float32Array.
 */
export function parseSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) throw new Error(`not a safetensors file: ${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(bytes.length - 8)) {
    throw new Error(`not a safetensors file (or truncated): its header length ${declared} is beyond the ${bytes.length - 8} bytes after the length field`);
  }
  const headerLength = Number(declared);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new Error(`not a safetensors file: its ${headerLength}-byte header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new Error('safetensors header: expected a JSON object of tensors');

  // Built with Object.fromEntries, so names like "__proto__" or "constructor" stay plain own keys.
  const metadataPairs: [string, string][] = [];
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name !== METADATA_KEY) {
      entries.push(parseEntry(name, value));
      continue;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`safetensors header: "${METADATA_KEY}" must be an object of strings`);
    for (const [key, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata "${key}" is ${JSON.stringify(v)}; metadata values must be strings`);
      metadataPairs.push([key, v]);
    }
  }

  // The tensors must tile the data section exactly, as the Rust reader (used by Python) requires.
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: Entry | null = null;
  for (const entry of entries) {
    const at = previous?.end ?? 0;
    if (entry.begin < at) {
      throw new Error(`tensors "${previous!.name}" (bytes ${previous!.begin}-${previous!.end}) and "${entry.name}" (bytes ${entry.begin}-${entry.end}) overlap`);
    }
    if (entry.begin > at) throw new Error(`bytes ${at}-${entry.begin} of the data section belong to no tensor (gap before "${entry.name}")`);
    if (entry.end > dataLength) {
      throw new Error(
        `the file is missing bytes (truncated?): tensor "${entry.name}" with shape ${formatShape(entry.shape)} needs data bytes ${entry.begin}-${entry.end}, but the data section has ${dataLength}`,
      );
    }
    previous = entry;
  }
  const covered = previous?.end ?? 0;
  if (covered !== dataLength) {
    throw new Error(`the file has ${dataLength - covered} trailing bytes after the last tensor (the data section has ${dataLength} bytes, the tensors cover ${covered})`);
  }

  const pairs: [string, HostArray][] = [];
  for (const { name, shape, begin, end } of entries) {
    const count = (end - begin) / F32_BYTES;
    let data: Float32Array;
    if (LITTLE_ENDIAN) {
      // Copy through a plain Uint8Array view: `bytes` may be a Node Buffer, whose `slice` is a view whose
      // .buffer is a whole shared allocation (then header bytes would be read as weights).
      data = new Float32Array(new Uint8Array(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin).slice().buffer);
    } else {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + begin + i * F32_BYTES, true);
    }
    pairs.push([name, { shape, data }]);
  }
  return { tensors: Object.fromEntries(pairs), metadata: Object.fromEntries(metadataPairs) };
}

/** A module's parameters as a safetensors file, named by their dotted paths (reads them from the GPU). */
export async function saveModule(module: Module, metadata?: Record<string, string>): Promise<Uint8Array> {
  const named = module.namedParameters();
  const seen = new Set<string>();
  for (const [name] of named) {
    if (seen.has(name)) throw new Error(`saveModule: two parameters are both named "${name}" (a child named with a dot?); rename one`);
    seen.add(name);
  }
  // Reads started together share their waits on the GPU instead of one round trip each.
  const values = await Promise.all(named.map(([, t]) => t.read()));
  return serializeSafetensors(Object.fromEntries(named.map(([name, t], i) => [name, { shape: [...t.shape], data: values[i]! }])), metadata);
}

/**
 * Loads a safetensors file into a module's parameters, by dotted name. All or nothing: a missing tensor,
 * a shape mismatch, or (strict, the default) a tensor the module does not have refuses the whole file,
 * listing every problem, before any parameter is written.
 */
export function loadModule(module: Module, bytes: Uint8Array, options: { strict?: boolean } = {}): void {
  const strict = options.strict ?? true;
  const { tensors } = parseSafetensors(bytes);
  const named = module.namedParameters();
  const problems: string[] = [];
  const lookup = (name: string) => (Object.hasOwn(tensors, name) ? tensors[name] : undefined);
  for (const [name, t] of named) {
    const found = lookup(name);
    if (!found) problems.push(`missing tensor "${name}" (expected shape ${formatShape(t.shape)})`);
    else if (formatShape(found.shape) !== formatShape(t.shape)) {
      problems.push(`tensor "${name}": expected shape ${formatShape(t.shape)}, found ${formatShape(found.shape)}`);
    }
  }
  if (strict) {
    const expected = new Set(named.map(([name]) => name));
    for (const [name, found] of Object.entries(tensors)) {
      if (!expected.has(name)) problems.push(`unexpected tensor "${name}" with shape ${formatShape(found.shape)} (the module has no such parameter)`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `loadModule: the checkpoint does not match the module; nothing was loaded:\n  ${problems.join('\n  ')}` +
        (strict && problems.every((p) => p.startsWith('unexpected')) ? '\n(pass {strict: false} to ignore tensors the module does not have)' : ''),
    );
  }
  const engine = module.engine;
  for (const [name, t] of named) {
    // Through the command stream (not queue.writeBuffer), so the write lands after work already encoded.
    const staging = engine.upload(lookup(name)!.data, `load.${name}`);
    engine.copy(staging, t.buffer, t.size * F32_BYTES);
    engine.pool.release(staging);
  }
}
