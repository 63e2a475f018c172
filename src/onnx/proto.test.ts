// The ONNX writer: exact bytes for small messages (so the field numbers are pinned), and a real model
// (MatMul + Add with an initializer) run by onnxruntime-web's wasm backend in Node against a CPU result.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { attr, DataType, encodeModel, floatTensor, floatValue, int64Tensor, type OnnxModel, Writer } from './proto';

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

describe('protobuf encoding', () => {
  it('writes varints, including 64-bit negatives', () => {
    const w = new Writer();
    w.varint(0);
    w.varint(1);
    w.varint(300);
    w.varint(2 ** 35);
    w.varint(-1);
    expect(hex(w.finish())).toBe('00 01 ac 02 80 80 80 80 80 01 ff ff ff ff ff ff ff ff ff 01');
  });

  it('writes keys, floats, strings and nested messages', () => {
    const w = new Writer();
    w.int(20, 2); // field 20, varint: key (20 << 3 | 0) = 160 = a0 01
    w.float(2, 1.5); // key 15, then 1.5f little-endian
    w.string(1, 'ab');
    w.message(7, (m) => m.int(1, 5));
    expect(hex(w.finish())).toBe('a0 01 02 15 00 00 c0 3f 0a 02 61 62 3a 02 08 05');
  });

  it('keeps large payloads intact through nested messages', () => {
    const data = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5);
    const tensor = floatTensor('w', [1000], data);
    const w = new Writer();
    w.message(5, (m) => m.bytes(9, tensor.rawData));
    const out = w.finish();
    // key 2a, length 4003 = 1 + 2 + 4000 (a3 1f); key 4a, length 4000 (a0 1f); then the floats
    expect(hex(out.subarray(0, 6))).toBe('2a a3 1f 4a a0 1f');
    expect(new Float32Array(out.slice(6).buffer)).toEqual(data);
  });

  it('writes repeated int64 unpacked, one key per value (proto2)', () => {
    const w = new Writer();
    w.message(5, (m) => {
      m.string(1, 'p');
      m.int(20, 7); // INTS
      m.int(8, 1);
      m.int(8, -2);
    });
    expect(hex(w.finish())).toBe('2a 13 0a 01 70 a0 01 07 40 01 40 fe ff ff ff ff ff ff ff ff 01');
  });

  it('encodes a ModelProto header: ir_version, graph, opset_import', () => {
    const bytes = encodeModel({ graph: { name: 'g', nodes: [], inputs: [floatValue('x', [2])], outputs: [floatValue('x', [2])] } });
    // ir_version (field 1) = 8
    expect(hex(bytes.subarray(0, 2))).toBe('08 08');
    // ... ends with opset_import (field 8): { domain (1) = "", version (2) = 17 }
    expect(hex(bytes.subarray(bytes.length - 6))).toBe('42 04 0a 00 10 11');
  });

  it('rejects graphs that read undefined values or repeat names', () => {
    const base = { name: 'g', inputs: [floatValue('x', [2])], outputs: [floatValue('y', [2])] };
    expect(() => encodeModel({ graph: { ...base, nodes: [{ opType: 'Relu', inputs: ['z'], outputs: ['y'] }] } })).toThrow(/reads "z"/);
    expect(() => encodeModel({ graph: { ...base, nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['x'] }] } })).toThrow(/defined twice/);
    expect(() => floatTensor('w', [2, 2], [1, 2, 3])).toThrow(/3 values/);
  });
});

describe('onnxruntime-web runs what we write', () => {
  // y = relu?(x @ W + bias) with W and bias as initializers; x's batch dimension is symbolic.
  const IN = 5;
  const OUT = 3;
  const ROWS = 4;
  const weight = Float32Array.from({ length: IN * OUT }, (_, i) => Math.sin(i + 1));
  const bias = Float32Array.from({ length: OUT }, (_, i) => 0.25 * (i - 1));
  const x = Float32Array.from({ length: ROWS * IN }, (_, i) => Math.cos(0.7 * i));

  function reference(): Float64Array {
    const y = new Float64Array(ROWS * OUT);
    for (let r = 0; r < ROWS; r++) {
      for (let o = 0; o < OUT; o++) {
        let s = bias[o]!;
        for (let k = 0; k < IN; k++) s += x[r * IN + k]! * weight[k * OUT + o]!;
        y[r * OUT + o] = s;
      }
    }
    return y;
  }

  const model: OnnxModel = {
    producerName: 'senseflow-web test',
    graph: {
      name: 'linear',
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'weight'], outputs: ['xw'], name: 'matmul' },
        { opType: 'Add', inputs: ['xw', 'bias'], outputs: ['y'], name: 'add' },
        // Exercises attributes of each kind ORT reads here: Transpose's perm (ints) twice is the identity.
        { opType: 'Transpose', inputs: ['y'], outputs: ['yt'], name: 't1', attributes: [attr.ints('perm', [1, 0])] },
        { opType: 'Transpose', inputs: ['yt'], outputs: ['y2'], name: 't2', attributes: [attr.ints('perm', [1, 0])] },
        // LeakyRelu's alpha (float) with alpha 1 is the identity too.
        { opType: 'LeakyRelu', inputs: ['y2'], outputs: ['y3'], name: 'leaky', attributes: [attr.float('alpha', 1)] },
        // Reshape to [-1, OUT] through an int64 initializer: the identity again.
        { opType: 'Reshape', inputs: ['y3', 'shape'], outputs: ['y4'], name: 'reshape' },
        // Flatten's axis (int) and Pad's mode (string) with zero pads: identities.
        { opType: 'Flatten', inputs: ['y4'], outputs: ['y5'], name: 'flatten', attributes: [attr.int('axis', 1)] },
        { opType: 'Pad', inputs: ['y5', 'pads'], outputs: ['out'], name: 'pad', attributes: [attr.string('mode', 'constant')] },
      ],
      inputs: [floatValue('x', ['batch', IN])],
      outputs: [floatValue('out', ['batch', OUT])],
      initializers: [floatTensor('weight', [IN, OUT], weight), floatTensor('bias', [OUT], bias), int64Tensor('shape', [2], [-1, OUT]), int64Tensor('pads', [4], [0, 0, 0, 0])],
      valueInfo: [{ name: 'xw', elemType: DataType.FLOAT, shape: ['batch', OUT] }],
    },
  };

  it('MatMul + Add with initializers, symbolic batch, int/float/string/ints attributes', async () => {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(encodeModel(model), { executionProviders: ['wasm'] });
    try {
      expect(session.inputNames).toEqual(['x']);
      expect(session.outputNames).toEqual(['out']);
      const result = await session.run({ x: new ort.Tensor('float32', x, [ROWS, IN]) });
      const out = result.out!;
      expect(out.dims).toEqual([ROWS, OUT]);
      const data = out.data as Float32Array;
      const expected = reference();
      for (let i = 0; i < expected.length; i++) expect(Math.abs(data[i]! - expected[i]!)).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });
});
