// The model bundle manifest (models/<name>/manifest.json, shared/DESIGN.md "Model bundles"): one format
// for the bundled Shapes and toy models and for real ones. parseManifest checks its structure;
// validateManifest also checks the files (sizes, sha256) and the ONNX graphs' input and output names
// against what the manifest says. Every refusal is a BundleError naming the file and the field:
//   "manifest.json: denoiser.inputs.sample is missing"
//   "denoiser.onnx: sha256 mismatch: expected 3f..., got 9a..."
//   "denoiser.onnx: has no input "sample" (manifest.json denoiser.inputs.sample); its inputs: x, t"
// Runs in the browser and in Node (sha256 through crypto.subtle).
import { readOnnxGraph } from '../onnx/graphReader';
import { FORMAT_VERSION, type FieldReader, fieldReader, MANIFEST_FILE } from './bundleFields';

export { MANIFEST_FILE, FORMAT_VERSION };

/** A refusal: `file` is the bundle file at fault, `field` the manifest field (dotted path) when there is one. */
export class BundleError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | null,
    detail: string,
  ) {
    super(`${file}: ${field ? `${field} ` : ''}${detail}`);
    this.name = 'BundleError';
  }
}

export interface BundleFile {
  /** Relative to the bundle folder, '/'-separated. */
  path: string;
  bytes: number;
  /** Lowercase hex. */
  sha256: string;
}

export type Space = { type: 'pixel'; channels: number } | { type: 'latent'; channels: number; scale: number; shift?: number } | { type: 'points'; dims: number };

export interface Steps {
  /** The step count a sampler uses unless told otherwise. */
  default: number;
  /**
   * 'euler-grid': a teacher, any step count works (its grid: shift applied to 1 - i/n, i < n);
   * 'anchors': a few-step student, only the listed step counts (its anchors).
   */
  schedule: 'euler-grid' | 'anchors';
  /**
   * The noise levels the denoiser is evaluated at, per step count, descending (the final 0 is implicit):
   * flow, s in (0, 1]; epsilon, the discrete timestep in [0, 1000).
   */
  sigmas: Record<string, number[]>;
}

export interface TextEncoderSpec {
  /** The tokenizer folder (tokenizer.json, tokenizer_config.json), as transformers.js' AutoTokenizer loads it. */
  tokenizer: string;
  onnx: string;
  maxLength: number;
  hiddenSize: number;
  inputs: { inputIds: string; attentionMask?: string };
  outputs: { lastHiddenState: string; pooled?: string };
  externalData?: string[];
}

export interface DenoiserSpec {
  onnx: string;
  inputs: {
    sample: string;
    sigma: string;
    encoderHiddenStates?: string;
    encoderAttentionMask?: string;
    pooledText?: string;
    label?: string;
  };
  /** prediction: the velocity (flow) or the noise (epsilon). */
  outputs: { prediction: string };
  externalData?: string[];
}

export interface DecoderSpec {
  onnx: string;
  inputs: { latent: string };
  outputs: { image: string };
  externalData?: string[];
}

/**
 * An engine checkpoint (safetensors, parameter paths as docs/NETS.md) and the config that builds its
 * net: what in-browser distillation starts from (the student, the fake score and the real score are all
 * initialised from the teacher).
 */
export interface CheckpointSpec {
  path: string;
  config: { [key: string]: JsonValue };
}

