// A generated image's settings travel inside its PNG, as ComfyUI and Automatic1111 do it: one text chunk
// per setting (prompt, seed, steps, sampler, guidance, model, model_sha256) plus a `senseflow` key with
// the format version, which is how a PNG is recognised as ours. Dropping such a PNG on the page restores
// the settings; anything else is refused with a message that says what to do. Pure TS (Node and browser).
import { encode as encodePng, hasPngSignature } from 'fast-png';
import { fitsTextChunk, insertBeforeEnd, isValidKeyword, itxtChunk, PngChunkError, readTextChunks } from './pngText';

/** The key that marks a PNG as made by senseflow-web; its value is the settings format version. */
export const SETTINGS_KEY = 'senseflow';
export const SETTINGS_VERSION = 1;

export interface GenerationSettings {
  prompt: string;
  /** A whole number >= 0. */
  seed: number;
  /** A whole number >= 1. */
  steps: number;
  /** The sampler's name as the pipeline knows it (e.g. 'x0', 'euler'). */
  sampler: string;
  /** Classifier-free guidance weight, >= 0 (1: none). */
  guidance: number;
  /** The model bundle's name. */
  model: string;
  /** sha256 of the model, 64 lowercase hex digits. */
  modelSha256: string;
}

/** 8-bit RGBA pixels, row by row: data.length === width * height * 4. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

export interface PngSettings {
  settings: GenerationSettings;
  /** The format version the PNG was written with. */
  version: number;
  /** Text chunks that are not settings (other tools' keys, keys of a later version), kept aside as found. */
  other: Record<string, string>;
}

/** Not a PNG at all (no PNG signature). */
export class NotPngError extends Error {
  constructor(
    readonly fileName: string,
    message = `${fileName} is not a PNG file: drop a PNG image downloaded from senseflow-web to restore its settings`,
  ) {
    super(message);
    this.name = 'NotPngError';
  }
}

/** A PNG whose chunk list is cut short or damaged; a kind of NotPngError, as nothing can be read from it. */
export class DamagedPngError extends NotPngError {
  constructor(fileName: string, detail: string) {
    super(fileName, `${fileName} is a damaged PNG file (${detail}): download the image again`);
    this.name = 'DamagedPngError';
  }
}

/** A PNG without the `senseflow` key. */
export class PngWithoutSettingsError extends Error {
  constructor(readonly fileName: string) {
    super(
      `${fileName}: this PNG carries no generation settings: it was not made by senseflow-web or its metadata was stripped ` +
        '(many apps and sites remove it when they re-save or upload an image); use the PNG as it was downloaded',
    );
    this.name = 'PngWithoutSettingsError';
  }
}

/** Settings present, but one is missing or has a value that cannot be used; `key` is the PNG text key. */
export class MalformedSettingsError extends Error {
  constructor(
    readonly fileName: string,
    readonly key: string,
    detail: string,
    advice = "the PNG's metadata was edited or damaged: set that value by hand",
  ) {
    super(`${fileName}: the generation setting "${key}" ${detail}; ${advice}`);
    this.name = 'MalformedSettingsError';
  }
}

// ---- values: one rule per kind, used when writing (so we never write what we cannot read) and reading ----

type Check = (text: string) => string | null; // null: valid; otherwise what is wrong

const wholeNumber = (min: number): Check => (t) => (/^\d+$/.test(t) && Number.isSafeInteger(Number(t)) && Number(t) >= min ? null : `is "${t}", not a whole number >= ${min}`);
const decimal: Check = (t) => (/^\d+(\.\d+)?(e[+-]?\d+)?$/i.test(t) && Number.isFinite(Number(t)) ? null : `is "${t}", not a number >= 0`);
const nonEmpty: Check = (t) => (t.trim() !== '' ? null : 'is empty');
const sha256: Check = (t) => (/^[0-9a-f]{64}$/.test(t) ? null : `is "${t}", not a sha256 (64 lowercase hex digits)`);

interface Field {
  /** The PNG text key. */
  key: string;
  type: 'string' | 'number';
  check: Check;
}

const FIELDS: Record<keyof GenerationSettings, Field> = {
  prompt: { key: 'prompt', type: 'string', check: () => null },
  seed: { key: 'seed', type: 'number', check: wholeNumber(0) },
  steps: { key: 'steps', type: 'number', check: wholeNumber(1) },
  sampler: { key: 'sampler', type: 'string', check: nonEmpty },
  guidance: { key: 'guidance', type: 'number', check: decimal },
  model: { key: 'model', type: 'string', check: nonEmpty },
  modelSha256: { key: 'model_sha256', type: 'string', check: sha256 },
};

const FIELD_NAMES = Object.keys(FIELDS) as (keyof GenerationSettings)[];

/** The PNG text key of each setting. */
export const SETTING_KEYS = Object.fromEntries(FIELD_NAMES.map((field) => [field, FIELDS[field].key])) as Record<keyof GenerationSettings, string>;

const OUR_KEYS = new Set<string>([SETTINGS_KEY, ...Object.values(SETTING_KEYS)]);

