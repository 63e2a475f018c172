// The prompt side of generation: the bundle's tokenizer through transformers.js' AutoTokenizer, and its text encoder
// as a plain ONNX Runtime session on the pipeline's execution provider (transformers.js has no model class for an
// arbitrary encoder, and a session of our own lets us pick the provider and keep the outputs on the GPU).
//
// AutoTokenizer loads from the bundle's bytes, never from a hub or a path: the files are registered in a cache that
// transformers.js consults before anything else (env.customCache), under a model id that is not a valid hub id, with
// env.allowRemoteModels off. The id carries the tokenizer.json hash, so transformers.js' memoised lookups can never
// mix two tokenizers up.
import type { Ort } from '../onnx/exportOrt';
import type { LoadedBundle } from './bundle';
import { createSession, type OrtSession, type SessionOptions } from './generateSession';
import { BundleError, type Manifest, sha256Hex, type TextEncoderSpec } from './manifest';

type OrtTensor = InstanceType<Ort['Tensor']>;
type Transformers = typeof import('@huggingface/transformers');
type Tokenizer = Awaited<ReturnType<Transformers['AutoTokenizer']['from_pretrained']>>;

// ---- the tokenizer from bytes ----

const registered = new Map<string, Uint8Array>();
let cacheInstalled = false;

interface CacheLike {
  match(request: string): Promise<Response | undefined | unknown>;
  put(request: string, response: Response): Promise<void>;
}

function installBundleCache(env: Transformers['env']): void {
  if (cacheInstalled) return;
  // Another custom cache (if someone set one) keeps answering for everything that is not a bundle file.
  const previous = env.useCustomCache ? (env.customCache as CacheLike | null) : null;
  const cache: CacheLike = {
    match: async (request) => {
      const bytes = registered.get(request);
      if (bytes) return new Response(bytes.slice(), { status: 200, headers: { 'content-length': String(bytes.byteLength) } });
      return previous?.match(request);
    },
    put: async (request, response) => previous?.put(request, response),
  };
  env.customCache = cache as Transformers['env']['customCache'];
  env.useCustomCache = true;
  cacheInstalled = true;
}

/** The ORT build's wasm location survives transformers.js' import (which sets a CDN path when none is set). */
async function importTransformers(ort: Ort): Promise<Transformers> {
  const wasmPaths = ort.env.wasm.wasmPaths;
  const transformers = await import('@huggingface/transformers');
  if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
  return transformers;
}

/** transformers.js' AutoTokenizer over the bundle's tokenizer folder, from the bundle's bytes. */
export async function loadBundleTokenizer(ort: Ort, bundle: LoadedBundle, spec: TextEncoderSpec): Promise<Tokenizer> {
  const { AutoTokenizer, env } = await importTransformers(ort);
  env.allowRemoteModels = false;
  env.allowLocalModels = true; // with both off, transformers.js refuses to load anything
  installBundleCache(env);
  const tokenizerJson = bundle.files.get(`${spec.tokenizer}/tokenizer.json`);
  if (!tokenizerJson) throw new BundleError(`${spec.tokenizer}/tokenizer.json`, 'textEncoder.tokenizer', 'is not among the bundle files');
  // A tokenizer without a config is a plain PreTrainedTokenizer (transformers.js needs the file to exist).
  const config = bundle.files.get(`${spec.tokenizer}/tokenizer_config.json`) ?? new TextEncoder().encode('{}');
  const id = `senseflow-bundle/${(await sha256Hex(tokenizerJson)).slice(0, 32)}/${spec.tokenizer}`;
  const keys = [`${id}/tokenizer.json`, `${id}/tokenizer_config.json`];
  registered.set(keys[0]!, tokenizerJson);
  registered.set(keys[1]!, config);
  try {
    return await AutoTokenizer.from_pretrained(id, { local_files_only: true });
  } finally {
    for (const key of keys) registered.delete(key);
  }
}

// ---- the text encoder ----

/** The element type ORT expects for a session input ('float32' when it does not say). */
export function inputType(session: OrtSession, name: string): string {
  const meta = session.inputMetadata?.find((m) => m.name === name);
  return meta && meta.isTensor ? String(meta.type) : 'float32';
}

/** A host tensor of the given element type (float32, int64, int32) from plain numbers. */
export function numberTensor(ort: Ort, type: string, values: ArrayLike<number>, dims: readonly number[], what: string): OrtTensor {
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(values), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values), dims);
    default:
      throw new Error(`${what} is ${type}; this pipeline feeds float32, int64 or int32`);
  }
}

