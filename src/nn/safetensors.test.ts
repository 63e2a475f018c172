import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from './engine';
import { init, Module } from './module';
import { parseSafetensors, saveModule, serializeSafetensors, loadModule, type HostArray } from './safetensors';
import type { Tensor } from './tensor';
import { testEngine } from './testing';

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
});

class Block extends Module {
  readonly weight: Tensor;
  constructor(engine: Engine, seed: number, width: number) {
    super(engine);
    this.weight = this.param('weight', [width, 3], init.normal([width, 3], 1, seed));
  }
}

class Net extends Module {
  readonly bias: Tensor;
  readonly block: Block;
  constructor(engine: Engine, seed: number, width = 5) {
    super(engine);
    this.bias = this.param('bias', [7], init.normal([7], 1, seed));
    this.block = this.child('block', new Block(engine, seed + 1, width));
  }
}

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** A file with the given header object (unpadded) and `dataBytes` zero bytes of data. */
function file(header: object, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

const f32 = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

describe('the byte layout', () => {
  // Written by Python's safetensors 0.8.0: save({"b": [1, -2], "a": [[0.5]]}) (float32): the header
  // length 112 (u64 LE), the JSON with tensors sorted by name and padded with 2 spaces to a multiple of
  // 8, then a = 0.5 (00 00 00 3f) and b = 1, -2 (00 00 80 3f, 00 00 00 c0).
  const FIXTURE =
    '7000000000000000' +
    '7b2261223a7b226474797065223a22463332222c227368617065223a5b312c315d2c22646174615f6f666673657473223a5b302c345d7d2c' +
    '2262223a7b226474797065223a22463332222c227368617065223a5b325d2c22646174615f6f666673657473223a5b342c31325d7d7d2020' +
    '0000003f' +
    '0000803f000000c0';

  it('writes what the Hugging Face writer writes, byte for byte', () => {
    const bytes = serializeSafetensors({ b: { shape: [2], data: Float32Array.of(1, -2) }, a: { shape: [1, 1], data: Float32Array.of(0.5) } });
    expect(Array.from(bytes)).toEqual(Array.from(hex(FIXTURE)));
  });

  it('reads the Hugging Face file', () => {
    const { tensors, metadata } = parseSafetensors(hex(FIXTURE));
    expect(tensors).toEqual({ a: { shape: [1, 1], data: Float32Array.of(0.5) }, b: { shape: [2], data: Float32Array.of(1, -2) } });
    expect(metadata).toEqual({});
  });

  it('lists the metadata first and integer-like names in byte order, as the Rust writer does', () => {
    const zeros = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const bytes = serializeSafetensors({ b: zeros([0]), a: zeros([]), '9': zeros([1]), '10': zeros([1]) }, { format: 'pt' });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + length)).trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"10":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"9":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},' +
        '"a":{"dtype":"F32","shape":[],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[0],"data_offsets":[12,12]}}',
    );
  });

  it('accepts any header length, even one that leaves the data unaligned', () => {
    const header = new TextEncoder().encode('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'); // 55 bytes
    const bytes = new Uint8Array(8 + header.length + 8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    new DataView(bytes.buffer).setFloat32(8 + header.length, 3.5, true);
    new DataView(bytes.buffer).setFloat32(12 + header.length, -1, true);
    expect(parseSafetensors(bytes).tensors.x!.data).toEqual(Float32Array.of(3.5, -1));
  });
});

describe('round trip', () => {
  it('reads a file held in a view of a larger buffer (a Node Buffer from readFileSync is one)', () => {
    const file = serializeSafetensors({ w: { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } });
    const pool = new Uint8Array(file.length + 100).fill(0xee);
    pool.set(file, 37);
    const view = new Uint8Array(pool.buffer, 37, file.length);
    // A Buffer-like view whose slice() shares memory, as Node's Buffer.slice does.
    Object.defineProperty(view, 'slice', { value: (a: number, b: number) => view.subarray(a, b) });
    expect(Array.from(parseSafetensors(view).tensors.w!.data)).toEqual([1, 2, 3, 4]);
  });

  it('keeps every bit: NaN payloads, -0, infinities, subnormals; scalars and empty tensors', () => {
    const special = new Float32Array(new Uint32Array([0x7fc00001, 0xffc12345, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x3eaaaaab]).buffer);
    const tensors: Record<string, HostArray> = {
      'blocks.0.weight': { shape: [7], data: special },
      'blocks.0.bias': { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => Math.sin(i) * 1e-3) },
      scalar: { shape: [], data: Float32Array.of(42) },
      empty: { shape: [0, 3], data: new Float32Array(0) },
    };
    const parsed = parseSafetensors(serializeSafetensors(tensors));
    expect(Object.keys(parsed.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(parsed.tensors[name]!.shape).toEqual(t.shape);
      expect(bits(parsed.tensors[name]!.data)).toEqual(bits(t.data));
    }
  });

  it('keeps the metadata, unicode and quotes included', () => {
    // JSON.parse makes "__proto__" an own key (an object literal would set the prototype instead).
    const metadata: Record<string, string> = JSON.parse('{"format": "pt", "step": "1200", "note": "λ = 0.97, \\"IDA\\" ✓\\n", "__proto__": "a plain key"}');
    expect(Object.keys(metadata)).toContain('__proto__');
    const parsed = parseSafetensors(serializeSafetensors({ x: { shape: [1], data: Float32Array.of(1) } }, metadata));
    expect(JSON.stringify(parsed.metadata)).toBe(JSON.stringify(metadata));
  });

  it('refuses bad input to the writer', () => {
    expect(() => serializeSafetensors({ w: { shape: [2, 3], data: new Float32Array(5) } })).toThrow('tensor "w" has 5 values but shape [2, 3] needs 6');
    expect(() => serializeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } })).toThrow('reserved');
    expect(() => serializeSafetensors({}, { step: 3 as unknown as string })).toThrow('metadata "step" is a number');
  });
});