/** The settings as PNG text (key -> value), checked. Throws a RangeError naming the setting when one is invalid. */
export function settingsToText(settings: GenerationSettings): Record<string, string> {
  const text: Record<string, string> = { [SETTINGS_KEY]: String(SETTINGS_VERSION) };
  for (const field of FIELD_NAMES) {
    const { key, type, check } = FIELDS[field];
    const value = String(settings[field]);
    const problem = typeof settings[field] === type ? check(value) : `is a ${typeof settings[field]}, not a ${type}`;
    if (problem) throw new RangeError(`cannot write the generation setting ${field}: it ${problem}`);
    text[key] = value;
  }
  return text;
}

/** The settings from PNG text; throws PngWithoutSettingsError or MalformedSettingsError (naming the key). */
export function settingsFromText(text: ReadonlyMap<string, string> | Readonly<Record<string, string>>, fileName = 'this file'): PngSettings {
  const get = (key: string) => (text instanceof Map ? text.get(key) : Object.hasOwn(text, key) ? (text as Record<string, string>)[key] : undefined);
  const versionText = get(SETTINGS_KEY);
  if (versionText === undefined) throw new PngWithoutSettingsError(fileName);
  const versionProblem = wholeNumber(1)(versionText);
  if (versionProblem) throw new MalformedSettingsError(fileName, SETTINGS_KEY, `(the format version) ${versionProblem}`);
  const version = Number(versionText);
  if (version > SETTINGS_VERSION) {
    throw new MalformedSettingsError(
      fileName,
      SETTINGS_KEY,
      `says format version ${version}, newer than this app reads (${SETTINGS_VERSION})`,
      'reload the page to get the latest senseflow-web',
    );
  }
  const read = (field: keyof GenerationSettings): string => {
    const { key, check } = FIELDS[field];
    const value = get(key);
    if (value === undefined) throw new MalformedSettingsError(fileName, key, 'is missing');
    const problem = check(value);
    if (problem) throw new MalformedSettingsError(fileName, key, problem);
    return value;
  };
  const settings: GenerationSettings = {
    prompt: read('prompt'),
    seed: Number(read('seed')),
    steps: Number(read('steps')),
    sampler: read('sampler'),
    guidance: Number(read('guidance')),
    model: read('model'),
    modelSha256: read('modelSha256'),
  };
  const entries = text instanceof Map ? [...text] : Object.entries(text);
  return { settings, version, other: Object.fromEntries(entries.filter(([key]) => !OUR_KEYS.has(key))) };
}

/**
 * The image as PNG bytes with the settings (and `other` text, e.g. { Software: 'senseflow-web' }) in text
 * chunks: tEXt where the value is Latin-1, iTXt (UTF-8) otherwise.
 */
export function encodePngWithSettings(image: RgbaImage, settings: GenerationSettings, other: Readonly<Record<string, string>> = {}): Uint8Array {
  if (image.data.length !== image.width * image.height * 4) {
    throw new RangeError(`the image is ${image.width}x${image.height} but has ${image.data.length} bytes of pixels; RGBA needs ${image.width * image.height * 4}`);
  }
  const entries = Object.entries(other);
  for (const [key] of entries) {
    if (OUR_KEYS.has(key)) throw new RangeError(`the extra PNG text key "${key}" is one of the settings' keys`);
    if (!isValidKeyword(key)) throw new RangeError(`"${key}" is not a valid PNG text keyword (1-79 Latin-1 printable characters)`);
  }
  const all = [...Object.entries(settingsToText(settings)), ...entries];
  const plain = Object.fromEntries(all.filter(([, value]) => fitsTextChunk(value)));
  const unicode = all.filter(([, value]) => !fitsTextChunk(value)).map(([key, value]) => itxtChunk(key, value));
  const png = encodePng({ width: image.width, height: image.height, data: image.data, depth: 8, channels: 4, text: plain });
  return unicode.length > 0 ? insertBeforeEnd(png, unicode) : png;
}

/** Every text chunk of a PNG (tEXt, zTXt, iTXt) by key; throws NotPngError or DamagedPngError. */
export function readPngText(png: Uint8Array | ArrayBuffer, fileName = 'this file'): Map<string, string> {
  const bytes = png instanceof Uint8Array ? png : new Uint8Array(png);
  if (!hasPngSignature(bytes)) throw new NotPngError(fileName);
  try {
    return readTextChunks(bytes);
  } catch (error) {
    if (error instanceof PngChunkError) throw new DamagedPngError(fileName, error.message);
    throw error;
  }
}

/**
 * The generation settings of a PNG made by senseflow-web. `fileName` is for messages. Throws NotPngError
 * (DamagedPngError), PngWithoutSettingsError or MalformedSettingsError.
 */
export function readPngSettings(png: Uint8Array | ArrayBuffer, fileName = 'this file'): PngSettings {
  return settingsFromText(readPngText(png, fileName), fileName);
}

/** readPngSettings of a dropped or picked file, named in messages by its file name. */
export async function readPngSettingsFromFile(file: Blob & { name?: string }): Promise<PngSettings> {
  return readPngSettings(new Uint8Array(await file.arrayBuffer()), file.name || 'this file');
}