export interface Provenance {
  /** The command that made the bundle (and the run it came from). */
  command: string;
  /** The git commit of the code that trained and exported it. */
  commit: string;
  /** ISO 8601. */
  date: string;
  seed?: number;
  /** Training steps. */
  steps?: number;
  wallSeconds?: number;
  /** The GPU adapter it trained on. */
  adapter?: string;
  /** The run folder or the upstream model it came from. */
  source?: string;
  /** The command that trained it. */
  training?: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Measured quality: known keys are typed, others free-form. */
export interface Metrics {
  /** Fraction of generated images whose attributes the evaluator finds in the prompt, in [0, 1]. */
  promptAccuracy?: number;
  /** Frechet distance to real renders in the evaluator's feature space. */
  fdReal?: number;
  /** Frechet distance to the teacher's samples. */
  fdTeacher?: number;
  /** Final training loss. */
  finalLoss?: number;
  [key: string]: JsonValue | undefined;
}

export interface Manifest {
  formatVersion: typeof FORMAT_VERSION;
  name: string;
  description?: string;
  /** The network family, e.g. 'ShapesDiT', 'Toy2DTeacher'. */
  architecture?: string;
  /** flow: the denoiser predicts v = eps - x0; epsilon: it predicts the noise. */
  kind: 'flow' | 'epsilon';
  /** What the denoiser is conditioned on: text (through textEncoder) or a class label. */
  conditioning: 'text' | 'label';
  /** Image size in pixels; absent for points. */
  resolution?: { width: number; height: number };
  space: Space;
  steps: Steps;
  /** The timestep shift k of shift(s) = k s / (1 + (k - 1) s) the sigmas were made with (1: none). */
  shift: number;
  /** Classifier-free guidance weight by default (1: none, as for distilled students). */
  guidance: { default: number };
  /** Label names, index = the label input's value (label 0 is the unconditional one); for conditioning 'label'. */
  labels?: string[];
  textEncoder?: TextEncoderSpec;
  denoiser: DenoiserSpec;
  decoder?: DecoderSpec;
  /** Engine checkpoints by network, for training in the browser (absent in bundles of foreign models). */
  checkpoints?: { textEncoder?: CheckpointSpec; denoiser?: CheckpointSpec };
  files: BundleFile[];
  provenance: Provenance;
  metrics: Metrics;
}

/** What a bundle's files are known by: their bytes, or their size and hash (e.g. from a listing). */
export type FileFacts = Uint8Array | { bytes: number; sha256: string };

// ---- structure ----

/** The manifest from JSON text, bytes, or a parsed value; throws a BundleError naming the field. */
export function parseManifest(input: unknown): Manifest {
  let json: unknown = input;
  if (input instanceof Uint8Array) json = new TextDecoder('utf-8').decode(input);
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (error) {
      throw new BundleError(MANIFEST_FILE, null, `is not valid JSON: ${(error as Error).message}`);
    }
  }
  return readManifest(fieldReader(json, (field, detail) => new BundleError(MANIFEST_FILE, field, detail)));
}

function readManifest(root: FieldReader): Manifest {
  root.keys([
    'formatVersion', 'name', 'description', 'architecture', 'kind', 'conditioning', 'resolution', 'space', 'steps', 'shift', 'guidance', 'labels',
    'textEncoder', 'denoiser', 'decoder', 'checkpoints', 'files', 'provenance', 'metrics',
  ]);
  const version = root.number('formatVersion');
  if (version !== FORMAT_VERSION) root.fail('formatVersion', `is ${version}; this app reads format ${FORMAT_VERSION}`);
  const kind = root.oneOf('kind', ['flow', 'epsilon'] as const);
  const conditioning = root.oneOf('conditioning', ['text', 'label'] as const);
  const space = readSpace(root.object('space'));
  const manifest: Manifest = {
    formatVersion: FORMAT_VERSION,
    name: root.string('name'),
    kind,
    conditioning,
    space,
    steps: readSteps(root.object('steps'), kind),
    shift: root.number('shift', { min: 0, exclusiveMin: true }),
    guidance: (() => {
      const g = root.object('guidance');
      g.keys(['default']);
      return { default: g.number('default', { min: 0 }) };
    })(),
    denoiser: readDenoiser(root.object('denoiser'), conditioning),
    files: readFiles(root),
    provenance: readProvenance(root.object('provenance')),
    metrics: readMetrics(root.object('metrics')),
  };
  const description = root.optional('description', (r, key) => r.string(key));
  if (description !== undefined) manifest.description = description;
  const architecture = root.optional('architecture', (r, key) => r.string(key));
  if (architecture !== undefined) manifest.architecture = architecture;
  const resolution = root.optional('resolution', (r, key) => {
    const o = r.object(key);
    o.keys(['width', 'height']);
    return { width: o.integer('width', { min: 1 }), height: o.integer('height', { min: 1 }) };
  });
  if (resolution) manifest.resolution = resolution;
  else if (space.type !== 'points') root.fail('resolution', `is missing (required for ${space.type} space)`);
  const labels = root.optional('labels', (r, key) => r.strings(key, { nonEmpty: true }));
  if (labels) manifest.labels = labels;
  else if (conditioning === 'label') root.fail('labels', 'is missing (required when conditioning is "label")');
  const textEncoder = root.optional('textEncoder', (r, key) => readTextEncoder(r.object(key)));
  if (textEncoder) manifest.textEncoder = textEncoder;
  else if (conditioning === 'text') root.fail('textEncoder', 'is missing (required when conditioning is "text")');
  const decoder = root.optional('decoder', (r, key) => readDecoder(r.object(key)));
  if (decoder) manifest.decoder = decoder;
  else if (space.type === 'latent') root.fail('decoder', 'is missing (required for latent space)');
  const checkpoints = root.optional('checkpoints', (r, key) => readCheckpoints(r.object(key)));
  if (checkpoints) manifest.checkpoints = checkpoints;
  checkReferencedFiles(root, manifest);
  return manifest;
}

