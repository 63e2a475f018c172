// The files of onnxruntime-web's runtime that the app serves itself under <base>/ort/ (see vite.config.ts).
// The WebGPU build of ORT loads the asyncify wasm for both the WebGPU and the wasm execution providers.
// Shared by the Vite config (which copies them into the build) and the app (which points ORT at them).
export const ORT_RUNTIME_DIR = 'ort/';
export const ORT_WASM_FILE = 'ort-wasm-simd-threaded.asyncify.wasm';
export const ORT_RUNTIME_FILES = ['ort-wasm-simd-threaded.asyncify.mjs', ORT_WASM_FILE] as const;
