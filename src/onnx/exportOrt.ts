// Running exported models on onnxruntime-web, the same way in Node ('onnxruntime-web': the wasm EP) and
// in the browser ('onnxruntime-web/webgpu': WebGPU or wasm EP): the caller passes the ORT module it loaded.
/** The ORT API both 'onnxruntime-web' (Node) and 'onnxruntime-web/webgpu' (browser) export. */
export type Ort = typeof import('onnxruntime-web');

export type Feed = { type: 'float32'; dims: readonly number[]; data: Float32Array } | { type: 'int64'; dims: readonly number[]; data: BigInt64Array };

export const float32 = (dims: readonly number[], data: ArrayLike<number>): Feed => ({ type: 'float32', dims, data: Float32Array.from(data) });
export const int64 = (dims: readonly number[], data: ArrayLike<number>): Feed => ({ type: 'int64', dims, data: BigInt64Array.from(Array.from(data, (v) => BigInt(v))) });

/** Runs a model once; returns every output's data and dims. */
export async function runOnnx(
  ort: Ort,
  model: Uint8Array,
  feeds: Record<string, Feed>,
  executionProvider: 'wasm' | 'webgpu' = 'wasm',
): Promise<Record<string, { dims: readonly number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(model, { executionProviders: [executionProvider], graphOptimizationLevel: 'all' });
  try {
    const inputs: Record<string, InstanceType<Ort['Tensor']>> = {};
    for (const [name, feed] of Object.entries(feeds)) inputs[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
    const results = await session.run(inputs);
    const out: Record<string, { dims: readonly number[]; data: Float32Array }> = {};
    for (const [name, tensor] of Object.entries(results)) out[name] = { dims: tensor.dims, data: (await tensor.getData()) as Float32Array };
    return out;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: ${a.length} values against ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
