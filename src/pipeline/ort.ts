// Loading onnxruntime-web in the browser: one ORT for the whole app (the exact build that
// @huggingface/transformers pins), its wasm served by us from the same build, never from a CDN.
import { ORT_RUNTIME_DIR, ORT_WASM_FILE } from './ortRuntime';

export function ortAssetBase(): string {
  return new URL(`${import.meta.env.BASE_URL}${ORT_RUNTIME_DIR}`, globalThis.location.href).href;
}

export async function loadOrt(): Promise<typeof import('onnxruntime-web/webgpu')> {
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.wasmPaths = ortAssetBase();
  return ort;
}

export interface OrtRuntimeReport {
  version: string;
  wasmUrl: string;
  wasmBytes: number;
}

/**
 * Loads ORT's JS and checks that its wasm binary is really served (starts with the wasm magic number),
 * so a misconfigured server is reported here, not later as ORT's "expected magic word" failure.
 */
export async function probeOrtRuntime(): Promise<OrtRuntimeReport> {
  const ort = await loadOrt();
  const wasmUrl = ortAssetBase() + ORT_WASM_FILE;
  const response = await fetch(wasmUrl, { headers: { Range: 'bytes=0-7' } });
  if (!response.ok) throw new Error(`ONNX Runtime's wasm is not served: GET ${wasmUrl} answered ${response.status}.`);
  // Servers that ignore the Range header send the whole 26 MB: read the first chunk and stop.
  const reader = response.body!.getReader();
  const { value: head = new Uint8Array() } = await reader.read();
  await reader.cancel();
  if (head[0] !== 0x00 || head[1] !== 0x61 || head[2] !== 0x73 || head[3] !== 0x6d) {
    throw new Error(`ONNX Runtime's wasm at ${wasmUrl} is not a wasm file (the server sent something else, perhaps an HTML page).`);
  }
  const range = response.headers.get('Content-Range');
  const wasmBytes = Number(range?.split('/')[1] ?? response.headers.get('Content-Length') ?? 0);
  return { version: ort.env.versions.web ?? __ORT_VERSION__, wasmUrl, wasmBytes };
}