function readCheckpoints(r: FieldReader): NonNullable<Manifest['checkpoints']> {
  r.keys(['textEncoder', 'denoiser']);
  const checkpoints: NonNullable<Manifest['checkpoints']> = {};
  for (const key of ['textEncoder', 'denoiser'] as const) {
    const spec = r.optional(key, (o, k) => {
      const c = o.object(k);
      c.keys(['path', 'config']);
      return { path: c.path('path'), config: c.object('config').json() as CheckpointSpec['config'] };
    });
    if (spec) checkpoints[key] = spec;
  }
  return checkpoints;
}

function readSpace(r: FieldReader): Space {
  const type = r.oneOf('type', ['pixel', 'latent', 'points'] as const);
  if (type === 'pixel') {
    r.keys(['type', 'channels']);
    return { type, channels: r.integer('channels', { min: 1 }) };
  }
  if (type === 'points') {
    r.keys(['type', 'dims']);
    return { type, dims: r.integer('dims', { min: 1 }) };
  }
  r.keys(['type', 'channels', 'scale', 'shift']);
  const space: Space = { type, channels: r.integer('channels', { min: 1 }), scale: r.number('scale') };
  const shift = r.optional('shift', (o, key) => o.number(key));
  if (shift !== undefined) space.shift = shift;
  return space;
}

function readSteps(r: FieldReader, kind: Manifest['kind']): Steps {
  r.keys(['default', 'schedule', 'sigmas']);
  const schedule = r.oneOf('schedule', ['euler-grid', 'anchors'] as const);
  const table = r.object('sigmas');
  const sigmas: Record<string, number[]> = {};
  for (const count of table.ownKeys()) {
    const n = Number(count);
    if (!Number.isInteger(n) || n < 1 || String(n) !== count) table.fail(count, 'is not a step count (keys are integers >= 1)');
    const values = table.numbers(count);
    if (values.length !== n) table.fail(count, `has ${values.length} values for ${n} steps`);
    const [low, high] = kind === 'flow' ? [0, 1] : [0, 999];
    values.forEach((v, i) => {
      if (!(v > low || (kind === 'epsilon' && v === 0)) || v > high) table.fail(`${count}[${i}]`, `is ${v}, outside ${kind === 'flow' ? '(0, 1]' : '[0, 999]'}`);
      if (i > 0 && !(v < values[i - 1]!)) table.fail(`${count}[${i}]`, `is ${v}; the levels must decrease (previous ${values[i - 1]})`);
    });
    sigmas[count] = values;
  }
  if (Object.keys(sigmas).length === 0) r.fail('sigmas', 'lists no step count');
  const defaultSteps = r.integer('default', { min: 1 });
  if (!sigmas[String(defaultSteps)]) r.fail('default', `is ${defaultSteps}, but sigmas has no entry for it`);
  return { default: defaultSteps, schedule, sigmas };
}

function readNames<K extends string>(r: FieldReader, required: readonly K[], optional: readonly K[]): Record<K, string> {
  r.keys([...required, ...optional]);
  const names = {} as Record<K, string>;
  for (const key of required) names[key] = r.string(key);
  for (const key of optional) {
    const value = r.optional(key, (o, k) => o.string(k));
    if (value !== undefined) names[key] = value;
  }
  return names;
}

function readExternalData(r: FieldReader): string[] | undefined {
  return r.optional('externalData', (o, key) => o.strings(key));
}

