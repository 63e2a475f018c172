import { describe, expect, it } from 'vitest';
import { sampleCaptionedScene } from './dataset';
import { captionOf, GRAMMAR_WORDS, parseCaption } from './grammar';
import { mulberry32 } from './random';
import { CaptionError } from './shapes';

function parseError(text: string): CaptionError {
  try {
    parseCaption(text);
  } catch (error) {
    if (error instanceof CaptionError) return error;
    throw error;
  }
  throw new Error(`"${text}" parsed`);
}

describe('caption grammar', () => {
  it('round-trips 1,000 random captions: parse(caption) is the statement, captionOf(statement) the caption', () => {
    const random = mulberry32(7);
    for (let i = 0; i < 1000; i++) {
      const { caption, statement } = sampleCaptionedScene(random);
      expect(parseCaption(caption)).toEqual(statement);
      expect(captionOf(parseCaption(caption))).toBe(caption);
    }
  });

  it('round-trips captions that state everything and captions that state nothing optional', () => {
    const random = mulberry32(8);
    for (const p of [0, 1]) {
      for (let i = 0; i < 200; i++) {
        const { caption, statement } = sampleCaptionedScene(random, {
          statedSizeProbability: p,
          statedPositionProbability: p,
          statedBackgroundProbability: p,
        });
        expect(parseCaption(caption)).toEqual(statement);
      }
    }
  });

  it('reads the spec example and ignores case and extra whitespace', () => {
    expect(parseCaption('  A Small RED circle   at the top left and a large blue cross on a black background ')).toEqual({
      objects: [
        { color: 'red', shape: 'circle', size: 'small', position: 'top left' },
        { color: 'blue', shape: 'cross', size: 'large' },
      ],
      background: 'black',
    });
    expect(parseCaption('a gray triangle at the center')).toEqual({ objects: [{ color: 'gray', shape: 'triangle', position: 'center' }] });
  });

  it('names an unknown word, its place, and what the grammar expected there', () => {
    const error = parseError('a pink circle');
    expect(error.kind).toBe('unknown word');
    expect(error.word).toBe('pink');
    expect(error.wordIndex).toBe(1);
    expect(error.message).toContain('unknown word "pink" (word 2)');
    expect(error.message).toContain('a colour (red, green');
    expect(parseError('a red blob at the top left').message).toContain('unknown word "blob" (word 3); expected a shape');
    expect(parseError('a red circle at the middle').word).toBe('middle');
    expect(parseError('a red circle, please').word).toBe('circle,');
  });

  it('names the place where known words break the grammar', () => {
    const cases: [string, string, string | undefined][] = [
      ['a circle', '"circle" (word 2) is out of place; expected a size (small, large) or a colour', 'circle'],
      ['a black square', 'black is only a background colour', 'black'],
      ['a small large red circle', '"large" (word 3) is out of place; expected a colour', 'large'],
      ['red circle', '"red" (word 1) is out of place; expected "a"', 'red'],
      ['a red circle at top left', '"top" (word 5) is out of place; expected "the"', 'top'],
      ['a red circle at the top', 'the caption ends after "at the top"; expected "left" or "right"', undefined],
      ['a red circle at the left top', '"left" (word 6) is out of place; expected a position', 'left'],
      ['a red circle on a square background', 'expected a background colour', 'square'],
      ['a red circle on a blue', 'the caption ends after "on a blue"; expected "background"', undefined],
      ['a red circle and a blue square and a green cross', 'a caption names at most two objects', 'and'],
      ['a red circle on a blue background and a green cross', '"and" (word 8) is out of place; expected the end of the caption', 'and'],
      ['a red circle a', '"a" (word 4) is out of place; expected "at", "and", "on" or the end of the caption', 'a'],
      ['a red circle at the center square', '"square" (word 7) is out of place; expected "and", "on" or the end of the caption', 'square'],
      ['', 'the caption ends before it starts; expected "a"', undefined],
    ];
    for (const [text, message, word] of cases) {
      const error = parseError(text);
      expect(error.kind, text).toBe('grammar');
      expect(error.message, text).toContain(message);
      expect(error.word, text).toBe(word);
    }
  });

  it('refuses captions no scene can satisfy, saying why', () => {
    const cases: [string, string][] = [
      ['a large red circle at the center and a blue square', 'the large red circle at the center leaves no room for a second object'],
      ['a red circle and a large blue square at the center', 'leaves no room for a second object'],
      ['a red circle at the top left and a blue square at the top left', 'two objects cannot both be at the top left'],
      ['a small red circle at the center and a large blue square', 'cannot both fit without overlapping'],
      ['a red circle at the center and a large blue square at the top right', 'cannot both fit without overlapping'],
      ['a red circle on a red background', "the red circle cannot be on a red background: objects never take the background's colour"],
      ['a red circle and a white square on a white background', 'the white square cannot be on a white background'],
    ];
    for (const [text, message] of cases) {
      const error = parseError(text);
      expect(error.kind, text).toBe('impossible');
      expect(error.message, text).toContain(message);
    }
    // Small objects fit beside a small one at the center, sizes unstated included.
    expect(() => parseCaption('a small red circle at the center and a blue square at the top left')).not.toThrow();
    expect(() => parseCaption('a red circle at the center and a blue square')).not.toThrow();
  });

  it('lists every grammar word once', () => {
    expect(new Set(GRAMMAR_WORDS).size).toBe(GRAMMAR_WORDS.length);
    expect(GRAMMAR_WORDS.length).toBe(26);
  });
});
