// ORT parity of the whole exported nets (docs/NETS.md configurations, random weights): the engine's
// forward against onnxruntime-web on the same fixed inputs. In Node: ORT's wasm EP (the engine on
// Dawn). In headless chromium (vitest browser mode): ORT's WebGPU EP and its wasm EP (the engine on
// the browser's WebGPU). Tolerance: |onnx - engine| <= 1e-4 + 1e-3 |engine|; the max abs diff and the
// output's scale are printed for each run.
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCaption, PAD_ID } from '../data/tokenizer';
import { ShapesDiT, type ShapesDiTConfig } from '../nets/dit';
import { TextEncoder } from '../nets/textEncoder';
import { Toy2DTeacher } from '../nets/toy2d';
import type { Engine } from '../nn/engine';
import { randn, uniform } from '../nn/host';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import { exportShapesDiT, exportTextEncoder, exportToy2DTeacher } from './exportNets';
import { type Feed, float32, int64, maxAbs, maxAbsDiff, type Ort, runOnnx } from './exportOrt';
import { randomizeParameters } from './exportTesting';
import { readParameters } from './graph';
import { readOnnxGraph } from './graphReader';

/** The model's interface as [name, element type, shape] (1 FLOAT, 7 INT64), as the contract states it. */
function interfaceOf(model: Uint8Array) {
  const graph = readOnnxGraph(model);
  console.info(`${graph.graphName}: ${graph.nodeCount} nodes, ${graph.initializerCount} initializers, ${(model.byteLength / 1e6).toFixed(2)} MB`);
  const describe = (v: { name: string; elemType: number; shape: unknown }) => [v.name, v.elemType, v.shape];
  return { inputs: graph.inputs.map(describe), outputs: graph.outputs.map(describe) };
}

const TOLERANCE = { atol: 1e-4, rtol: 1e-3 };
const isBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';
const providers: ('wasm' | 'webgpu')[] = isBrowser ? ['webgpu', 'wasm'] : ['wasm'];

let engine: Engine;
let ort: Ort;
beforeAll(async () => {
  engine = await testEngine();
  if (isBrowser) {
    ort = (await import('onnxruntime-web/webgpu')) as unknown as Ort;
    // vite.config.ts serves ORT's wasm under /ort/ (the dev server vitest's browser mode runs on).
    ort.env.wasm.wasmPaths = new URL('/ort/', location.href).href;
  } else {
    ort = await import('onnxruntime-web');
  }
  ort.env.wasm.numThreads = 1;
});

async function engineOutputs(run: () => Tensor[]): Promise<{ shape: number[]; data: Float32Array }[]> {
  const outs = tidy(engine, () => noGrad(engine, run));
  const read = await Promise.all(outs.map(async (t) => ({ shape: [...t.shape], data: await t.read() })));
  outs.forEach((t) => t.dispose());
  return read;
}

/** Runs the model on every provider and checks each output; returns the worst diff per provider. */
async function checkParity(label: string, model: Uint8Array, feeds: Record<string, Feed>, expected: Record<string, { shape: number[]; data: Float32Array }>) {
  for (const provider of providers) {
    const outputs = await runOnnx(ort, model, feeds, provider);
    for (const [name, want] of Object.entries(expected)) {
      const got = outputs[name];
      expect(got, `${label}: output ${name}`).toBeDefined();
      expect(got!.dims).toEqual(want.shape);
      const diff = maxAbsDiff(got!.data, want.data);
      console.info(`${label} ${name} [${provider}]: max |onnx - engine| = ${diff.toExponential(2)}, max |engine| = ${maxAbs(want.data).toFixed(3)}`);
      allclose(got!.data, want.data, TOLERANCE, `${label} ${name} (${provider} vs engine)`);
    }
  }
}

const CAPTIONS = ['a red circle at the top left on a blue background', 'two small green squares', ''];