function readTextEncoder(r: FieldReader): TextEncoderSpec {
  r.keys(['tokenizer', 'onnx', 'maxLength', 'hiddenSize', 'inputs', 'outputs', 'externalData']);
  const spec: TextEncoderSpec = {
    tokenizer: r.path('tokenizer'),
    onnx: r.path('onnx'),
    maxLength: r.integer('maxLength', { min: 1 }),
    hiddenSize: r.integer('hiddenSize', { min: 1 }),
    inputs: readNames(r.object('inputs'), ['inputIds'], ['attentionMask']),
    outputs: readNames(r.object('outputs'), ['lastHiddenState'], ['pooled']),
  };
  const externalData = readExternalData(r);
  if (externalData) spec.externalData = externalData;
  return spec;
}

function readDenoiser(r: FieldReader, conditioning: Manifest['conditioning']): DenoiserSpec {
  r.keys(['onnx', 'inputs', 'outputs', 'externalData']);
  const inputsReader = r.object('inputs');
  const inputs = readNames(inputsReader, ['sample', 'sigma'], ['encoderHiddenStates', 'encoderAttentionMask', 'pooledText', 'label']);
  if (conditioning === 'text' && !inputs.encoderHiddenStates) inputsReader.fail('encoderHiddenStates', 'is missing (required when conditioning is "text")');
  if (conditioning === 'label' && !inputs.label) inputsReader.fail('label', 'is missing (required when conditioning is "label")');
  const spec: DenoiserSpec = { onnx: r.path('onnx'), inputs, outputs: readNames(r.object('outputs'), ['prediction'], []) };
  const externalData = readExternalData(r);
  if (externalData) spec.externalData = externalData;
  return spec;
}

function readDecoder(r: FieldReader): DecoderSpec {
  r.keys(['onnx', 'inputs', 'outputs', 'externalData']);
  const spec: DecoderSpec = { onnx: r.path('onnx'), inputs: readNames(r.object('inputs'), ['latent'], []), outputs: readNames(r.object('outputs'), ['image'], []) };
  const externalData = readExternalData(r);
  if (externalData) spec.externalData = externalData;
  return spec;
}

function readFiles(root: FieldReader): BundleFile[] {
  const seen = new Set<string>();
  return root.array('files').map((entry, i) => {
    entry.keys(['path', 'bytes', 'sha256']);
    const path = entry.path('path');
    if (path === MANIFEST_FILE) entry.fail('path', `is ${MANIFEST_FILE}, which cannot list itself`);
    if (seen.has(path)) entry.fail('path', `"${path}" is listed twice (files[${i}])`);
    seen.add(path);
    const sha256 = entry.string('sha256');
    if (!/^[0-9a-f]{64}$/.test(sha256)) entry.fail('sha256', `must be 64 lowercase hex digits, got "${sha256}"`);
    return { path, bytes: entry.integer('bytes', { min: 0 }), sha256 };
  });
}

function readProvenance(r: FieldReader): Provenance {
  r.keys(['command', 'commit', 'date', 'seed', 'steps', 'wallSeconds', 'adapter', 'source', 'training']);
  const provenance: Provenance = { command: r.string('command'), commit: r.string('commit'), date: r.string('date') };
  if (Number.isNaN(Date.parse(provenance.date))) r.fail('date', `is "${provenance.date}", not an ISO 8601 date`);
  for (const key of ['seed', 'steps'] as const) {
    const v = r.optional(key, (o, k) => o.integer(k, { min: 0 }));
    if (v !== undefined) provenance[key] = v;
  }
  const wallSeconds = r.optional('wallSeconds', (o, k) => o.number(k, { min: 0 }));
  if (wallSeconds !== undefined) provenance.wallSeconds = wallSeconds;
  for (const key of ['adapter', 'source', 'training'] as const) {
    const v = r.optional(key, (o, k) => o.string(k));
    if (v !== undefined) provenance[key] = v;
  }
  return provenance;
}

function readMetrics(r: FieldReader): Metrics {
  const metrics: Metrics = r.json() as Metrics;
  r.optional('promptAccuracy', (o, k) => o.number(k, { min: 0, max: 1 }));
  for (const key of ['fdReal', 'fdTeacher']) r.optional(key, (o, k) => o.number(k, { min: 0 }));
  r.optional('finalLoss', (o, k) => o.number(k));
  return metrics;
}

