/** The onnxruntime-web version the build was made with (from its package.json); see vite.config.ts. */
declare const __ORT_VERSION__: string;
