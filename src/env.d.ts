/// <reference types="vite/client" />
/// <reference types="@webgpu/types" />

declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}

/** The text-to-image bundles under models/ that the app ships (vite.config.ts bundledModels): path and raw manifest JSON. */
declare module 'virtual:bundled-models' {
  const models: { path: string; manifest: unknown }[];
  export default models;
}
