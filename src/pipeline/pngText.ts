// PNG text chunks (PNG spec, 11.3.3): what fast-png does not do for us. fast-png writes tEXt, whose text
// is Latin-1 only, and refuses anything else; a prompt pasted from anywhere holds "’", "—", emoji or CJK,
// which PNG carries in iTXt (UTF-8). So: tEXt through fast-png for Latin-1 values (every viewer shows
// those), iTXt built here for the rest, and one reader here for all three kinds (tEXt, zTXt, iTXt) that
// walks the chunk list without inflating the image data.
import { unzlibSync } from 'fflate';

/** A chunk list that cannot be walked: the file is cut short or a text chunk is malformed. */
export class PngChunkError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'PngChunkError';
  }
}

/**
 * True when `text` can go in a tEXt chunk as is: Latin-1 printable characters and linefeed, the only
 * control character the spec allows (0x7f-0x9f are excluded: they are not Latin-1 graphic characters).
 */
export function fitsTextChunk(text: string): boolean {
  return /^[\n\x20-\x7e\xa0-\xff]*$/.test(text);
}

/** A keyword as the spec allows: 1-79 Latin-1 printable characters, no leading, trailing or double spaces. */
export function isValidKeyword(keyword: string): boolean {
  return /^[\x21-\x7e\xa1-\xff]([\x20-\x7e\xa1-\xff]{0,77}[\x21-\x7e\xa1-\xff])?$/.test(keyword) && !keyword.includes('  ');
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

// CRC-32 as the PNG spec's annex D defines it, over the chunk type and data.
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const utf8 = new TextEncoder();

/** An uncompressed iTXt chunk (length, type, data, CRC): keyword, flags 0 0, no language tag, no translated keyword, UTF-8 text. */
export function itxtChunk(keyword: string, text: string): Uint8Array {
  if (!isValidKeyword(keyword)) throw new RangeError(`"${keyword}" is not a valid PNG text keyword (1-79 Latin-1 printable characters)`);
  const keywordBytes = Uint8Array.from(keyword, (ch) => ch.charCodeAt(0));
  const textBytes = utf8.encode(text);
  const data = new Uint8Array(keywordBytes.length + 5 + textBytes.length);
  data.set(keywordBytes, 0);
  // keyword NUL, compression flag 0, compression method 0, empty language tag NUL, empty translated keyword NUL
  data.set(textBytes, keywordBytes.length + 5);
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  chunk.set(utf8.encode('iTXt'), 4);
  chunk.set(data, 8);
  view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  return chunk;
}

/** `png` with `chunks` inserted before its final IEND chunk (where fast-png leaves its tEXt chunks too). */
export function insertBeforeEnd(png: Uint8Array, chunks: readonly Uint8Array[]): Uint8Array {
  const end = png.length - 12;
  if (end < 8 || latin1(png.subarray(end + 4, end + 8)) !== 'IEND') throw new PngChunkError('the PNG does not end with an IEND chunk');
  const out = new Uint8Array(png.length + chunks.reduce((n, c) => n + c.length, 0));
  out.set(png.subarray(0, end), 0);
  let offset = end;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  out.set(png.subarray(end), offset);
  return out;
}

// Byte-for-character: exact Latin-1 (TextDecoder('latin1') is windows-1252 and remaps 0x80-0x9f).
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const byte of bytes) s += String.fromCharCode(byte);
  return s;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function inflate(bytes: Uint8Array, what: string): Uint8Array {
  try {
    return unzlibSync(bytes);
  } catch (error) {
    throw new PngChunkError(`${what} does not decompress: ${(error as Error).message}`);
  }
}

/** Splits `data` at its first NUL byte at or after `from`; throws if there is none. */
function untilNul(data: Uint8Array, from: number, what: string): [Uint8Array, number] {
  const nul = data.indexOf(0, from);
  if (nul < 0) throw new PngChunkError(`${what} has no NUL separator`);
  return [data.subarray(from, nul), nul + 1];
}

function readTextChunk(type: string, data: Uint8Array, offset: number): [string, string] {
  const what = `the ${type} chunk at byte ${offset}`;
  const [keywordBytes, afterKeyword] = untilNul(data, 0, what);
  const keyword = latin1(keywordBytes);
  if (type === 'tEXt') return [keyword, latin1(data.subarray(afterKeyword))];
  if (type === 'zTXt') return [keyword, latin1(inflate(data.subarray(afterKeyword + 1), `${what} ("${keyword}")`))];
  const compressed = data[afterKeyword] === 1;
  const [, afterLanguage] = untilNul(data, afterKeyword + 2, what);
  const [, afterTranslated] = untilNul(data, afterLanguage, what);
  const body = data.subarray(afterTranslated);
  try {
    return [keyword, utf8Strict.decode(compressed ? inflate(body, `${what} ("${keyword}")`) : body)];
  } catch (error) {
    if (error instanceof PngChunkError) throw error;
    throw new PngChunkError(`${what} ("${keyword}") is not valid UTF-8`);
  }
}

/**
 * Every text chunk's keyword and text (tEXt, zTXt and iTXt alike; a later chunk with the same keyword
 * wins, as in fast-png). `png` must start with the PNG signature (checked by the caller). Stops at
 * IEND; throws a PngChunkError when the data ends before it.
 */
export function readTextChunks(png: Uint8Array): Map<string, string> {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const text = new Map<string, string>();
  let offset = 8;
  for (;;) {
    if (offset + 8 > png.length) throw new PngChunkError(`it is cut short: it ends at byte ${png.length} without an IEND chunk`);
    const length = view.getUint32(offset);
    const type = latin1(png.subarray(offset + 4, offset + 8));
    if (offset + 12 + length > png.length) throw new PngChunkError(`it is cut short: its ${type} chunk at byte ${offset} runs past the end of the file`);
    if (type === 'IEND') return text;
    if (type === 'tEXt' || type === 'zTXt' || type === 'iTXt') {
      const [keyword, value] = readTextChunk(type, png.subarray(offset + 8, offset + 8 + length), offset);
      text.set(keyword, value);
    }
    offset += 12 + length;
  }
}