describe('malformed files', () => {
  const ok = () => file({ a: f32([2], 0, 8), b: f32([3], 8, 20) }, 20);

  it('the file parsed by these cases is valid', () => {
    expect(Object.keys(parseSafetensors(ok()).tensors)).toEqual(['a', 'b']);
  });

  it.each<[string, () => Uint8Array, string]>([
    ['too short', () => new Uint8Array(5), '5 bytes is too short'],
    [
      'header length beyond the file',
      () => {
        const bytes = ok();
        new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true);
        return bytes;
      },
      `header length ${1n << 40n} is beyond the`,
    ],
    [
      'header not JSON',
      () => {
        const bytes = ok();
        bytes[8] = 0x5b; // '['... breaks the object
        bytes[9] = 0x7d;
        return bytes;
      },
      'header is not UTF-8 JSON',
    ],
    ['header not UTF-8', () => Uint8Array.of(2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe), 'is not UTF-8 JSON'],
    ['unsupported dtype', () => file({ w: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, 4), 'tensor "w" has dtype F16, which is not supported'],
    ['offsets reversed', () => file({ w: f32([2], 8, 0) }, 8), 'tensor "w": data_offsets [8, 0] end before they begin'],
    ['offsets not integers', () => file({ w: f32([2], -8, 0) }, 8), 'tensor "w" has data_offsets [-8,0]'],
    ['bytes not matching the shape', () => file({ w: f32([2, 3], 0, 20) }, 20), 'tensor "w" with shape [2, 3] needs 24 bytes of F32, but its data_offsets [0, 20] span 20 bytes'],
    ['overlapping tensors', () => file({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, 12), 'tensors "a" (bytes 0-8) and "b" (bytes 4-12) overlap'],
    ['a gap between tensors', () => file({ a: f32([2], 0, 8), b: f32([2], 12, 20) }, 20), 'bytes 8-12 of the data section belong to no tensor (gap before "b")'],
    ['missing bytes', () => ok().subarray(0, ok().length - 4), 'missing bytes (truncated?): tensor "b" with shape [3] needs data bytes 8-20, but the data section has 16'],
    ['trailing bytes', () => file({ a: f32([2], 0, 8) }, 11), 'the file has 3 trailing bytes after the last tensor'],
    ['metadata not strings', () => file({ __metadata__: { step: 3 } }, 0), 'metadata "step" is 3; metadata values must be strings'],
    ['a shape that is not an array of sizes', () => file({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, 8), 'tensor "w" has shape [2,-1]'],
  ])('%s', (_, make, message) => {
    expect(() => parseSafetensors(make())).toThrow(message);
  });
});

describe('saveModule / loadModule', () => {
  it('round trips a module bit-exact, by dotted names', async () => {
    const a = new Net(engine, 1);
    const b = new Net(engine, 100);
    try {
      const bytes = await saveModule(a, { step: '7' });
      expect(parseSafetensors(bytes).metadata).toEqual({ step: '7' });
      expect(Object.keys(parseSafetensors(bytes).tensors)).toEqual(['bias', 'block.weight']);
      loadModule(b, bytes);
      for (const [[name, x], [, y]] of a.namedParameters().map((p, i) => [p, b.namedParameters()[i]!] as const)) {
        expect(bits(await y.read()), name).toEqual(bits(await x.read()));
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('refuses a shape mismatch naming the tensor and both shapes, and loads nothing (all or nothing)', async () => {
    const wide = new Net(engine, 1, 6);
    const target = new Net(engine, 2, 5);
    try {
      const before = await Promise.all(target.parameters().map((t) => t.read()));
      // "bias" matches and comes first; only "block.weight" does not: nothing may be written.
      expect(() => loadModule(target, serializeSafetensors({ bias: { shape: [7], data: new Float32Array(7).fill(9) }, 'block.weight': { shape: [6, 3], data: new Float32Array(18) } }))).toThrow(
        'tensor "block.weight": expected shape [5, 3], found [6, 3]',
      );
      const wideBytes = await saveModule(wide);
      expect(() => loadModule(target, wideBytes)).toThrow('nothing was loaded');
      const after = await Promise.all(target.parameters().map((t) => t.read()));
      expect(after.map(bits)).toEqual(before.map(bits));
    } finally {
      wide.dispose();
      target.dispose();
    }
  });

  it('refuses a missing tensor, and an unexpected one unless strict is false', async () => {
    const net = new Net(engine, 3);
    try {
      const bias = { shape: [7], data: Float32Array.from({ length: 7 }, (_, i) => i) };
      const weight = { shape: [5, 3], data: new Float32Array(15).fill(0.25) };
      expect(() => loadModule(net, serializeSafetensors({ bias }))).toThrow('missing tensor "block.weight" (expected shape [5, 3])');
      const extra = serializeSafetensors({ bias, 'block.weight': weight, 'head.weight': { shape: [2], data: new Float32Array(2) } });
      expect(() => loadModule(net, extra)).toThrow('unexpected tensor "head.weight" with shape [2]');
      expect(() => loadModule(net, extra)).toThrow('pass {strict: false}');
      loadModule(net, extra, { strict: false });
      expect(await net.bias.read()).toEqual(bias.data);
      expect(await net.block.weight.read()).toEqual(weight.data);
    } finally {
      net.dispose();
    }
  });
});
