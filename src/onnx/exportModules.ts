// ONNX graphs of the engine's modules (nn/modules/), each the same computation as the module's
// forward, in the same order, so the two agree to float32 rounding:
//   Linear      MatMul (weights are [in, out], no transpose) + Add, then the activation
//   GELU        tanh form from elementary ops (opset 17 has no Gelu): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
//               tanh's argument clipped to [-10, 10] as the kernel does (tanh(10) is 1 in f32)
//   SiLU        x * Sigmoid(x)
//   LayerNorm   LayerNormalization (opset 17), eps 1e-6; a norm without affine gets a ones scale
//   attention   the module's head split (reshape [B, T, parts, H, D], transpose [2, 0, 3, 1, 4]),
//               softmax(scale q k^T + mask bias) v; see attentionMaskGraph for the key padding mask
//   DiTBlock    adaLN-Zero: Split of adaLN(silu(c)) into shift1, scale1, gate1, shift2, scale2, gate2
//   timestep    the sinusoidal features with the engine's own sin/cos polynomials (timestepFeaturesGraph)
// Functions take the builder, the module, and input values, and return the output value; the caller
// binds the module's parameters first (GraphBuilder.bindModule).
import type { Activation } from '../nn/ops/linear';
import type { LayerNorm, Linear, MLP } from '../nn/modules/basic';
import type { MultiHeadAttention } from '../nn/modules/attention';
import type { DiTBlock, FinalLayer, TimestepEmbedder } from '../nn/modules/dit';
import { attr, DataType, type GraphBuilder, type Value } from './graph';

const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_CUBIC = 0.044715;
/** The additive bias of a masked key: exp(-1e9 + s - max) is exactly 0 in float32 for any realistic score. */
const MASKED_SCORE = -1e9;

export function activationGraph(g: GraphBuilder, x: Value, activation: Activation): Value {
  switch (activation) {
    case 'none':
      return x;
    case 'silu':
      return g.mul(x, g.op('Sigmoid', [x]));
    case 'gelu': {
      const cubic = g.mul(g.mul(g.mul(x, x), x), g.scalar(GELU_CUBIC));
      const u = g.mul(g.add(x, cubic), g.scalar(SQRT_2_OVER_PI));
      const t = g.op('Tanh', [g.op('Clip', [u, g.scalar(-10), g.scalar(10)])]);
      return g.mul(g.mul(x, g.scalar(0.5)), g.add(t, g.scalar(1)));
    }
  }
}

// x[..., in] -> [..., out]
export function linearGraph(g: GraphBuilder, m: Linear, x: Value, activation: Activation = 'none'): Value {
  const product = g.matmul(x, g.parameter(m.weight));
  return activationGraph(g, m.bias ? g.add(product, g.parameter(m.bias)) : product, activation);
}

export function layerNormGraph(g: GraphBuilder, m: LayerNorm, x: Value): Value {
  const scale = m.gamma ? g.parameter(m.gamma) : g.floats([m.dim], new Array<number>(m.dim).fill(1), 'ones');
  const inputs = m.beta ? [x, scale, g.parameter(m.beta)] : [x, scale];
  return g.op('LayerNormalization', inputs, [attr.int('axis', -1), attr.float('epsilon', m.options.eps ?? 1e-6)]);
}

export function mlpGraph(g: GraphBuilder, m: MLP, x: Value): Value {
  const hidden = g.scope('fc1', () => linearGraph(g, m.fc1, x, m.activation));
  return g.scope('fc2', () => linearGraph(g, m.fc2, hidden));
}

/**
 * The key padding mask, prepared once per net and shared by its attention layers: mask [B, S] float
 * (non-zero = a token, as the engine's keyMask) -> visible [B, 1, 1, S] (1 or 0) and bias (0 or -1e9).
 * Scores get the bias before Softmax and the probabilities are multiplied by visible after it: masked
 * keys weigh exactly 0, and a query that sees no key at all gets all-zero weights, so it outputs zeros
 * as the engine does (Softmax alone would spread it uniformly over the padding).
 */
export interface AttentionMask {
  visible: Value;
  bias: Value;
}