describe(`exported nets match the engine (ORT ${providers.join(' and ')})`, () => {
  it('text encoder: full length, a padding-only row, and a shorter sequence', async () => {
    const net = new TextEncoder(engine, {}, 1);
    randomizeParameters(net, 31, 0.1);
    const model = exportTextEncoder(net, await readParameters(net));
    expect(interfaceOf(model)).toEqual({
      inputs: [['input_ids', 7, ['batch', 'sequence']], ['attention_mask', 7, ['batch', 'sequence']]],
      outputs: [['last_hidden_state', 1, ['batch', 'sequence', 64]], ['pooler_output', 1, ['batch', 64]]],
    });
    for (const length of [net.config.maxLength, 10]) {
      const encoded = CAPTIONS.map((text) => encodeCaption(text, length));
      const ids = encoded.flatMap((e) => e.ids);
      const mask = encoded.flatMap((e) => e.attentionMask);
      // A row of padding only (no bos/eos): every key masked; pools to zeros in both.
      ids.push(...new Array<number>(length).fill(PAD_ID));
      mask.push(...new Array<number>(length).fill(0));
      const batch = CAPTIONS.length + 1;
      const [hidden, pooled] = await engineOutputs(() => {
        const out = net.forward(fromArray(engine, [batch, length], ids, 'u32'), fromArray(engine, [batch, length], mask));
        return [out.lastHiddenState, out.pooled];
      });
      expect(Array.from(pooled!.data.slice(-net.config.dim)).every((v) => v === 0)).toBe(true);
      await checkParity(`text encoder L=${length}`, model, { input_ids: int64([batch, length], ids), attention_mask: int64([batch, length], mask) }, {
        last_hidden_state: hidden!,
        pooler_output: pooled!,
      });
    }
    net.dispose();
  });

  it.each<[string, Partial<ShapesDiTConfig>]>([
    ['velocity', {}],
    ['x0 (the velocity computed from x0_hat, one level below the floor)', { prediction: 'x0' }],
  ])('ShapesDiT denoiser predicting %s', async (_, extra) => {
    const net = new ShapesDiT(engine, extra, 2);
    randomizeParameters(net, 32, 0.05);
    const model = exportShapesDiT(net, await readParameters(net));
    expect(interfaceOf(model)).toEqual({
      inputs: [
        ['sample', 1, ['batch', 3, 32, 32]],
        ['sigma', 1, ['batch']],
        ['encoder_hidden_states', 1, ['batch', 'sequence', 64]],
        ['encoder_attention_mask', 1, ['batch', 'sequence']],
        ['pooled_text', 1, ['batch', 64]],
      ],
      outputs: [['velocity', 1, ['batch', 3, 32, 32]]],
    });
    const batch = 2;
    const maxLength = 24;
    const sample = Float32Array.from(randn([batch, 3, 32, 32], 41).data);
    const sigma = Float32Array.from(extra.prediction === 'x0' ? [0.3, 0.02] : [0.3, 0.97]);
    const states = Float32Array.from(randn([batch, maxLength, 64], 42).data);
    // caption lengths 12 and 5, the rest padding
    const mask = Float32Array.from({ length: batch * maxLength }, (_, i) => (i % maxLength < (i < maxLength ? 12 : 5) ? 1 : 0));
    const pooled = Float32Array.from(randn([batch, 64], 43).data);
    const [velocity] = await engineOutputs(() => [
      net.forward(
        fromArray(engine, [batch, 3, 32, 32], sample),
        fromArray(engine, [batch], sigma),
        fromArray(engine, [batch, maxLength, 64], states),
        fromArray(engine, [batch, maxLength], mask),
        fromArray(engine, [batch, 64], pooled),
      ),
    ]);
    const feeds = {
      sample: float32([batch, 3, 32, 32], sample),
      sigma: float32([batch], sigma),
      encoder_hidden_states: float32([batch, maxLength, 64], states),
      encoder_attention_mask: float32([batch, maxLength], mask),
      pooled_text: float32([batch, 64], pooled),
    };
    await checkParity('ShapesDiT', model, feeds, { velocity: velocity! });
    net.dispose();
  });

  it.each([
    ['Toy2DTeacher', {}],
    ['Toy2DTeacher with coordinate features', { coordinateFeatures: 16, coordinateScale: 16, coordinatePeriod: 32 }],
  ])('%s', async (_, extra) => {
    const net = new Toy2DTeacher(engine, { labels: 5, ...extra }, 3);
    randomizeParameters(net, 33, 0.1);
    const model = exportToy2DTeacher(net, await readParameters(net));
    expect(interfaceOf(model)).toEqual({
      inputs: [['sample', 1, ['batch', 2]], ['sigma', 1, ['batch']], ['label', 7, ['batch']]],
      outputs: [['velocity', 1, ['batch', 2]]],
    });
    const batch = 5;
    const sample = Float32Array.from(randn([batch, 2], 51, 2).data);
    const sigma = Float32Array.from(uniform([batch], 52, 0, 1).data);
    const labels = [0, 1, 2, 3, 4];
    const [velocity] = await engineOutputs(() => [net.forward(fromArray(engine, [batch, 2], sample), fromArray(engine, [batch], sigma), fromArray(engine, [batch], labels, 'u32'))]);
    await checkParity('Toy2DTeacher', model, { sample: float32([batch, 2], sample), sigma: float32([batch], sigma), label: int64([batch], labels) }, { velocity: velocity! });
    net.dispose();
  });
});
