// ORT session creation, one at a time per ORT module: onnxruntime-web's WebGPU EP refuses to create a session while
// another is being created ("another WebGPU EP inference session is being created"), which is why transformers.js
// serialises it too. Every session the pipeline makes goes through here, whatever its provider.
import type { Ort } from '../onnx/exportOrt';

export type OrtSession = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
export type SessionOptions = NonNullable<Parameters<Ort['InferenceSession']['create']>[1]>;

const queues = new WeakMap<object, Promise<unknown>>();

export function createSession(ort: Ort, model: Uint8Array, options: SessionOptions): Promise<OrtSession> {
  const previous = queues.get(ort.InferenceSession) ?? Promise.resolve();
  const created = previous.then(() => ort.InferenceSession.create(model, options));
  queues.set(
    ort.InferenceSession,
    created.catch(() => undefined),
  );
  return created;
}
