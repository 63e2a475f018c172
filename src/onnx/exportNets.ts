// ONNX exports of the bundled networks (docs/NETS.md), with the contract's input and output names and
// a dynamic batch dimension ('batch'); the text length is dynamic too ('sequence', at most maxLength).
// Initializers are named by checkpoint path, so an ONNX file and a safetensors checkpoint of the same
// net can be compared tensor by tensor.
//   text encoder  input_ids int64 [B, L], attention_mask int64 [B, L] -> last_hidden_state [B, L, 64], pooler_output [B, 64]
//   ShapesDiT     sample [B, 3, 32, 32], sigma [B], encoder_hidden_states [B, L, 64], encoder_attention_mask f32 [B, L],
//                 pooled_text [B, 64] -> velocity [B, 3, 32, 32]
//   Toy2DTeacher  sample [B, 2], sigma [B], label int64 [B] -> velocity [B, 2]
// Ids out of range: the engine's embedding gives a zero row, ONNX Gather fails the run. The tokenizer
// never produces one; the label input is checked by the caller.
import { DEFAULT_X0_SIGMA_FLOOR, type ShapesDiT } from '../nets/dit';
import type { TextEncoder } from '../nets/textEncoder';
import type { Toy2DTeacher } from '../nets/toy2d';
import { inversePermutation } from '../nn/ops/shape';
import { attentionGraph, attentionMaskGraph, ditBlockGraph, finalLayerGraph, layerNormGraph, linearGraph, mlpGraph, timestepEmbedderGraph, timestepFeaturesGraph } from './exportModules';
import { attr, DataType, GraphBuilder, type ParameterValues, type Value } from './graph';

/** The ONNX input and output names of each net (docs/NETS.md), used by the manifest writer too. */
export const TEXT_ENCODER_NAMES = {
  inputs: { inputIds: 'input_ids', attentionMask: 'attention_mask' },
  outputs: { lastHiddenState: 'last_hidden_state', pooled: 'pooler_output' },
} as const;

export const SHAPES_DIT_NAMES = {
  inputs: { sample: 'sample', sigma: 'sigma', encoderHiddenStates: 'encoder_hidden_states', encoderAttentionMask: 'encoder_attention_mask', pooledText: 'pooled_text' },
  outputs: { velocity: 'velocity' },
} as const;

export const TOY2D_NAMES = {
  inputs: { sample: 'sample', sigma: 'sigma', label: 'label' },
  outputs: { velocity: 'velocity' },
} as const;

const BATCH = 'batch';
const SEQUENCE = 'sequence';

function metadata(kind: string, config: object): Record<string, string> {
  return { 'senseflow.net': kind, 'senseflow.config': JSON.stringify(config) };
}

/** The text encoder; `values` are its parameters by path (readParameters(net) or a checkpoint's tensors). */
export function exportTextEncoder(net: TextEncoder, values: ParameterValues): Uint8Array {
  const { dim, maxLength } = net.config;
  const names = TEXT_ENCODER_NAMES;
  const g = new GraphBuilder('text_encoder');
  g.bindModule(net, values);
  const ids = g.input(names.inputs.inputIds, DataType.INT64, [BATCH, SEQUENCE]);
  const maskInt = g.input(names.inputs.attentionMask, DataType.INT64, [BATCH, SEQUENCE]);
  const mask = g.cast(maskInt, DataType.FLOAT);

  // positions 0 .. L-1 of the table: Slice to the run's length (the engine slices when L < maxLength)
  const length = g.unsqueeze(g.gatherIndex(g.op('Shape', [ids]), 0, 1), [0]);
  const positions = g.op('Slice', [g.parameter(net.positionEmbedding), g.int64s([0]), length, g.int64s([0])]);
  let x = g.scope('tokenEmbedding', () => g.add(g.op('Gather', [g.parameter(net.tokenEmbedding.weight), ids], [attr.int('axis', 0)]), positions));

  const keyMask = attentionMaskGraph(g, mask);
  net.layers.forEach((layer, i) =>
    g.scope(`layers.${i}`, () => {
      const attended = g.scope('attn', () => attentionGraph(g, layer.attn, g.scope('norm1', () => layerNormGraph(g, layer.norm1, x)), undefined, keyMask));
      x = g.add(x, attended);
      x = g.add(x, g.scope('mlp', () => mlpGraph(g, layer.mlp, g.scope('norm2', () => layerNormGraph(g, layer.norm2, x)))));
    }),
  );
  const hidden = g.scope('finalNorm', () => layerNormGraph(g, net.finalNorm, x));

  // pooler_output: the mean over the tokens with a non-zero mask; a caption of padding only pools to
  // zeros (the engine's maskedMean gives a fully masked row zero weights), hence the count clamped to 1.
  const pooled = g.scope('pool', () => {
    const visible = g.unsqueeze(g.cast(g.op('Not', [g.op('Equal', [mask, g.scalar(0)])]), DataType.FLOAT), [2]); // [B, L, 1]
    const total = g.reduceSum(g.mul(hidden, visible), [1], false);
    const count = g.op('Max', [g.reduceSum(visible, [1], false), g.scalar(1)]);
    return g.div(total, count);
  });
  g.output(hidden, names.outputs.lastHiddenState, DataType.FLOAT, [BATCH, SEQUENCE, dim]);
  g.output(pooled, names.outputs.pooled, DataType.FLOAT, [BATCH, dim]);
  return g.encode({
    docString: `Shapes text encoder: input_ids and attention_mask int64 [batch, sequence <= ${maxLength}]`,
    metadata: metadata('TextEncoder', net.config),
  });
}

