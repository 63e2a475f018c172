// Settings in PNG text chunks: a round trip (Latin-1 and Unicode prompts, pixels intact, other tools' keys
// kept aside), and each refusal with its message: not a PNG, a damaged PNG, a PNG without settings, a
// malformed or missing value (naming the key), a newer format. Runs in Node and in the browser.
import { decode, encode } from 'fast-png';
import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  DamagedPngError,
  encodePngWithSettings,
  type GenerationSettings,
  MalformedSettingsError,
  NotPngError,
  PngWithoutSettingsError,
  readPngSettings,
  readPngSettingsFromFile,
  readPngText,
  SETTINGS_KEY,
  settingsFromText,
  settingsToText,
} from './pngMeta';
import { insertBeforeEnd, itxtChunk } from './pngText';

const settings: GenerationSettings = {
  prompt: 'a red circle on a blue background',
  seed: 42,
  steps: 4,
  sampler: 'x0',
  guidance: 1.5,
  model: 'shapes-student',
  modelSha256: 'ab'.repeat(32),
};

function image(width = 3, height = 2) {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  return { width, height, data };
}

/** A PNG with exactly these text chunks (fast-png writes them as tEXt). */
function pngWithText(text: Record<string, string>): Uint8Array {
  return encode({ ...image(), text });
}

const error = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
};

describe('encodePngWithSettings / readPngSettings', () => {
  it('round-trips the settings, keeps the pixels, and keeps other keys aside', () => {
    const img = image();
    const png = encodePngWithSettings(img, settings, { Software: 'senseflow-web' });
    const read = readPngSettings(png);
    expect(read.settings).toEqual(settings);
    expect(read.version).toBe(1);
    expect(read.other).toEqual({ Software: 'senseflow-web' });
    const decoded = decode(png);
    expect([decoded.width, decoded.height, decoded.channels, decoded.depth]).toEqual([3, 2, 4, 8]);
    expect(decoded.data).toEqual(img.data);
    // Latin-1 values are plain tEXt chunks, which any PNG reader (fast-png here) shows.
    expect(decoded.text.prompt).toBe(settings.prompt);
    expect(decoded.text[SETTINGS_KEY]).toBe('1');
  });

  it('round-trips a prompt that is not Latin-1 (iTXt, UTF-8), and one with Latin-1 accents and a newline (tEXt)', () => {
    for (const prompt of ['it’s a cat — 猫 🐈', 'café crème\nsecond line', '']) {
      const png = encodePngWithSettings(image(), { ...settings, prompt });
      expect(readPngSettings(png).settings.prompt).toBe(prompt);
      // The image itself stays a valid PNG for other readers.
      expect(decode(png).width).toBe(3);
    }
  });

  it('accepts an ArrayBuffer, and a Blob with a file name', async () => {
    const png = encodePngWithSettings(image(), settings);
    expect(readPngSettings(png.slice().buffer).settings).toEqual(settings);
    const file = new File([png.slice()], 'result.png', { type: 'image/png' });
    expect((await readPngSettingsFromFile(file)).settings).toEqual(settings);
  });

  it('refuses to write settings it could not read back, naming the setting', () => {
    expect(() => encodePngWithSettings(image(), { ...settings, seed: -1 })).toThrow('cannot write the generation setting seed: it is "-1", not a whole number >= 0');
    expect(() => encodePngWithSettings(image(), { ...settings, guidance: Number.NaN })).toThrow(/guidance: it is "NaN"/);
    expect(() => encodePngWithSettings(image(), { ...settings, modelSha256: 'XYZ' })).toThrow(/modelSha256/);
    expect(() => encodePngWithSettings(image(), settings, { seed: '1' })).toThrow(/"seed" is one of the settings' keys/);
    expect(() => encodePngWithSettings({ width: 2, height: 2, data: new Uint8Array(12) }, settings)).toThrow(/has 12 bytes of pixels; RGBA needs 16/);
  });
});

describe('refusals', () => {
  it('not a PNG: says so, naming the file', async () => {
    const jpeg = Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46);
    const e = error(() => readPngSettings(jpeg, 'photo.jpg'));
    expect(e).toBeInstanceOf(NotPngError);
    expect(e.message).toMatch(/^photo\.jpg is not a PNG file: /);
    expect(error(() => readPngSettings(new Uint8Array(0)))).toBeInstanceOf(NotPngError);
    const text = new File(['hello'], 'notes.txt');
    await expect(readPngSettingsFromFile(text)).rejects.toThrow(/^notes\.txt is not a PNG file/);
  });

  it('a PNG cut short: DamagedPngError (a NotPngError), saying where', () => {
    const png = encodePngWithSettings(image(), settings);
    const e = error(() => readPngSettings(png.subarray(0, 50), 'cut.png'));
    expect(e).toBeInstanceOf(DamagedPngError);
    expect(e).toBeInstanceOf(NotPngError);
    expect(e.message).toBe('cut.png is a damaged PNG file (it is cut short: its IDAT chunk at byte 33 runs past the end of the file): download the image again');
    expect(() => readPngSettings(png.subarray(0, 33))).toThrow(/it is cut short: it ends at byte 33 without an IEND chunk/);
  });

  it('a PNG without our settings: says it was not made here or was stripped', () => {
    const plain = encode(image());
    const e = error(() => readPngSettings(plain, 'download.png'));
    expect(e).toBeInstanceOf(PngWithoutSettingsError);
    expect(e.message).toMatch(
      /^download\.png: this PNG carries no generation settings: it was not made by senseflow-web or its metadata was stripped/,
    );
    // Another tool's text chunks are not ours either.
    expect(error(() => readPngSettings(pngWithText({ parameters: 'a cat, Steps: 20' })))).toBeInstanceOf(PngWithoutSettingsError);
  });

  it('a malformed value: names the key', () => {
    const text = settingsToText(settings);
    const e = error(() => readPngSettings(pngWithText({ ...text, steps: 'four' }), 'edited.png'));
    expect(e).toBeInstanceOf(MalformedSettingsError);
    expect((e as MalformedSettingsError).key).toBe('steps');
    expect(e.message).toBe('edited.png: the generation setting "steps" is "four", not a whole number >= 1; the PNG\'s metadata was edited or damaged: set that value by hand');
    expect(error(() => readPngSettings(pngWithText({ ...text, guidance: '-2' })))).toMatchObject({ key: 'guidance' });
    expect(error(() => readPngSettings(pngWithText({ ...text, model_sha256: 'abc' })))).toMatchObject({ key: 'model_sha256' });
    expect(error(() => readPngSettings(pngWithText({ ...text, seed: '1.5' })))).toMatchObject({ key: 'seed' });
    expect(error(() => readPngSettings(pngWithText({ ...text, sampler: ' ' })))).toMatchObject({ key: 'sampler' });
  });

  it('a missing value: names the key', () => {
    const { model: _, ...text } = settingsToText(settings);
    const e = error(() => readPngSettings(pngWithText(text)));
    expect(e).toBeInstanceOf(MalformedSettingsError);
    expect(e.message).toMatch(/the generation setting "model" is missing/);
  });

  it('a newer format version: asks for a reload', () => {
    const e = error(() => settingsFromText({ ...settingsToText(settings), [SETTINGS_KEY]: '7' }));
    expect(e).toMatchObject({ key: SETTINGS_KEY });
    expect(e.message).toMatch(/says format version 7, newer than this app reads \(1\); reload the page/);
  });
});

