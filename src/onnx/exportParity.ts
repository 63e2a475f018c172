// How far an exported ONNX net is from the engine's forward on fixed inputs: what the bundle CLI
// records in a bundle's metrics (`onnxMaxAbsDiff`) after exporting a trained checkpoint, so a bundle
// carries evidence that its ONNX files compute what was trained. Fixed inputs: a few real captions
// (with padding), noise from fixed seeds, sigmas across [0, 1], every label.
import { encodeCaptionBatch } from '../data/tokenizer';
import type { ShapesDiT } from '../nets/dit';
import type { TextEncoder } from '../nets/textEncoder';
import type { Toy2DTeacher } from '../nets/toy2d';
import { randn } from '../nn/host';
import { fromArray, noGrad, type Tensor, tidy } from '../nn/tensor';
import { type Feed, float32, int64, maxAbsDiff, type Ort, runOnnx } from './exportOrt';

const CAPTIONS = ['a red circle at the top left on a blue background', 'a large green square', ''];
const SIGMAS = [0.98, 0.5, 0.05];

async function engineRun(engine: Tensor['engine'], run: () => Tensor[]): Promise<Float32Array[]> {
  const outs = tidy(engine, () => noGrad(engine, run));
  const data = await Promise.all(outs.map((t) => t.read()));
  outs.forEach((t) => t.dispose());
  return data;
}

async function worstDiff(ort: Ort, model: Uint8Array, feeds: Record<string, Feed>, expected: Record<string, Float32Array>): Promise<number> {
  const outputs = await runOnnx(ort, model, feeds, 'wasm');
  let worst = 0;
  for (const [name, want] of Object.entries(expected)) {
    const got = outputs[name];
    if (!got) throw new Error(`ONNX parity: the model has no output "${name}"`);
    worst = Math.max(worst, maxAbsDiff(got.data, want));
  }
  return worst;
}

/** Max |ORT wasm - engine| over the text encoder's outputs and the denoiser's velocity. */
export async function shapesParity(ort: Ort, textEncoder: TextEncoder, denoiser: ShapesDiT, textModel: Uint8Array, denoiserModel: Uint8Array): Promise<{ textEncoder: number; denoiser: number }> {
  const engine = textEncoder.engine;
  const { maxLength } = textEncoder.config;
  const batch = CAPTIONS.length;
  const tokens = encodeCaptionBatch(CAPTIONS, maxLength);
  const { channels, imageSize } = denoiser.config;
  const sampleShape = [batch, channels, imageSize, imageSize];
  const sample = Float32Array.from(randn(sampleShape, 7).data);
  const [hidden, pooled, velocity] = await engineRun(engine, () => {
    const mask = fromArray(engine, [batch, maxLength], tokens.attentionMask);
    const text = textEncoder.forward(fromArray(engine, [batch, maxLength], tokens.ids, 'u32'), mask);
    const v = denoiser.forward(fromArray(engine, sampleShape, sample), fromArray(engine, [batch], SIGMAS), text.lastHiddenState, mask, text.pooled);
    return [text.lastHiddenState, text.pooled, v];
  });
  const textDiff = await worstDiff(
    ort,
    textModel,
    { input_ids: int64([batch, maxLength], tokens.ids), attention_mask: int64([batch, maxLength], tokens.attentionMask) },
    { last_hidden_state: hidden!, pooler_output: pooled! },
  );
  // The denoiser is fed the engine's text states, so its diff is its own.
  const denoiserDiff = await worstDiff(
    ort,
    denoiserModel,
    {
      sample: float32(sampleShape, sample),
      sigma: float32([batch], SIGMAS),
      encoder_hidden_states: float32([batch, maxLength, hidden!.length / batch / maxLength], hidden!),
      encoder_attention_mask: float32([batch, maxLength], tokens.attentionMask),
      pooled_text: float32([batch, pooled!.length / batch], pooled!),
    },
    { velocity: velocity! },
  );
  return { textEncoder: textDiff, denoiser: denoiserDiff };
}

/** Max |ORT wasm - engine| of the toy teacher's velocity, every label at a few sigmas. */
export async function toy2dParity(ort: Ort, net: Toy2DTeacher, model: Uint8Array): Promise<number> {
  const engine = net.engine;
  const labels = Array.from({ length: net.config.labels * SIGMAS.length }, (_, i) => i % net.config.labels);
  const batch = labels.length;
  const sigmas = labels.map((_, i) => SIGMAS[Math.floor(i / net.config.labels)]!);
  const sample = Float32Array.from(randn([batch, 2], 11).data);
  const [velocity] = await engineRun(engine, () => [net.forward(fromArray(engine, [batch, 2], sample), fromArray(engine, [batch], sigmas), fromArray(engine, [batch], labels, 'u32'))]);
  return worstDiff(ort, model, { sample: float32([batch, 2], sample), sigma: float32([batch], sigmas), label: int64([batch], labels) }, { velocity: velocity! });
}
