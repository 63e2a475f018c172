// Typed reading of the manifest's JSON: each accessor checks one field and, when it is wrong, throws
// an error naming its dotted path ("denoiser.inputs.sample is missing", "steps.default must be an
// integer, got 2.5"). Unknown keys are refused too, so a typo ("inptus") is not silently ignored.
export const MANIFEST_FILE = 'manifest.json';
export const FORMAT_VERSION = 1;

type MakeError = (field: string | null, detail: string) => Error;

const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value);
const show = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 40 ? `${text.slice(0, 40)}...` : text;
};

export interface NumberRule {
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
}

export class FieldReader {
  constructor(
    private readonly value: Record<string, unknown>,
    /** Dotted path of this object ('' at the root). */
    readonly location: string,
    private readonly makeError: MakeError,
  ) {}

  private at(key: string): string {
    return this.location ? `${this.location}.${key}` : key;
  }

  fail(key: string, detail: string): never {
    throw this.makeError(this.at(key), detail);
  }

  private get(key: string): unknown {
    if (!Object.hasOwn(this.value, key)) this.fail(key, 'is missing');
    return this.value[key];
  }

  ownKeys(): string[] {
    return Object.keys(this.value);
  }

  /** Refuses keys outside `allowed`. */
  keys(allowed: readonly string[]): void {
    for (const key of Object.keys(this.value)) {
      if (!allowed.includes(key)) this.fail(key, `is not a known field (expected one of: ${allowed.join(', ')})`);
    }
  }

  /** fn(this, key) when the key is present; undefined when absent. */
  optional<T>(key: string, fn: (reader: FieldReader, key: string) => T): T | undefined {
    return Object.hasOwn(this.value, key) ? fn(this, key) : undefined;
  }

  string(key: string): string {
    const v = this.get(key);
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${kindOf(v)} ${show(v)}`);
    if (v.length === 0) this.fail(key, 'is an empty string');
    return v;
  }

  number(key: string, rule: NumberRule = {}): number {
    const v = this.get(key);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${kindOf(v)} ${show(v)}`);
    checkRange(v, rule, (detail) => this.fail(key, detail));
    return v;
  }

  integer(key: string, rule: NumberRule = {}): number {
    const v = this.number(key, rule);
    if (!Number.isSafeInteger(v)) this.fail(key, `must be an integer, got ${v}`);
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.get(key);
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) this.fail(key, `must be one of ${values.map((x) => `"${x}"`).join(', ')}, got ${show(v)}`);
    return v as T;
  }

  object(key: string): FieldReader {
    const v = this.get(key);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, `must be an object, got ${kindOf(v)} ${show(v)}`);
    return new FieldReader(v as Record<string, unknown>, this.at(key), this.makeError);
  }

  /** An array of objects. */
  array(key: string): FieldReader[] {
    const v = this.get(key);
    if (!Array.isArray(v)) this.fail(key, `must be an array, got ${kindOf(v)} ${show(v)}`);
    return v.map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) this.fail(`${key}[${i}]`, `must be an object, got ${kindOf(item)} ${show(item)}`);
      return new FieldReader(item as Record<string, unknown>, `${this.at(key)}[${i}]`, this.makeError);
    });
  }

  strings(key: string, options: { nonEmpty?: boolean } = {}): string[] {
    const v = this.get(key);
    if (!Array.isArray(v)) this.fail(key, `must be an array of strings, got ${kindOf(v)} ${show(v)}`);
    if (options.nonEmpty && v.length === 0) this.fail(key, 'is empty');
    v.forEach((item, i) => {
      if (typeof item !== 'string') this.fail(`${key}[${i}]`, `must be a string, got ${kindOf(item)} ${show(item)}`);
    });
    return v as string[];
  }

  numbers(key: string): number[] {
    const v = this.get(key);
    if (!Array.isArray(v)) this.fail(key, `must be an array of numbers, got ${kindOf(v)} ${show(v)}`);
    v.forEach((item, i) => {
      if (typeof item !== 'number' || !Number.isFinite(item)) this.fail(`${key}[${i}]`, `must be a number, got ${kindOf(item)} ${show(item)}`);
    });
    return v as number[];
  }

  /** A path inside the bundle: relative, '/'-separated, no '.' or '..' segments, no scheme. */
  path(key: string): string {
    const v = this.string(key);
    const segments = v.split('/');
    if (v.startsWith('/') || v.includes('\\') || v.includes(':') || segments.some((s) => s === '' || s === '.' || s === '..')) {
      this.fail(key, `"${v}" is not a relative path inside the bundle`);
    }
    return v;
  }

  /** A copy of the object, checked to be plain JSON (no undefined, functions, non-finite numbers). */
  json(): Record<string, unknown> {
    const check = (v: unknown, path: string): void => {
      if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw this.makeError(path, `must be a finite number, got ${v}`);
        return;
      }
      if (Array.isArray(v)) return v.forEach((item, i) => check(item, `${path}[${i}]`));
      if (typeof v === 'object') return Object.entries(v).forEach(([k, item]) => check(item, `${path}.${k}`));
      throw this.makeError(path, `must be JSON, got ${typeof v}`);
    };
    check(this.value, this.location);
    return structuredClone(this.value);
  }
}

function checkRange(v: number, rule: NumberRule, fail: (detail: string) => never): void {
  if (rule.min !== undefined && (rule.exclusiveMin ? !(v > rule.min) : !(v >= rule.min))) fail(`must be ${rule.exclusiveMin ? '>' : '>='} ${rule.min}, got ${v}`);
  if (rule.max !== undefined && !(v <= rule.max)) fail(`must be <= ${rule.max}, got ${v}`);
}

/** A reader of the manifest's top-level object. */
export function fieldReader(json: unknown, makeError: MakeError): FieldReader {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw makeError(null, `must be a JSON object, got ${kindOf(json)}`);
  return new FieldReader(json as Record<string, unknown>, '', makeError);
}
