// The ONNX reader against what the writer writes (and what ORT reads from the same bytes).
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { readOnnxGraph } from './graphReader';
import { DataType, encodeModel, floatTensor, floatValue, int64Tensor, Writer } from './proto';

function model(): Uint8Array {
  return encodeModel({
    graph: {
      name: 'reader-test',
      nodes: [
        { opType: 'Gather', inputs: ['table', 'ids'], outputs: ['rows'], name: 'gather' },
        { opType: 'Add', inputs: ['rows', 'bias'], outputs: ['out'], name: 'add' },
        { opType: 'Reshape', inputs: ['out', 'shape'], outputs: ['flat'], name: 'reshape' },
      ],
      // 'bias' is declared as an input and has an initializer (a default): not something a caller must feed.
      inputs: [{ name: 'ids', elemType: DataType.INT64, shape: ['batch', 7] }, floatValue('bias', [3])],
      outputs: [floatValue('out', ['batch', 7, 3]), floatValue('flat', null)],
      initializers: [floatTensor('table', [4, 3], new Float32Array(12)), floatTensor('bias', [3], [1, 2, 3]), int64Tensor('shape', [1], [-1])],
    },
  });
}

describe('readOnnxGraph', () => {
  it('reads input and output names, element types and shapes (symbolic dims included)', async () => {
    const bytes = model();
    const summary = readOnnxGraph(bytes);
    expect(summary.graphName).toBe('reader-test');
    expect(summary.nodeCount).toBe(3);
    expect(summary.inputs).toEqual([{ name: 'ids', elemType: DataType.INT64, shape: ['batch', 7] }]);
    expect(summary.outputs).toEqual([
      { name: 'out', elemType: DataType.FLOAT, shape: ['batch', 7, 3] },
      { name: 'flat', elemType: DataType.FLOAT, shape: null },
    ]);
    expect(summary.initializerCount).toBe(3);
    expect(summary.externalData).toEqual([]);
    // ORT agrees on what must be fed and what comes out.
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    expect(summary.inputs.map((v) => v.name)).toEqual(session.inputNames.filter((n) => n !== 'bias'));
    expect(summary.outputs.map((v) => v.name)).toEqual(session.outputNames);
    await session.release();
  });

  it('lists initializers stored in external data files', () => {
    // A graph with one initializer at data_location EXTERNAL (14 = 1), external_data {location: weights.bin}.
    const w = new Writer();
    w.message(7, (graph) => {
      graph.string(2, 'external');
      graph.message(5, (tensor) => {
        tensor.int(1, 2);
        tensor.int(2, DataType.FLOAT);
        tensor.string(8, 'big.weight');
        for (const [key, value] of [
          ['location', 'weights.bin'],
          ['offset', '0'],
          ['length', '8'],
        ]) {
          tensor.message(13, (entry) => {
            entry.string(1, key!);
            entry.string(2, value!);
          });
        }
        tensor.int(14, 1);
      });
      graph.message(5, (tensor) => tensor.string(8, 'inline')); // DEFAULT location: not listed
    });
    expect(readOnnxGraph(w.finish()).externalData).toEqual([{ tensor: 'big.weight', location: 'weights.bin' }]);
  });

  it('refuses bytes that are not an ONNX model, saying why', () => {
    const bytes = model();
    expect(() => readOnnxGraph(bytes.subarray(0, bytes.length - 30))).toThrow(/not a valid ONNX model: .* at byte \d+/);
    expect(() => readOnnxGraph(new TextEncoder().encode('<!doctype html><html>'))).toThrow(/not a valid ONNX model/);
    expect(() => readOnnxGraph(new Uint8Array([0x08, 0x08]))).toThrow('not a valid ONNX model: no graph (ModelProto field 7)');
  });
});
