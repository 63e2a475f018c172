// A small but complete text-to-image bundle for the manifest and bundle tests: stand-in ONNX graphs with
// the contract's input/output names (Identity-like bodies: only the interface matters to these checks),
// a tokenizer folder, and the manifest draft that describes them.
import { DataType, encodeModel, floatValue, type ValueInfo } from '../onnx/proto';
import { MANIFEST_FILE, FORMAT_VERSION } from './bundleFields';
import { fileEntry, type Manifest } from './manifest';
import type { ManifestDraft } from './bundleWrite';

/** A graph with these inputs whose outputs all copy the first input (enough for the reader and ORT). */
export function interfaceModel(inputs: readonly ValueInfo[], outputs: readonly string[]): Uint8Array {
  return encodeModel({
    graph: {
      name: 'interface',
      nodes: outputs.map((name) => ({ opType: 'Identity', inputs: [inputs[0]!.name], outputs: [name], name: `copy_${name}` })),
      inputs,
      outputs: outputs.map((name) => ({ name, elemType: inputs[0]!.elemType, shape: null })),
    },
  });
}

const encoder = new TextEncoder();

export function textEncoderModel(): Uint8Array {
  return interfaceModel(
    [
      { name: 'input_ids', elemType: DataType.INT64, shape: ['batch', 'sequence'] },
      { name: 'attention_mask', elemType: DataType.INT64, shape: ['batch', 'sequence'] },
    ],
    ['last_hidden_state', 'pooler_output'],
  );
}

export function denoiserModel(sampleName = 'sample'): Uint8Array {
  return interfaceModel(
    [
      floatValue(sampleName, ['batch', 3, 32, 32]),
      floatValue('sigma', ['batch']),
      floatValue('encoder_hidden_states', ['batch', 'sequence', 64]),
      floatValue('encoder_attention_mask', ['batch', 'sequence']),
      floatValue('pooled_text', ['batch', 64]),
    ],
    ['velocity'],
  );
}

export function exampleDraft(): ManifestDraft {
  return {
    formatVersion: FORMAT_VERSION,
    name: 'shapes-student-test',
    architecture: 'ShapesDiT',
    kind: 'flow',
    conditioning: 'text',
    resolution: { width: 32, height: 32 },
    space: { type: 'pixel', channels: 3 },
    steps: { default: 4, schedule: 'anchors', sigmas: { '1': [1], '2': [1, 0.75], '4': [1, 0.9, 0.75, 0.5] } },
    shift: 3,
    guidance: { default: 1 },
    textEncoder: {
      tokenizer: 'tokenizer',
      onnx: 'text_encoder.onnx',
      maxLength: 24,
      hiddenSize: 64,
      inputs: { inputIds: 'input_ids', attentionMask: 'attention_mask' },
      outputs: { lastHiddenState: 'last_hidden_state', pooled: 'pooler_output' },
    },
    denoiser: {
      onnx: 'denoiser.onnx',
      inputs: {
        sample: 'sample',
        sigma: 'sigma',
        encoderHiddenStates: 'encoder_hidden_states',
        encoderAttentionMask: 'encoder_attention_mask',
        pooledText: 'pooled_text',
      },
      outputs: { prediction: 'velocity' },
    },
    provenance: { command: 'test', commit: '0000000', date: '2026-01-01T00:00:00.000Z', seed: 1, steps: 10 },
    metrics: { promptAccuracy: 0.5, fdReal: 12.5, notes: 'made by a test' },
  };
}

export function exampleFiles(): Map<string, Uint8Array> {
  return new Map([
    ['text_encoder.onnx', textEncoderModel()],
    ['denoiser.onnx', denoiserModel()],
    ['tokenizer/tokenizer.json', encoder.encode('{"version": "1.0"}')],
    ['tokenizer/tokenizer_config.json', encoder.encode('{"model_max_length": 24}')],
  ]);
}

/** The complete bundle in memory: manifest.json (with hashes) and the files. */
export async function exampleBundle(draft = exampleDraft(), files = exampleFiles()): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const entries = await Promise.all([...files].map(([path, bytes]) => fileEntry(path, bytes)));
  const manifest: Manifest = { ...draft, files: entries };
  const all = new Map(files);
  all.set(MANIFEST_FILE, encoder.encode(JSON.stringify(manifest)));
  return { manifest, files: all };
}
