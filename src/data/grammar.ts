// The caption grammar, both ways: Statement -> caption text, and caption text -> Statement.
//
//   caption  = object ["and" object] ["on a" background-color "background"]
//   object   = "a" [size] color shape ["at the" position]
//   size     = small | large                       color = red | green | blue | yellow | purple | orange | white | gray
//   shape    = circle | square | triangle | cross  background-color = color | black
//   position = top left | top right | bottom left | bottom right | center
//
// Parsing is case-insensitive and ignores extra whitespace (the tokenizer lowercases too), so captionOf(parse(t)) is
// t lowercased with single spaces. A caption that parses but that no scene can satisfy (overlap, an object in the
// background's colour) is refused with a CaptionError of kind 'impossible': the app shows the message instead of
// drawing something other than what was asked.
import { statementProblem } from './scenes';
import {
  BACKGROUND_COLORS,
  type BackgroundColor,
  CaptionError,
  type Color,
  COLORS,
  isBackgroundColor,
  isColor,
  isShape,
  isSize,
  type ObjectStatement,
  type Position,
  POSITIONS,
  type Shape,
  SHAPES,
  type Statement,
} from './shapes';

/** Every word the grammar uses, in a fixed order (the tokenizer's vocabulary is built from it, in this order). */
export const GRAMMAR_WORDS: readonly string[] = [
  'a',
  'small',
  'large',
  'at',
  'the',
  'and',
  'on',
  'background',
  ...BACKGROUND_COLORS,
  ...SHAPES,
  ...new Set(POSITIONS.flatMap((p) => p.split(' '))),
];

const KNOWN_WORDS = new Set(GRAMMAR_WORDS);

function objectText(object: ObjectStatement): string {
  const size = object.size ? `${object.size} ` : '';
  const position = object.position ? ` at the ${object.position}` : '';
  return `a ${size}${object.color} ${object.shape}${position}`;
}

/** The caption stating exactly what the statement states. */
export function captionOf(statement: Statement): string {
  const objects = statement.objects.map(objectText).join(' and ');
  return statement.background ? `${objects} on a ${statement.background} background` : objects;
}

const EXPECT_COLOR = `a colour (${COLORS.join(', ')})`;
const EXPECT_SHAPE = `a shape (${SHAPES.join(', ')})`;
const EXPECT_BACKGROUND = `a background colour (${BACKGROUND_COLORS.join(', ')})`;
const EXPECT_POSITION = `a position (${POSITIONS.join(', ')})`;

/** Reads words left to right; every failure names the word and its place. */
class Words {
  index = 0;
  constructor(private readonly words: readonly string[]) {}

  peek(): string | undefined {
    return this.words[this.index];
  }

  next(): string | undefined {
    return this.words[this.index++];
  }

  fail(expected: string, hint = ''): never {
    const word = this.words[this.index];
    const place = `word ${this.index + 1}`;
    if (word === undefined) {
      const last = this.words.length ? `after "${this.words.slice(-3).join(' ')}"` : 'before it starts';
      throw new CaptionError('grammar', `the caption ends ${last}; expected ${expected}`, undefined, this.index);
    }
    if (!KNOWN_WORDS.has(word)) {
      throw new CaptionError('unknown word', `unknown word "${word}" (${place}); expected ${expected}`, word, this.index);
    }
    throw new CaptionError('grammar', `"${word}" (${place}) is out of place; expected ${expected}${hint}`, word, this.index);
  }

  expect(word: string): void {
    if (this.peek() !== word) this.fail(`"${word}"`);
    this.index++;
  }

  take<T extends string>(is: (word: string) => word is T, expected: string, hint = ''): T {
    const word = this.peek();
    if (word === undefined || !is(word)) this.fail(expected, hint);
    this.index++;
    return word;
  }
}

function blackHint(words: Words): string {
  return words.peek() === 'black' ? ' (black is only a background colour)' : '';
}

function parsePosition(words: Words): Position {
  const first = words.peek();
  if (first === 'center') {
    words.next();
    return 'center';
  }
  if (first !== 'top' && first !== 'bottom') words.fail(EXPECT_POSITION);
  words.next();
  const side = words.peek();
  if (side !== 'left' && side !== 'right') words.fail('"left" or "right"');
  words.next();
  return `${first} ${side}`;
}

function parseObject(words: Words): ObjectStatement {
  words.expect('a');
  const first = words.peek();
  const size = first !== undefined && isSize(first) ? first : undefined;
  if (size) words.next();
  const color: Color = words.take(isColor, size ? EXPECT_COLOR : `a size (small, large) or ${EXPECT_COLOR}`, blackHint(words));
  const shape: Shape = words.take(isShape, EXPECT_SHAPE);
  const object: ObjectStatement = size ? { color, shape, size } : { color, shape };
  if (words.peek() === 'at') {
    words.next();
    words.expect('the');
    object.position = parsePosition(words);
  }
  return object;
}

/** What the grammar allows after the objects read so far, for error messages. */
function whatMayFollow(objects: readonly ObjectStatement[]): string {
  const options: string[] = [];
  if (objects.at(-1)?.position === undefined) options.push('"at"');
  if (objects.length < 2) options.push('"and"');
  options.push('"on"');
  return `${options.join(', ')} or the end of the caption`;
}

/**
 * The statement a caption makes. Throws a CaptionError naming the unknown word, the place the grammar failed, or
 * (kind 'impossible') why no scene can satisfy it.
 */
export function parseCaption(text: string): Statement {
  const words = new Words(text.toLowerCase().split(/\s+/).filter((w) => w.length > 0));
  const objects = [parseObject(words)];
  if (words.peek() === 'and') {
    words.next();
    objects.push(parseObject(words));
  }
  const statement: Statement = { objects };
  if (words.peek() === 'on') {
    words.next();
    words.expect('a');
    const background: BackgroundColor = words.take(isBackgroundColor, EXPECT_BACKGROUND);
    words.expect('background');
    statement.background = background;
  } else if (words.peek() === 'and') {
    words.fail('"on" or the end of the caption', ' (a caption names at most two objects)');
  }
  if (words.peek() !== undefined) words.fail(statement.background ? 'the end of the caption' : whatMayFollow(objects));
  const problem = statementProblem(statement);
  if (problem) throw new CaptionError('impossible', problem);
  return statement;
}