export function attentionMaskGraph(g: GraphBuilder, mask: Value): AttentionMask {
  return g.scope('keyMask', () => {
    const isToken = g.op('Not', [g.op('Equal', [mask, g.scalar(0)])]);
    const visible = g.unsqueeze(g.cast(isToken, DataType.FLOAT), [1, 2]);
    const bias = g.mul(g.sub(g.scalar(1), visible), g.scalar(MASKED_SCORE));
    return { visible, bias };
  });
}

// [B, T, parts * C] -> parts values of [B, H, T, D], as MultiHeadAttention.heads_
function splitHeads(g: GraphBuilder, x: Value, parts: number, heads: number, headDim: number): Value[] {
  const split = g.transpose(g.reshape(x, [0, 0, parts, heads, headDim]), [2, 0, 3, 1, 4]);
  return Array.from({ length: parts }, (_, i) => g.gatherIndex(split, 0, i));
}

/** x[B, T, C] (and context[B, S, Cctx] for cross-attention) -> [B, T, C]. */
export function attentionGraph(g: GraphBuilder, m: MultiHeadAttention, x: Value, context?: Value, mask?: AttentionMask | null): Value {
  let q: Value, k: Value, v: Value;
  if (m.qkv) {
    [q, k, v] = g.scope('qkv', () => splitHeads(g, linearGraph(g, m.qkv!, x), 3, m.heads, m.headDim)) as [Value, Value, Value];
  } else {
    if (!context) throw new Error('ONNX export: cross-attention needs a context value');
    [q] = g.scope('q', () => splitHeads(g, linearGraph(g, m.q!, x), 1, m.heads, m.headDim)) as [Value];
    [k, v] = g.scope('kv', () => splitHeads(g, linearGraph(g, m.kv!, context), 2, m.heads, m.headDim)) as [Value, Value];
  }
  // scores[B, H, T, S] = scale * q k^T, scale = 1/sqrt(D) applied to the dot products as the kernel does
  let scores = g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.scalar(1 / Math.sqrt(m.headDim)));
  if (mask) scores = g.add(scores, mask.bias);
  let probabilities = g.op('Softmax', [scores], [attr.int('axis', -1)]);
  if (mask) probabilities = g.mul(probabilities, mask.visible);
  const attended = g.matmul(probabilities, v);
  const merged = g.reshape(g.transpose(attended, [0, 2, 1, 3]), [0, 0, m.dim]);
  return g.scope('out', () => linearGraph(g, m.out, merged));
}

// x[B, T, C] * (1 + scale[B, C]) + shift[B, C], the shift and scale broadcast over tokens
export function modulateGraph(g: GraphBuilder, x: Value, shift: Value, scale: Value): Value {
  return g.add(g.mul(x, g.add(g.unsqueeze(scale, [1]), g.scalar(1))), g.unsqueeze(shift, [1]));
}

// gate[B, C] * x[B, T, C]
function gatedGraph(g: GraphBuilder, x: Value, gate: Value): Value {
  return g.mul(x, g.unsqueeze(gate, [1]));
}

// c[B, n*C] -> n values [B, C] (the adaLN modulation chunks)
function adaLNChunks(g: GraphBuilder, adaLN: Linear, c: Value, n: number): Value[] {
  const modulation = g.scope('adaLN', () => linearGraph(g, adaLN, activationGraph(g, c, 'silu')));
  const size = adaLN.outFeatures / n;
  return g.split(modulation, 1, new Array<number>(n).fill(size));
}

/** x[B, T, C], c[B, C], context[B, S, Cctx], mask -> [B, T, C] */
export function ditBlockGraph(g: GraphBuilder, m: DiTBlock, x: Value, c: Value, context?: Value, mask?: AttentionMask | null): Value {
  const [shift1, scale1, gate1, shift2, scale2, gate2] = adaLNChunks(g, m.adaLN, c, 6) as [Value, Value, Value, Value, Value, Value];
  const normed1 = g.scope('norm1', () => layerNormGraph(g, m.norm1, x));
  const attended = g.scope('attn', () => attentionGraph(g, m.attn, modulateGraph(g, normed1, shift1, scale1)));
  x = g.add(x, gatedGraph(g, attended, gate1));
  if (m.crossAttn && context) {
    const normed = g.scope('normCross', () => layerNormGraph(g, m.normCross!, x));
    x = g.add(x, g.scope('crossAttn', () => attentionGraph(g, m.crossAttn!, normed, context, mask)));
  }
  const normed2 = g.scope('norm2', () => layerNormGraph(g, m.norm2, x));
  const mlpOut = g.scope('mlp', () => mlpGraph(g, m.mlp, modulateGraph(g, normed2, shift2, scale2)));
  return g.add(x, gatedGraph(g, mlpOut, gate2));
}