/** A chunk with any type and data; its CRC is left 0 (the reader does not check text chunks' CRCs). */
function rawChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.length);
  new DataView(chunk.buffer).setUint32(0, data.length);
  chunk.set(new TextEncoder().encode(type), 4);
  chunk.set(data, 8);
  return chunk;
}

const bytesOf = (...parts: (string | number[] | Uint8Array)[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...new TextEncoder().encode(p)] : [...p])));

describe('text chunks', () => {
  it('reads tEXt, zTXt, iTXt and compressed iTXt alike; keys that are not settings stay aside', () => {
    const compressedItxt = rawChunk('iTXt', bytesOf('Title', [0, 1, 0], 'en', [0, 0], zlibSync(new TextEncoder().encode('ünïcødé ✓'))));
    const ztxt = rawChunk('zTXt', bytesOf('Comment', [0, 0], zlibSync(Uint8Array.from('caf\xe9', (c) => c.charCodeAt(0)))));
    const png = insertBeforeEnd(pngWithText(settingsToText(settings)), [compressedItxt, ztxt, itxtChunk('Author', 'Zoë ✎')]);
    expect(readPngText(png).get('Title')).toBe('ünïcødé ✓');
    const read = readPngSettings(png);
    expect(read.settings).toEqual(settings);
    expect(read.other).toEqual({ Title: 'ünïcødé ✓', Comment: 'café', Author: 'Zoë ✎' });
  });

  it('an iTXt whose text is not UTF-8 is a damaged PNG, naming the chunk', () => {
    const bad = rawChunk('iTXt', bytesOf('prompt', [0, 0, 0, 0, 0], [0xff, 0xfe]));
    const png = insertBeforeEnd(pngWithText(settingsToText(settings)), [bad]);
    expect(() => readPngSettings(png, 'odd.png')).toThrow(/^odd\.png is a damaged PNG file \(the iTXt chunk at byte \d+ \("prompt"\) is not valid UTF-8\)/);
  });
});
