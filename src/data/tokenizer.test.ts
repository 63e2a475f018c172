// The pure-TS encoder against the real Hugging Face tokenizer, loaded from models/tokenizer/ by transformers.js'
// AutoTokenizer the way a CLIP tokenizer is loaded. Two builds of transformers.js are checked:
// - the Node build ('@huggingface/transformers' under Node), which reads models/ from disk. It imports onnxruntime-node,
//   whose npm package ships the native binding for linux x64/arm64 and darwin arm64 (.npmrc's
//   onnxruntime-node-install=skip only skips downloading the optional CUDA/TensorRT providers). Where that import
//   fails (another platform), this test is skipped, not failed;
// - the web build (dist/transformers.web.js, what the browser runs), which loads files with fetch(); in Node we give
//   it env.fetch reading the same URLs from disk, so this covers the browser's code path with no native code at all.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sampleCaptionedScene } from './dataset';
import { mulberry32 } from './random';
import {
  BOS_ID,
  decodeIds,
  encodeCaption,
  encodeCaptionBatch,
  EOS_ID,
  MODEL_MAX_LENGTH,
  PAD_ID,
  tokenize,
  UNK_ID,
  VOCABULARY,
} from './tokenizer';
import { tokenizerFiles } from './tokenizerFiles';

type Transformers = typeof import('@huggingface/transformers');
type HfTokenizer = Awaited<ReturnType<Transformers['AutoTokenizer']['from_pretrained']>>;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const modelsDir = join(root, 'models');

const nodeBuild: Transformers | Error = await import('@huggingface/transformers').catch((error: Error) => error);