/** x[B, T, C], c[B, C] -> [B, T, out] */
export function finalLayerGraph(g: GraphBuilder, m: FinalLayer, x: Value, c: Value): Value {
  const [shift, scale] = adaLNChunks(g, m.adaLN, c, 2) as [Value, Value];
  const normed = g.scope('norm', () => layerNormGraph(g, m.norm, x));
  return g.scope('linear', () => linearGraph(g, m.linear, modulateGraph(g, normed, shift, scale)));
}

/**
 * sigma[B] -> [B, dim]: [cos(phi_0..h-1), sin(phi_0..h-1) (, 0 when dim is odd)], phi_i = scale sigma f_i,
 * f_i = exp(-ln(maxPeriod) i / h) (nn/ops/timestep.ts). Computed as the kernel computes it: the phase in
 * turns u = sigma * g_i (g_i = scale f_i / 2 pi rounded to f32 once, so u is one f32 product), reduced
 * exactly to quarter turns, then the Cephes polynomials of precise_math.wgsl. The runtimes' own Sin/Cos
 * would do at 1000 rad, but WGSL bounds their error only by 2^-11 (SwiftShader's is ~2e-4).
 */
export function timestepFeaturesGraph(g: GraphBuilder, sigma: Value, dim: number, options: { maxPeriod?: number; scale?: number } = {}): Value {
  const maxPeriod = options.maxPeriod ?? 10000;
  const scale = options.scale ?? 1000;
  const half = Math.floor(dim / 2);
  const turns = Array.from({ length: half }, (_, i) => (scale * Math.exp((-Math.log(maxPeriod) * i) / half)) / (2 * Math.PI));
  return g.scope('timestep', () => {
    const u = g.mul(g.unsqueeze(sigma, [1]), g.floats([1, half], turns, 'turns'));
    const u4 = g.mul(u, g.scalar(4));
    const q = g.op('Round', [u4]); // half to even, as WGSL's round
    const r = g.mul(g.sub(u4, q), g.scalar(1.5707963267948966));
    const z = g.mul(r, r);
    // s = ((-1.9515295891e-4 z + 8.3321608736e-3) z - 1.6666654611e-1) z r + r
    const sPoly = g.sub(g.mul(g.add(g.mul(g.scalar(-1.9515295891e-4), z), g.scalar(8.3321608736e-3)), z), g.scalar(1.6666654611e-1));
    const s = g.add(g.mul(g.mul(sPoly, z), r), r);
    // c = ((2.443315711809948e-5 z - 1.388731625493765e-3) z + 4.166664568298827e-2) z z - 0.5 z + 1
    const cPoly = g.add(g.mul(g.sub(g.mul(g.scalar(2.443315711809948e-5), z), g.scalar(1.388731625493765e-3)), z), g.scalar(4.166664568298827e-2));
    const c = g.add(g.sub(g.mul(g.mul(cPoly, z), z), g.mul(g.scalar(0.5), z)), g.scalar(1));
    // the quadrant q mod 4 rotates (s, c): 0 (s, c), 1 (c, -s), 2 (-s, -c), 3 (-c, s)
    const quadrant = g.sub(q, g.mul(g.scalar(4), g.op('Floor', [g.mul(q, g.scalar(0.25))])));
    const negS = g.op('Neg', [s]);
    const negC = g.op('Neg', [c]);
    const pick = (values: [Value, Value, Value, Value]) =>
      [0, 1, 2].reduceRight<Value>((rest, k) => g.op('Where', [g.op('Equal', [quadrant, g.scalar(k)]), values[k]!, rest]), values[3]);
    const sine = pick([s, c, negS, negC]);
    const cosine = pick([c, negS, negC, s]);
    const features = g.concat([cosine, sine], 1);
    return dim % 2 === 0 ? features : g.op('Pad', [features, g.int64s([0, 0, 0, 1])]);
  });
}

export function timestepEmbedderGraph(g: GraphBuilder, m: TimestepEmbedder, sigma: Value): Value {
  const features = timestepFeaturesGraph(g, sigma, m.frequencyDim);
  return g.scope('mlp', () => mlpGraph(g, m.mlp, features));
}
