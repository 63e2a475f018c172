// Each module's ONNX graph against the module itself: random weights (adaLN-Zero's zero-initialised
// parts included), the engine's forward on Dawn, the exported graph on onnxruntime-web's wasm EP.
// Tolerance: |onnx - engine| <= 2e-5 + 1e-4 |engine| (float32 in both, different summation orders).
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../nn/engine';
import { randn } from '../nn/host';
import type { Module } from '../nn/module';
import { MultiHeadAttention } from '../nn/modules/attention';
import { LayerNorm, Linear, MLP } from '../nn/modules/basic';
import { DiTBlock, FinalLayer, TimestepEmbedder } from '../nn/modules/dit';
import type { Activation } from '../nn/ops/linear';
import { timestepEmbedding } from '../nn/ops/timestep';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import { allclose, testEngine } from '../nn/testing';
import {
  attentionGraph,
  attentionMaskGraph,
  ditBlockGraph,
  finalLayerGraph,
  layerNormGraph,
  linearGraph,
  mlpGraph,
  timestepEmbedderGraph,
  timestepFeaturesGraph,
} from './exportModules';
import { float32, type Feed, maxAbsDiff, runOnnx } from './exportOrt';
import { randomizeParameters } from './exportTesting';
import { DataType, GraphBuilder, readParameters, type Value } from './graph';

const TOLERANCE = { atol: 2e-5, rtol: 1e-4 };
const [B, T, S, C, CONTEXT, HEADS] = [2, 5, 4, 12, 7, 3];

let engine: Engine;
beforeAll(async () => {
  engine = await testEngine();
  ort.env.wasm.numThreads = 1;
});

interface Input {
  name: string;
  shape: number[];
  data: Float32Array;
}

const input = (name: string, shape: number[], seed: number): Input => ({ name, shape, data: Float32Array.from(randn(shape, seed).data) });

/**
 * Runs `forward` on the engine and `graph` (the same computation written with the builder) on ORT,
 * from the same inputs and weights, and checks them against each other. Returns the max abs diff.
 */
async function compare(
  module: Module | null,
  inputs: readonly Input[],
  forward: (tensors: Tensor[]) => Tensor,
  graph: (g: GraphBuilder, values: Value[]) => Value,
): Promise<number> {
  const expected = tidy(engine, () => noGrad(engine, () => forward(inputs.map((x) => fromArray(engine, x.shape, x.data)))));
  const engineOut = await expected.read();
  const outShape = [...expected.shape];
  expected.dispose();

  const g = new GraphBuilder('test');
  if (module) g.bindModule(module, await readParameters(module));
  const values = inputs.map((x) => g.input(x.name, DataType.FLOAT, x.shape.map((d, i) => (i === 0 ? 'batch' : d))));
  g.output(graph(g, values), 'y', DataType.FLOAT, outShape.map((d, i) => (i === 0 ? 'batch' : d)));
  const feeds: Record<string, Feed> = Object.fromEntries(inputs.map((x) => [x.name, float32(x.shape, x.data)]));
  const { y } = await runOnnx(ort, g.encode(), feeds);
  expect(y!.dims).toEqual(outShape);
  allclose(y!.data, engineOut, TOLERANCE, 'onnx vs engine');
  return maxAbsDiff(y!.data, engineOut);
}