// [B, C, H, W] -> [B, tokens, p p C], as nets/dit.ts patchify (reshape, permute [0, 2, 4, 3, 5, 1], reshape)
const PATCH_PERMUTATION = [0, 2, 4, 3, 5, 1];

export function exportShapesDiT(net: ShapesDiT, values: ParameterValues): Uint8Array {
  const { channels, imageSize, patchSize, dim, contextDim } = net.config;
  const side = imageSize / patchSize;
  const names = SHAPES_DIT_NAMES;
  const g = new GraphBuilder('shapes_dit');
  g.bindModule(net, values);
  const sample = g.input(names.inputs.sample, DataType.FLOAT, [BATCH, channels, imageSize, imageSize]);
  const sigma = g.input(names.inputs.sigma, DataType.FLOAT, [BATCH]);
  const states = g.input(names.inputs.encoderHiddenStates, DataType.FLOAT, [BATCH, SEQUENCE, contextDim]);
  const mask = g.input(names.inputs.encoderAttentionMask, DataType.FLOAT, [BATCH, SEQUENCE]);
  const pooledText = g.input(names.inputs.pooledText, DataType.FLOAT, [BATCH, contextDim]);

  const patches = g.scope('patchify', () =>
    g.reshape(g.transpose(g.reshape(sample, [0, channels, side, patchSize, side, patchSize]), PATCH_PERMUTATION), [0, net.tokens, net.patchFeatures]),
  );
  let x: Value = g.add(
    g.scope('patchEmbed', () => linearGraph(g, net.patchEmbed, patches)),
    g.parameter(net.positionEmbedding),
  );
  const time = g.scope('time', () => timestepEmbedderGraph(g, net.time, sigma));
  const c = g.add(time, g.scope('textProjection', () => linearGraph(g, net.textProjection, pooledText)));
  const keyMask = attentionMaskGraph(g, mask);
  net.blocks.forEach((block, i) => (x = g.scope(`blocks.${i}`, () => ditBlockGraph(g, block, x, c, states, keyMask))));
  const tokens = g.scope('final', () => finalLayerGraph(g, net.final, x, c));
  const prediction = g.scope('unpatchify', () =>
    g.reshape(g.transpose(g.reshape(tokens, [0, side, side, patchSize, patchSize, channels]), inversePermutation(PATCH_PERMUTATION)), [0, channels, imageSize, imageSize]),
  );
  // An x0-predicting net: v = (x_s - x0_hat) / max(s, floor), as nets/dit.ts.
  const velocity =
    net.config.prediction === 'x0'
      ? g.scope('velocityFromX0', () => {
          const level = g.op('Max', [sigma, g.scalar(net.config.x0SigmaFloor ?? DEFAULT_X0_SIGMA_FLOOR)]);
          return g.div(g.sub(sample, prediction), g.reshape(level, [-1, 1, 1, 1]));
        })
      : prediction;
  g.output(velocity, names.outputs.velocity, DataType.FLOAT, [BATCH, channels, imageSize, imageSize]);
  const what = net.config.prediction === 'x0' ? 'the clean image x0_hat, returned as v = (x_s - x0_hat) / max(s, floor)' : 'v = eps - x0';
  return g.encode({ docString: `Shapes DiT teacher: flow-matching velocity (${what})`, metadata: metadata('ShapesDiT', net.config) });
}

export function exportToy2DTeacher(net: Toy2DTeacher, values: ParameterValues): Uint8Array {
  const names = TOY2D_NAMES;
  const g = new GraphBuilder('toy2d_teacher');
  g.bindModule(net, values);
  const sample = g.input(names.inputs.sample, DataType.FLOAT, [BATCH, 2]);
  const sigma = g.input(names.inputs.sigma, DataType.FLOAT, [BATCH]);
  const label = g.input(names.inputs.label, DataType.INT64, [BATCH]);
  const labelFeatures = g.scope('labelEmbedding', () => g.op('Gather', [g.parameter(net.labelEmbedding.weight), label], [attr.int('axis', 0)]));
  const c = net.config;
  const coordinates = c.coordinateFeatures
    ? [0, 1].map((axis) => g.scope(`coordinates.${axis}`, () => timestepFeaturesGraph(g, g.gatherIndex(sample, 1, axis), c.coordinateFeatures!, { scale: c.coordinateScale, maxPeriod: c.coordinatePeriod })))
    : [];
  let h = g.concat([sample, ...coordinates, timestepFeaturesGraph(g, sigma, c.embeddingDim), labelFeatures], 1);
  const activations = ['silu', 'silu', 'none'] as const;
  net.layers.forEach((layer, i) => (h = g.scope(`mlp.layers.${i}`, () => linearGraph(g, layer, h, activations[i] ?? 'none'))));
  g.output(h, names.outputs.velocity, DataType.FLOAT, [BATCH, 2]);
  return g.encode({ docString: 'Toy 2D teacher: flow-matching velocity of a labelled Gaussian mixture', metadata: metadata('Toy2DTeacher', net.config) });
}
