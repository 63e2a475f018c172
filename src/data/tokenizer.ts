// The Shapes tokenizer: one id per grammar word, plus four special tokens. Two implementations that must agree:
// this pure-TS encoder (training code, workers; no async loading, no ONNX runtime) and the Hugging Face tokenizer.json
// in models/tokenizer/ (made from the same constants by tokenizerFiles.ts), which the inference pipeline loads with
// transformers.js' AutoTokenizer exactly as it loads a real CLIP tokenizer. tokenizer.test.ts checks they agree.
//
// Ids follow CLIP's layout where it matters: bos and eos are the two highest ids, eos the highest, so CLIP-style
// pooling (the hidden state at argmax(input_ids), i.e. the first eos) works unchanged. Unlike CLIP, padding and
// unknown words have tokens of their own (<|pad|> = 0, <|unk|> = 1): CLIP never meets an unknown word (byte-level
// BPE) and pads with eos; here an unknown word must stay visible, and a distinct pad keeps the first eos the only eos.
import { GRAMMAR_WORDS } from './grammar';

export const PAD_TOKEN = '<|pad|>';
export const UNK_TOKEN = '<|unk|>';
export const BOS_TOKEN = '<|startoftext|>';
export const EOS_TOKEN = '<|endoftext|>';
export const SPECIAL_TOKENS: readonly string[] = [PAD_TOKEN, UNK_TOKEN, BOS_TOKEN, EOS_TOKEN];

/** Token strings by id. */
export const VOCABULARY: readonly string[] = [PAD_TOKEN, UNK_TOKEN, ...GRAMMAR_WORDS, BOS_TOKEN, EOS_TOKEN];
export const TOKEN_IDS: ReadonlyMap<string, number> = new Map(VOCABULARY.map((token, id) => [token, id]));
export const PAD_ID = 0;
export const UNK_ID = 1;
export const BOS_ID = VOCABULARY.length - 2;
export const EOS_ID = VOCABULARY.length - 1;

/**
 * Tokens per caption, bos and eos included. The longest grammatical caption has 21 words ("a large yellow triangle at
 * the bottom right and a large ... on a purple background"), 23 tokens with bos and eos; 24 leaves one spare and is a
 * multiple of 8 for the kernels.
 */
export const MODEL_MAX_LENGTH = 24;

export interface EncodedCaption {
  /** maxLength ids: bos, the words, eos, then pad. */
  ids: number[];
  /** 1 for bos, words and eos; 0 for padding. */
  attentionMask: number[];
  /** Words not in the vocabulary (encoded as <|unk|>), in order. */
  unknownWords: string[];
  /** Words cut off because the caption was longer than maxLength - 2 words (eos is kept at the end). */
  truncatedWords: string[];
}

// The Hugging Face pipeline, step by step: special tokens typed into the text are matched first, on the raw text
// (added tokens with normalized: false); the rest is lowercased (Lowercase normaliser) and split by the Whitespace
// pre-tokenizer, whose pattern is \w+|[^\w\s]+ (words, and runs of punctuation, so "circle," is two tokens).
const SPECIAL_SPLIT = new RegExp(`(${SPECIAL_TOKENS.map((t) => t.replace(/[|]/g, '\\|')).join('|')})`);
const PRE_TOKEN = /\w+|[^\w\s]+/g;

/** The tokens of a text before bos/eos are added. */
export function tokenize(text: string): string[] {
  return text
    .split(SPECIAL_SPLIT)
    .flatMap((section) => (TOKEN_IDS.has(section) ? [section] : (section.toLowerCase().match(PRE_TOKEN) ?? [])));
}

export function encodeCaption(text: string, maxLength = MODEL_MAX_LENGTH): EncodedCaption {
  if (maxLength < 2) throw new Error(`maxLength ${maxLength} leaves no room for bos and eos`);
  const tokens = tokenize(text);
  const kept = tokens.slice(0, maxLength - 2);
  const unknownWords = kept.filter((token) => !TOKEN_IDS.has(token));
  const ids = [BOS_ID, ...kept.map((token) => TOKEN_IDS.get(token) ?? UNK_ID), EOS_ID];
  const attentionMask = ids.map(() => 1);
  while (ids.length < maxLength) {
    ids.push(PAD_ID);
    attentionMask.push(0);
  }
  return { ids, attentionMask, unknownWords, truncatedWords: tokens.slice(maxLength - 2) };
}

export interface EncodedBatch {
  /** [count, maxLength] token ids, for the embedding op (u32 ids). */
  ids: Uint32Array;
  /** [count, maxLength]: 1 attend, 0 padding (the attention op's keyMask). */
  attentionMask: Float32Array;
  maxLength: number;
}

export function encodeCaptionBatch(texts: readonly string[], maxLength = MODEL_MAX_LENGTH): EncodedBatch {
  const ids = new Uint32Array(texts.length * maxLength);
  const attentionMask = new Float32Array(texts.length * maxLength);
  texts.forEach((text, i) => {
    const encoded = encodeCaption(text, maxLength);
    ids.set(encoded.ids, i * maxLength);
    attentionMask.set(encoded.attentionMask, i * maxLength);
  });
  return { ids, attentionMask, maxLength };
}

/** Ids back to words, special tokens left out. */
export function decodeIds(ids: ArrayLike<number>): string {
  return Array.from(ids, (id) => VOCABULARY[id] ?? UNK_TOKEN)
    .filter((token) => token === UNK_TOKEN || !SPECIAL_TOKENS.includes(token))
    .join(' ');
}