describe('module exports match the engine (ORT wasm)', () => {
  it.each<Activation>(['none', 'gelu', 'silu'])('Linear with activation %s', async (activation) => {
    const m = new Linear(engine, C, 9, { seed: 1 });
    randomizeParameters(m, 1, 1); // std 1: pre-activations well into GELU's and SiLU's curved parts
    const diff = await compare(m, [input('x', [B, T, C], 2)], ([x]) => m.forward(x!, activation), (g, [x]) => linearGraph(g, m, x!, activation));
    expect(diff).toBeLessThan(1e-4);
    m.dispose();
  });

  it('GELU of large arguments stays finite (tanh clipped as in the kernel)', async () => {
    const m = new Linear(engine, 2, 2, { seed: 1 });
    const big = { name: 'x', shape: [1, 1, 2], data: Float32Array.from([40, -40]) };
    randomizeParameters(m, 3, 1);
    await compare(m, [big], ([x]) => m.forward(x!, 'gelu'), (g, [x]) => linearGraph(g, m, x!, 'gelu'));
    m.dispose();
  });

  it.each([true, false])('LayerNorm (affine %s)', async (affine) => {
    const m = new LayerNorm(engine, C, { affine });
    if (affine) randomizeParameters(m, 4, 1);
    await compare(m, [input('x', [B, T, C], 5)], ([x]) => m.forward(x!), (g, [x]) => layerNormGraph(g, m, x!));
    m.dispose();
  });

  it('MLP (GELU and SiLU)', async () => {
    for (const activation of ['gelu', 'silu'] as const) {
      const m = new MLP(engine, C, 20, 6, activation, 3);
      randomizeParameters(m, 6, 0.5);
      await compare(m, [input('x', [B, T, C], 7)], ([x]) => m.forward(x!), (g, [x]) => mlpGraph(g, m, x!));
      m.dispose();
    }
  });

  it('self-attention', async () => {
    const m = new MultiHeadAttention(engine, C, HEADS, { seed: 2 });
    randomizeParameters(m, 8, 0.5);
    await compare(m, [input('x', [B, T, C], 9)], ([x]) => m.forward(x!), (g, [x]) => attentionGraph(g, m, x!));
    m.dispose();
  });

  it('cross-attention with a padding mask, including a sample whose keys are all masked (zeros, as the engine)', async () => {
    const m = new MultiHeadAttention(engine, C, HEADS, { contextDim: CONTEXT, seed: 3 });
    randomizeParameters(m, 10, 0.5);
    // sample 0: two tokens and two pads; sample 1: nothing visible. 0.5 counts as a token (non-zero).
    const mask = { name: 'mask', shape: [B, S], data: Float32Array.from([1, 0.5, 0, 0, 0, 0, 0, 0]) };
    const inputs = [input('x', [B, T, C], 11), input('context', [B, S, CONTEXT], 12), mask];
    const diff = await compare(
      m,
      inputs,
      ([x, context, keyMask]) => m.forward(x!, context!, keyMask!),
      (g, [x, context, keyMask]) => attentionGraph(g, m, x!, context!, attentionMaskGraph(g, keyMask!)),
    );
    expect(diff).toBeLessThan(1e-4);
    m.dispose();
  });

  it('DiTBlock with cross-attention (adaLN-Zero with non-zero modulation weights)', async () => {
    const m = new DiTBlock(engine, C, HEADS, { contextDim: CONTEXT, seed: 4 });
    randomizeParameters(m, 13, 0.3);
    const mask = { name: 'mask', shape: [B, S], data: Float32Array.from([1, 1, 1, 0, 1, 0, 0, 0]) };
    const inputs = [input('x', [B, T, C], 14), input('c', [B, C], 15), input('context', [B, S, CONTEXT], 16), mask];
    await compare(
      m,
      inputs,
      ([x, c, context, keyMask]) => m.forward(x!, c!, context!, keyMask!),
      (g, [x, c, context, keyMask]) => ditBlockGraph(g, m, x!, c!, context!, attentionMaskGraph(g, keyMask!)),
    );
    m.dispose();
  });

  it('DiTBlock without cross-attention', async () => {
    const m = new DiTBlock(engine, C, HEADS, { seed: 5, mlpRatio: 2 });
    randomizeParameters(m, 17, 0.3);
    await compare(m, [input('x', [B, T, C], 18), input('c', [B, C], 19)], ([x, c]) => m.forward(x!, c!), (g, [x, c]) => ditBlockGraph(g, m, x!, c!));
    m.dispose();
  });

  it('FinalLayer', async () => {
    const m = new FinalLayer(engine, C, 10);
    randomizeParameters(m, 20, 0.3);
    await compare(m, [input('x', [B, T, C], 21), input('c', [B, C], 22)], ([x, c]) => m.forward(x!, c!), (g, [x, c]) => finalLayerGraph(g, m, x!, c!));
    m.dispose();
  });

  it('sinusoidal timestep features at the phases that matter (sigma 0 and 1, every quadrant), even and odd widths', async () => {
    const sigma = { name: 'sigma', shape: [8], data: Float32Array.from([0, 1, 0.5, 0.123, 0.999, 1e-4, 0.75, 0.3333]) };
    for (const dim of [64, 9]) {
      const diff = await compare(null, [sigma], ([t]) => timestepEmbedding(t!, dim), (g, [t]) => timestepFeaturesGraph(g, t!, dim));
      // The same polynomials on the same f32 phases: a few ulp, not the 2e-4 of a built-in cos.
      expect(diff).toBeLessThan(2e-6);
    }
  });

  it('TimestepEmbedder', async () => {
    const m = new TimestepEmbedder(engine, C, 16, 6);
    randomizeParameters(m, 23, 0.3);
    const sigma = { name: 'sigma', shape: [3], data: Float32Array.from([0.02, 0.5, 1]) };
    await compare(m, [sigma], ([t]) => m.forward(t!), (g, [t]) => timestepEmbedderGraph(g, m, t!));
    m.dispose();
  });
});

describe('GraphBuilder', () => {
  it('names a parameter the module lacks a value for, and a shape that does not match', () => {
    const m = new Linear(engine, 3, 2);
    const g = new GraphBuilder('bad');
    expect(() => g.bindModule(m, new Map([['weight', { shape: [3, 2], data: new Float32Array(6) }]]))).toThrow(/"bias" has no value \(expected shape \[2\]\)/);
    expect(() => g.bindModule(m, new Map([['weight', { shape: [2, 3], data: new Float32Array(6) }], ['bias', { shape: [2], data: new Float32Array(2) }]]))).toThrow(
      /"weight": expected shape \[3, 2\], got \[2, 3\]/,
    );
    m.dispose();
  });

  it('refuses a parameter of a module it was not given', () => {
    const m = new Linear(engine, 3, 2);
    expect(() => new GraphBuilder('g').parameter(m.weight)).toThrow(/belongs to no bound module/);
    m.dispose();
  });

  it('shares constants instead of repeating them', () => {
    const g = new GraphBuilder('g');
    expect(g.int64s([0, 0, 3])).toBe(g.int64s([0, 0, 3]));
    expect(g.scalar(0.1)).toBe(g.scalar(Math.fround(0.1)));
    expect(g.scalar(1)).not.toBe(g.scalar(2));
  });
});
