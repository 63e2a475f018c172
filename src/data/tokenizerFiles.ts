// The Hugging Face files of the Shapes tokenizer (models/tokenizer/), built from the same constants as tokenizer.ts.
// Regenerate after changing the grammar's words or the special tokens:  node scripts/make-tokenizer.mjs
// (tokenizer.test.ts fails while the committed files differ from what this builds).
//
// tokenizer_class is PreTrainedTokenizerFast, not CLIPTokenizer: transformers.js resolves both to the same base class
// (its CLIPTokenizer adds nothing), but Python's CLIPTokenizerFast refuses a tokenizer.json without CLIP's byte-level
// BPE pre-tokenizer, while PreTrainedTokenizerFast loads any tokenizer.json. Special tokens are plain strings in
// tokenizer_config.json: transformers.js reads the WordLevel model's unk token from there and would not resolve an
// {"__type": "AddedToken"} object to an id.
import { BOS_TOKEN, EOS_TOKEN, MODEL_MAX_LENGTH, PAD_TOKEN, SPECIAL_TOKENS, TOKEN_IDS, UNK_TOKEN, VOCABULARY } from './tokenizer';

function addedToken(content: string) {
  return { id: TOKEN_IDS.get(content)!, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function specialToken(content: string) {
  return { SpecialToken: { id: content, type_id: 0 } };
}

function sequence(id: 'A' | 'B') {
  return { Sequence: { id, type_id: 0 } };
}

export function tokenizerJson(): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map(addedToken),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [specialToken(BOS_TOKEN), sequence('A'), specialToken(EOS_TOKEN)],
      pair: [specialToken(BOS_TOKEN), sequence('A'), specialToken(EOS_TOKEN), sequence('B'), specialToken(EOS_TOKEN)],
      special_tokens: Object.fromEntries(
        [BOS_TOKEN, EOS_TOKEN].map((token) => [token, { id: token, ids: [TOKEN_IDS.get(token)!], tokens: [token] }]),
      ),
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(VOCABULARY.map((token, id) => [token, id])), unk_token: UNK_TOKEN },
  };
}

export function tokenizerConfigJson(): object {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: MODEL_MAX_LENGTH,
    padding_side: 'right',
    truncation_side: 'right',
    bos_token: BOS_TOKEN,
    eos_token: EOS_TOKEN,
    unk_token: UNK_TOKEN,
    pad_token: PAD_TOKEN,
    do_lower_case: true,
    clean_up_tokenization_spaces: false,
    model_input_names: ['input_ids', 'attention_mask'],
    added_tokens_decoder: Object.fromEntries(
      SPECIAL_TOKENS.map((token) => {
        const { id, ...rest } = addedToken(token);
        return [String(id), rest];
      }),
    ),
  };
}

export function specialTokensMapJson(): object {
  return { bos_token: BOS_TOKEN, eos_token: EOS_TOKEN, unk_token: UNK_TOKEN, pad_token: PAD_TOKEN };
}

/** File name -> exact text, as committed in models/tokenizer/. */
export function tokenizerFiles(): Record<string, string> {
  const text = (json: object) => `${JSON.stringify(json, null, 2)}\n`;
  return {
    'tokenizer.json': text(tokenizerJson()),
    'tokenizer_config.json': text(tokenizerConfigJson()),
    'special_tokens_map.json': text(specialTokensMapJson()),
  };
}
