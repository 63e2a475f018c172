// `npm run generate`: flags refused by name, a folder that is not a bundle refused by the loader's message, and
// PNG files that carry their settings as the app reads them (pipeline/pngMeta.ts; one file per image of a batch, each
// with its own seed).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodePng } from 'fast-png';
import type { GenerateResult } from '../pipeline/generate';
import { readPngSettings, readPngText } from '../pipeline/pngMeta';import { afterEach, describe, expect, it, vi } from 'vitest';
import { batchFileName, imagePng, main, parseGenerateOptions } from './generate';
import { UsageError } from './options';

const SHAPES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'shapes-teacher');
const BASE = ['--model', 'models/shapes-teacher', '--prompt', 'a red circle', '--out', 'x.png'];

describe('generate options', () => {
  it('fills in defaults and reads every flag', () => {
    expect(parseGenerateOptions(BASE)).toEqual({ model: 'models/shapes-teacher', out: 'x.png', request: { prompt: 'a red circle', seed: 0, batch: 1 }, zoom: 1, repeat: 1 });
    const full = parseGenerateOptions([...BASE, '--steps', '4', '--seed', '4294967295', '--sampler', 'x0', '--guidance', '1.5', '--batch', '3', '--provider', 'wasm', '--zoom', '4', '--repeat', '2']);
    expect(full.request).toEqual({ prompt: 'a red circle', seed: 4294967295, steps: 4, sampler: 'x0', guidance: 1.5, batch: 3 });
    expect(full).toMatchObject({ zoom: 4, repeat: 2 });
    expect(parseGenerateOptions(['--model', 'm', '--prompt', '', '--out', 'y.PNG']).request.prompt).toBe('');
  });

  it('refuses a missing or malformed flag, naming it', () => {
    const refused = (argv: string[], message: string | RegExp) => {
      expect(() => parseGenerateOptions(argv)).toThrow(UsageError);
      expect(() => parseGenerateOptions(argv)).toThrow(message);
    };
    refused(['--prompt', 'a', '--out', 'x.png'], '--model is required');
    refused(['--model', 'm', '--out', 'x.png'], '--prompt is required');
    refused(['--model', 'm', '--prompt', 'a'], '--out is required');
    refused(['--model', 'm', '--prompt', 'a', '--out', 'x.jpg'], '--out must name a .png file, got "x.jpg"');
    refused([...BASE, '--steps', 'four'], '--steps must be an integer from 1 to 1000, got "four"');
    refused([...BASE, '--steps', '0'], '--steps must be an integer from 1');
    refused([...BASE, '--seed=-3'], '--seed must be an integer from 0 to 4294967295, got "-3"');
    refused([...BASE, '--seed', '1.5'], '--seed must be an integer');
    refused([...BASE, '--sampler', 'ddim'], '--sampler must be one of euler, x0, got "ddim"');
    refused([...BASE, '--guidance', 'lots'], '--guidance must be a number >= 0, got "lots"');
    refused([...BASE, '--batch', '65'], '--batch must be an integer from 1 to 64, got "65"');
    refused([...BASE, '--provider', 'webgpu'], /--provider must be wasm in Node .*got "webgpu"/);
    refused([...BASE, '--colour', 'red'], /--colour/);
  });

  it('writes the settings the app restores, any prompt (UTF-8 in iTXt), pixels zoomed', () => {
    const rgba = new Uint8ClampedArray([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 9, 9, 9, 255]);
    const result = {
      images: [{ seed: 7, width: 2, height: 2, channels: 3, chw: new Float32Array(12), rgba, previews: [] }],
      settings: { prompt: 'un cercle rouge \u{1F534}', seed: 7, steps: 4, sampler: 'x0', guidance: 1, batch: 1, levels: [1, 0.9, 0.75, 0.5] },
      model: { name: 'shapes-student', sha256: 'ab'.repeat(32) },
    } as unknown as GenerateResult;
    const png = imagePng(result, 0, 3);
    expect(readPngSettings(png).settings).toEqual({ prompt: 'un cercle rouge \u{1F534}', seed: 7, steps: 4, sampler: 'x0', guidance: 1, model: 'shapes-student', modelSha256: 'ab'.repeat(32) });
    const decoded = decodePng(png);
    expect(decoded).toMatchObject({ width: 6, height: 6, channels: 4 });
    expect(Array.from(decoded.data.slice(0, 4))).toEqual([255, 0, 0, 255]);
    expect(Array.from(decoded.data.slice((5 * 6 + 5) * 4, (5 * 6 + 5) * 4 + 4))).toEqual([9, 9, 9, 255]);
  });

  it('numbers the files of a batch', () => {
    expect(batchFileName('out/red.png', 0, 1)).toBe('out/red.png');
    expect(batchFileName('out/red.png', 2, 3)).toBe('out/red-2.png');
  });
});

describe('npm run generate', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'senseflow-generate-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    vi.restoreAllMocks();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 2 with the usage on a bad flag, and 1 with the loader message on a folder that is not a bundle', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((message: string) => void errors.push(message));
    expect(await main(['--model', 'm', '--prompt', 'a'])).toBe(2);
    expect(errors.pop()).toMatch(/^--out is required.*\nusage: npm run generate/s);
    const empty = tempDir();
    expect(await main(['--model', empty, '--prompt', 'a', '--out', join(empty, 'x.png')])).toBe(1);
    expect(errors.pop()).toBe(`generate: manifest.json: is missing: ${empty} is not a model bundle`);
  });

  it.skipIf(!existsSync(join(SHAPES_DIR, 'manifest.json')))('writes one PNG per image with the settings in tEXt chunks (making the --out folder)', async () => {
    const logs: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((message: string) => void logs.push(message));
    const dir = join(tempDir(), 'not', 'yet');
    const out = join(dir, 'red.png');
    expect(await main(['--model', SHAPES_DIR, '--prompt', 'a red circle on a blue background', '--steps', '2', '--seed', '41', '--batch', '2', '--zoom', '2', '--out', out])).toBe(0);
    const sha = (JSON.parse(readFileSync(join(SHAPES_DIR, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[] }).files.find((f) => f.path === 'denoiser.onnx')!.sha256;
    for (const i of [0, 1]) {
      const png = readFileSync(join(dir, `red-${i}.png`));
      expect(decodePng(png)).toMatchObject({ width: 64, height: 64, channels: 4, depth: 8 });
      expect(Object.fromEntries(readPngText(png))).toEqual({
        senseflow: '1',
        prompt: 'a red circle on a blue background',
        seed: String(41 + i),
        steps: '2',
        sampler: 'euler',
        guidance: '4',
        model: 'shapes-teacher',
        model_sha256: sha,
        Software: 'senseflow-web npm run generate',
      });
    }
    expect(logs.some((line) => /ms per image/.test(line))).toBe(true);
    expect(existsSync(out)).toBe(false);
  });
});
