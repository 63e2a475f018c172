/// <reference types="vite/client" />
/// <reference types="@webgpu/types" />

declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}

/** The model bundles under models/ that the Generate tab offers (vite.config.ts bundledModels: text-to-image and 2D point models): path and raw manifest JSON. */
declare module 'virtual:bundled-models' {
  const models: { path: string; manifest: unknown }[];
  export default models;
}

/** The 2D toy teacher bundles (vite.config.ts toyTeachers): mixture name -> folder, relative to the app's base. */
declare module 'virtual:toy-teachers' {
  const teachers: Record<string, string>;
  export default teachers;
  /** The attribute evaluator's weights, relative to the app's base, and their sha256 (null: not in this build). */
  export const evaluator: { path: string; sha256: string } | null;
}
