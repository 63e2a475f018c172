/** The onnxruntime-web version the build was made with (from its package.json); see vite.config.ts. */
declare const __ORT_VERSION__: string;
/** The git commit the app was built from (`-dirty` with uncommitted changes; 'unknown' outside git): a student's provenance. */
declare const __APP_COMMIT__: string;
