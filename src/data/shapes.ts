// The Shapes-32 world: what a scene is made of, what a caption can state about it, and the words for both.
// A Scene is what gets drawn (every attribute fixed, down to the pixel); a Statement is what a caption says
// (colour and shape always, size and position and background only when the caption names them). The evaluator's
// prompt accuracy checks exactly the stated attributes, so the two are kept apart.

export const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white', 'gray'] as const;
export type Color = (typeof COLORS)[number];

/** Backgrounds take any object colour or black; black is what a caption without "on a ... background" gets. */
export const BACKGROUND_COLORS = [...COLORS, 'black'] as const;
export type BackgroundColor = (typeof BACKGROUND_COLORS)[number];
export const DEFAULT_BACKGROUND: BackgroundColor = 'black';

export const SHAPES = ['circle', 'square', 'triangle', 'cross'] as const;
export type Shape = (typeof SHAPES)[number];

export const SIZES = ['small', 'large'] as const;
export type Size = (typeof SIZES)[number];

export const POSITIONS = ['top left', 'top right', 'bottom left', 'bottom right', 'center'] as const;
export type Position = (typeof POSITIONS)[number];

/** What a caption says about one object. An absent size or position is unstated (drawn at random). */
export interface ObjectStatement {
  color: Color;
  shape: Shape;
  size?: Size;
  position?: Position;
}

/** What a caption says: one or two objects, in caption order, and the background if it is named. */
export interface Statement {
  objects: ObjectStatement[];
  /** Absent: unstated, and then the scene's background is DEFAULT_BACKGROUND (black), never random. */
  background?: BackgroundColor;
}

/** One drawn object. centerX/centerY are in pixels on the continuous canvas [0, 32] (pixel i spans [i, i + 1)). */
export interface SceneObject {
  color: Color;
  shape: Shape;
  size: Size;
  position: Position;
  centerX: number;
  centerY: number;
}

export interface Scene {
  background: BackgroundColor;
  /** 1 or 2 objects, in caption order; they never overlap and never take the background's colour. */
  objects: SceneObject[];
}

export function isColor(word: string): word is Color {
  return (COLORS as readonly string[]).includes(word);
}

export function isBackgroundColor(word: string): word is BackgroundColor {
  return (BACKGROUND_COLORS as readonly string[]).includes(word);
}

export function isShape(word: string): word is Shape {
  return (SHAPES as readonly string[]).includes(word);
}

export function isSize(word: string): word is Size {
  return (SIZES as readonly string[]).includes(word);
}

/** The statement a scene satisfies when every attribute is stated (background stated too). */
export function fullStatementOf(scene: Scene): Statement {
  return {
    objects: scene.objects.map(({ color, shape, size, position }) => ({ color, shape, size, position })),
    background: scene.background,
  };
}

/**
 * Where a scene disagrees with a statement: one line per stated attribute the scene does not have (empty when it
 * satisfies it). Objects are matched in caption order, as the sampler draws them. An unstated background must be black.
 */
export function mismatches(scene: Scene, statement: Statement): string[] {
  const problems: string[] = [];
  if (scene.objects.length !== statement.objects.length) {
    problems.push(`the scene has ${scene.objects.length} object(s), the statement ${statement.objects.length}`);
  }
  statement.objects.forEach((stated, i) => {
    const drawn = scene.objects[i];
    if (!drawn) return;
    for (const key of ['color', 'shape', 'size', 'position'] as const) {
      const value = stated[key];
      if (value !== undefined && drawn[key] !== value) problems.push(`object ${i + 1}: ${key} is ${drawn[key]}, stated ${value}`);
    }
  });
  const background = statement.background ?? DEFAULT_BACKGROUND;
  if (scene.background !== background) problems.push(`background is ${scene.background}, expected ${background}`);
  return problems;
}

/**
 * A caption that cannot be used: a word outside the grammar ('unknown word'), known words in a place the grammar does
 * not allow ('grammar'), or stated attributes no scene can have ('impossible': overlapping objects, an object in the
 * background's colour). `word` and `wordIndex` (0-based, in the lowercased caption) say where, when there is a place.
 */
export class CaptionError extends Error {
  constructor(
    readonly kind: 'unknown word' | 'grammar' | 'impossible',
    message: string,
    readonly word?: string,
    readonly wordIndex?: number,
  ) {
    super(message);
    this.name = 'CaptionError';
  }
}