export interface EncodedText {
  /** The denoiser's text inputs by their ONNX names (encoder states, pooled text, attention mask). */
  feeds: Record<string, OrtTensor>;
  tokenizeMs: number;
  textEncoderMs: number;
  /** Frees the encoder's outputs (GPU buffers on WebGPU). */
  dispose(): void;
}

export class TextConditioner {
  private constructor(
    private readonly ort: Ort,
    private readonly manifest: Manifest,
    private readonly spec: TextEncoderSpec,
    private readonly tokenizer: Tokenizer,
    private readonly session: OrtSession,
    private readonly denoiserInputType: (name: string) => string,
  ) {}

  static async create(ort: Ort, bundle: LoadedBundle, sessionOptions: SessionOptions, denoiserInputType: (name: string) => string): Promise<TextConditioner> {
    const spec = bundle.manifest.textEncoder;
    if (!spec) throw new BundleError('manifest.json', 'textEncoder', 'is missing: the pipeline needs a text encoder for a text-conditioned model');
    const tokenizer = await loadBundleTokenizer(ort, bundle, spec);
    const session = await createSession(ort, bundle.files.get(spec.onnx)!, withExternalData(sessionOptions, bundle, spec.onnx, spec.externalData));
    return new TextConditioner(ort, bundle.manifest, spec, tokenizer, session, denoiserInputType);
  }

  /** Tokenizes and encodes `texts` (one row each) into the denoiser's text feeds. */
  async encode(texts: readonly string[]): Promise<EncodedText> {
    const { ort, spec } = this;
    const started = performance.now();
    const encoded = this.tokenizer([...texts], { padding: 'max_length', truncation: true, max_length: spec.maxLength, return_tensor: false }) as {
      input_ids: number[][];
      attention_mask: number[][];
    };
    const rows = texts.length;
    const ids = encoded.input_ids.flat();
    const mask = encoded.attention_mask.flat();
    if (ids.length !== rows * spec.maxLength) throw new Error(`the tokenizer gave ${ids.length / rows} tokens per prompt, the text encoder takes ${spec.maxLength}`);
    const dims = [rows, spec.maxLength];
    const feeds: Record<string, OrtTensor> = {
      [spec.inputs.inputIds]: numberTensor(ort, inputType(this.session, spec.inputs.inputIds), ids, dims, `text encoder input ${spec.inputs.inputIds}`),
    };
    if (spec.inputs.attentionMask) {
      feeds[spec.inputs.attentionMask] = numberTensor(ort, inputType(this.session, spec.inputs.attentionMask), mask, dims, `text encoder input ${spec.inputs.attentionMask}`);
    }
    const tokenized = performance.now();
    const fetches = [spec.outputs.lastHiddenState, ...(spec.outputs.pooled ? [spec.outputs.pooled] : [])];
    const out = await this.session.run(feeds, fetches);
    const encodedAt = performance.now();

    const names = this.manifest.denoiser.inputs;
    const denoiserFeeds: Record<string, OrtTensor> = {};
    const owned: OrtTensor[] = [];
    const put = (name: string | undefined, tensor: OrtTensor) => {
      if (name) denoiserFeeds[name] = tensor;
      owned.push(tensor);
    };
    put(names.encoderHiddenStates, out[spec.outputs.lastHiddenState]!);
    if (spec.outputs.pooled) put(names.pooledText, out[spec.outputs.pooled]!);
    if (names.pooledText && !spec.outputs.pooled) throw new BundleError('manifest.json', 'textEncoder.outputs.pooled', `is missing, but the denoiser takes pooled text (${names.pooledText})`);
    if (names.encoderAttentionMask) {
      const name = names.encoderAttentionMask;
      put(name, numberTensor(ort, this.denoiserInputType(name), mask, dims, `denoiser input ${name}`));
    }
    return {
      feeds: denoiserFeeds,
      tokenizeMs: tokenized - started,
      textEncoderMs: encodedAt - tokenized,
      dispose: () => owned.forEach((t) => t.dispose()),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Session options with a model's external-data files attached. ORT matches them by the location written in the
 * model, which is relative to the model file: 'unet/weights.pb' of 'unet/model.onnx' is given as 'weights.pb'.
 */
export function withExternalData(options: SessionOptions, bundle: LoadedBundle, onnxPath: string, paths: readonly string[] | undefined): SessionOptions {
  if (!paths || paths.length === 0) return options;
  const folder = onnxPath.includes('/') ? onnxPath.slice(0, onnxPath.lastIndexOf('/') + 1) : '';
  return {
    ...options,
    externalData: paths.map((path) => ({ path: path.startsWith(folder) ? path.slice(folder.length) : path, data: bundle.files.get(path)! })),
  };
}