async function loadWithNodeBuild(): Promise<HfTokenizer> {
  const { AutoTokenizer, env } = nodeBuild as Transformers;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${modelsDir}/`;
  return AutoTokenizer.from_pretrained('tokenizer');
}

async function loadWithWebBuild(): Promise<HfTokenizer> {
  // The package exports only its entry points; the web build sits next to the CommonJS main.
  const main = createRequire(import.meta.url).resolve('@huggingface/transformers');
  const web: Transformers = await import(pathToFileURL(join(dirname(main), 'transformers.web.js')).href);
  const { AutoTokenizer, env } = web;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = '/models/'; // as the app would serve it
  env.fetch = async (url: string | URL | Request) => {
    const path = String(url);
    if (!path.startsWith('/models/')) return new Response('', { status: 404 });
    try {
      return new Response(await readFile(join(root, path)), { status: 200 });
    } catch {
      return new Response('', { status: 404 });
    }
  };
  return AutoTokenizer.from_pretrained('tokenizer');
}

function hfIds(tokenizer: HfTokenizer, text: string): number[] {
  const encoded = tokenizer(text, { padding: 'max_length', truncation: true, max_length: MODEL_MAX_LENGTH, return_tensor: false });
  return encoded.input_ids as number[];
}

const ODD_TEXTS = [
  'A Red CIRCLE at the Top Left',
  '  a   small\tblue square\n',
  'a red circle, at the top-left!',
  'a pink blob and a teal cat',
  'a red circle <|endoftext|> a blue square',
  '<|startoftext|>a red circle',
  '',
  'a red cirCle on a Black background.',
];

function randomCaptions(count: number, seed: number): string[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => sampleCaptionedScene(random).caption);
}

describe('the Shapes tokenizer', () => {
  it('has its Hugging Face files in models/tokenizer/ exactly as tokenizerFiles() builds them (node scripts/make-tokenizer.mjs)', () => {
    for (const [name, text] of Object.entries(tokenizerFiles())) {
      expect(readFileSync(join(modelsDir, 'tokenizer', name), 'utf8'), `models/tokenizer/${name} is stale: run node scripts/make-tokenizer.mjs`).toBe(text);
    }
  });

  it('encodes a caption as bos, one id per word, eos, then padding', () => {
    const { ids, attentionMask, unknownWords, truncatedWords } = encodeCaption('a red circle');
    expect(ids.slice(0, 5)).toEqual([BOS_ID, VOCABULARY.indexOf('a'), VOCABULARY.indexOf('red'), VOCABULARY.indexOf('circle'), EOS_ID]);
    expect(ids.slice(5)).toEqual(new Array(MODEL_MAX_LENGTH - 5).fill(PAD_ID));
    expect(attentionMask).toEqual([1, 1, 1, 1, 1, ...new Array(MODEL_MAX_LENGTH - 5).fill(0)]);
    expect(unknownWords).toEqual([]);
    expect(truncatedWords).toEqual([]);
    expect(EOS_ID).toBe(VOCABULARY.length - 1); // CLIP's layout: argmax(ids) finds the eos
    expect(decodeIds(ids)).toBe('a red circle');
  });

  it('fits the longest caption the grammar can make', () => {
    const longest = 'a large yellow triangle at the bottom right and a large purple square at the top left on a orange background';
    const { ids, truncatedWords } = encodeCaption(longest);
    expect(truncatedWords).toEqual([]);
    expect(ids.filter((id) => id !== PAD_ID).length).toBe(23);
  });

  it('maps unknown words to <|unk|> and reports them', () => {
    const { ids, unknownWords } = encodeCaption('a pink circle, please');
    expect(ids.slice(0, 7)).toEqual([BOS_ID, VOCABULARY.indexOf('a'), UNK_ID, VOCABULARY.indexOf('circle'), UNK_ID, UNK_ID, EOS_ID]);
    expect(unknownWords).toEqual(['pink', ',', 'please']);
    expect(tokenize('Top-LEFT!')).toEqual(['top', '-', 'left', '!']);
  });

  it('truncates an over-long prompt, keeps eos at the end, and reports the words cut', () => {
    const words = Array.from({ length: 30 }, (_, i) => (i % 2 ? 'red' : 'a'));
    const { ids, attentionMask, truncatedWords } = encodeCaption(words.join(' '));
    expect(ids.length).toBe(MODEL_MAX_LENGTH);
    expect(ids.at(-1)).toBe(EOS_ID);
    expect(attentionMask.every((m) => m === 1)).toBe(true);
    expect(truncatedWords).toEqual(words.slice(MODEL_MAX_LENGTH - 2));
    expect(() => encodeCaption('a', 1)).toThrow('no room for bos and eos');
  });

  it('packs a batch for the text encoder: u32 ids and an f32 key mask', () => {
    const batch = encodeCaptionBatch(['a red circle', 'a large blue square at the center'], 8);
    expect(batch.ids).toEqual(Uint32Array.from([...encodeCaption('a red circle', 8).ids, ...encodeCaption('a large blue square at the center', 8).ids]));
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
  });

  const loaders: [string, () => Promise<HfTokenizer>, boolean][] = [
    ['the Node build', loadWithNodeBuild, nodeBuild instanceof Error],
    ['the web build (the browser code path, files through env.fetch)', loadWithWebBuild, false],
  ];
  for (const [build, load, skip] of loaders) {
    it.skipIf(skip)(`loads with AutoTokenizer from ${build} and agrees with encodeCaption on 200 random captions and odd input`, async () => {
      const tokenizer = await load();
      expect(tokenizer.pad_token_id).toBe(PAD_ID);
      expect(tokenizer.unk_token_id).toBe(UNK_ID);
      expect(tokenizer.bos_token_id).toBe(BOS_ID);
      expect(tokenizer.eos_token_id).toBe(EOS_ID);
      expect(tokenizer.model_max_length).toBe(MODEL_MAX_LENGTH);
      for (const text of [...randomCaptions(200, 31), ...ODD_TEXTS]) {
        expect(encodeCaption(text).ids, JSON.stringify(text)).toEqual(hfIds(tokenizer, text));
        expect(encodeCaption(text).attentionMask).toEqual(
          tokenizer(text, { padding: 'max_length', truncation: true, max_length: MODEL_MAX_LENGTH, return_tensor: false }).attention_mask,
        );
      }
      expect(tokenizer.decode(encodeCaption('a red circle').ids, { skip_special_tokens: true })).toBe('a red circle');
      // transformers.js truncates after adding eos, so it cuts eos off; encodeCaption keeps it (as Python's tokenizers does).
      const long = Array.from({ length: 30 }, () => 'red').join(' ');
      expect(encodeCaption(long).ids).toEqual([...hfIds(tokenizer, long).slice(0, MODEL_MAX_LENGTH - 1), EOS_ID]);
    });
  }
});