/** Every file the manifest refers to must be in `files` (so it is hashed and fetched). */
function checkReferencedFiles(root: FieldReader, m: Manifest): void {
  const listed = new Set(m.files.map((f) => f.path));
  const need = (path: string, field: string) => {
    if (!listed.has(path)) root.fail(field, `names "${path}", which is not in files`);
  };
  for (const [component, spec] of [['textEncoder', m.textEncoder], ['denoiser', m.denoiser], ['decoder', m.decoder]] as const) {
    if (!spec) continue;
    need(spec.onnx, `${component}.onnx`);
    spec.externalData?.forEach((path, i) => need(path, `${component}.externalData[${i}]`));
  }
  if (m.textEncoder) need(`${m.textEncoder.tokenizer}/tokenizer.json`, 'textEncoder.tokenizer');
  if (m.checkpoints?.textEncoder) need(m.checkpoints.textEncoder.path, 'checkpoints.textEncoder.path');
  if (m.checkpoints?.denoiser) need(m.checkpoints.denoiser.path, 'checkpoints.denoiser.path');
}

// ---- files ----

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The files entry of a file's bytes. */
export async function fileEntry(path: string, bytes: Uint8Array): Promise<BundleFile> {
  return { path, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
}

/**
 * parseManifest, then, with `files`: every listed file present with its size and sha256, and every ONNX
 * file whose bytes are given checked against the manifest's input/output names and external data.
 */
export async function validateManifest(input: unknown, files?: ReadonlyMap<string, FileFacts>): Promise<Manifest> {
  const manifest = parseManifest(input);
  if (!files) return manifest;
  for (const entry of manifest.files) {
    const facts = files.get(entry.path);
    if (facts === undefined) throw new BundleError(entry.path, null, `is missing (listed in ${MANIFEST_FILE} files)`);
    const size = facts instanceof Uint8Array ? facts.byteLength : facts.bytes;
    if (size !== entry.bytes) throw new BundleError(entry.path, null, `size mismatch: expected ${entry.bytes} bytes, got ${size}`);
    const sha256 = facts instanceof Uint8Array ? await sha256Hex(facts) : facts.sha256;
    if (sha256 !== entry.sha256) throw new BundleError(entry.path, null, `sha256 mismatch: expected ${entry.sha256}, got ${sha256}`);
  }
  for (const [component, spec] of [['textEncoder', manifest.textEncoder], ['denoiser', manifest.denoiser], ['decoder', manifest.decoder]] as const) {
    const bytes = spec ? files.get(spec.onnx) : undefined;
    if (spec && bytes instanceof Uint8Array) checkOnnxInterface(component, spec, bytes);
  }
  return manifest;
}

/** The graph must take exactly the inputs the manifest names and produce the outputs it names. */
export function checkOnnxInterface(component: string, spec: { onnx: string; inputs: object; outputs: object; externalData?: string[] }, bytes: Uint8Array): void {
  let graph;
  try {
    graph = readOnnxGraph(bytes);
  } catch (error) {
    throw new BundleError(spec.onnx, null, (error as Error).message);
  }
  const inputs = graph.inputs.map((v) => v.name);
  const outputs = graph.outputs.map((v) => v.name);
  const named = (list: string[]) => list.join(', ') || '(none)';
  for (const [role, name] of Object.entries(spec.inputs) as [string, string][]) {
    if (!inputs.includes(name)) throw new BundleError(spec.onnx, null, `has no input "${name}" (${MANIFEST_FILE} ${component}.inputs.${role}); its inputs: ${named(inputs)}`);
  }
  const fed = new Set(Object.values(spec.inputs) as string[]);
  const unfed = inputs.filter((name) => !fed.has(name));
  if (unfed.length > 0) throw new BundleError(spec.onnx, null, `needs input "${unfed[0]}", which ${MANIFEST_FILE} ${component}.inputs does not name`);
  for (const [role, name] of Object.entries(spec.outputs) as [string, string][]) {
    if (!outputs.includes(name)) throw new BundleError(spec.onnx, null, `has no output "${name}" (${MANIFEST_FILE} ${component}.outputs.${role}); its outputs: ${named(outputs)}`);
  }
  const declared = new Set(spec.externalData ?? []);
  const folder = spec.onnx.includes('/') ? spec.onnx.slice(0, spec.onnx.lastIndexOf('/') + 1) : '';
  for (const { tensor, location } of graph.externalData) {
    if (!declared.has(folder + location)) {
      throw new BundleError(spec.onnx, null, `keeps tensor "${tensor}" in "${folder + location}", which ${MANIFEST_FILE} ${component}.externalData does not list`);
    }
  }
}
