// Scenes from statements: which statements can be drawn at all, drawing one with the unstated attributes at random,
// and drawing whole random scenes for training (with exclusions, for measuring compositional generalisation).
//
// Unstated sizes and positions are drawn uniformly over the compatible layouts (layout.ts) that honour the stated
// ones, then the jitter uniformly over that layout's valid placements. The training sampler draws a full scene the
// same way and only then decides what its caption states, so the training data's distribution of an unstated
// attribute given the stated ones is exactly what sceneForStatement draws.
import { layoutsFor, placementsOf, type SlotConstraint } from './layout';
import { pick, type Random, randomFrom } from './random';
import {
  BACKGROUND_COLORS,
  type BackgroundColor,
  CaptionError,
  type Color,
  COLORS,
  DEFAULT_BACKGROUND,
  type ObjectStatement,
  type Position,
  type Scene,
  type Shape,
  SHAPES,
  type Size,
  type Statement,
} from './shapes';

function describeObject(object: ObjectStatement): string {
  const size = object.size ? `${object.size} ` : '';
  const position = object.position ? ` at the ${object.position}` : '';
  return `the ${size}${object.color} ${object.shape}${position}`;
}

function overlapReason(objects: readonly ObjectStatement[]): string {
  const [a, b] = objects as [ObjectStatement, ObjectStatement];
  if (a.position !== undefined && a.position === b.position) return `two objects cannot both be at the ${a.position}`;
  const largeAtCenter = objects.find((o) => o.size === 'large' && o.position === 'center');
  if (largeAtCenter) return `${describeObject(largeAtCenter)} leaves no room for a second object`;
  return (
    `${describeObject(a)} and ${describeObject(b)} cannot both fit without overlapping ` +
    '(an object at the center has room beside it only when both objects are small)'
  );
}

/** Why no scene can satisfy this statement, or null when one can. */
export function statementProblem(statement: Statement): string | null {
  const count = statement.objects.length;
  if (count < 1 || count > 2) return `a caption names one or two objects, this statement has ${count}`;
  const background = statement.background ?? DEFAULT_BACKGROUND;
  const clash = statement.objects.find((o) => o.color === background);
  if (clash) return `${describeObject(clash)} cannot be on a ${background} background: objects never take the background's colour`;
  if (layoutsFor(statement.objects).length === 0) return overlapReason(statement.objects);
  return null;
}

/** Draws sizes, positions and jitter for these objects; the caller has checked that a layout exists. */
function drawObjects(random: Random, objects: readonly ObjectStatement[]): Scene['objects'] {
  const constraints: SlotConstraint[] = objects.map(({ size, position }) => ({ size, position }));
  const placements = pick(random, placementsOf(pick(random, layoutsFor(constraints))));
  return objects.map(({ color, shape }, i) => {
    const { size, position, centerX, centerY } = placements[i]!;
    return { color, shape, size, position, centerX, centerY };
  });
}

/**
 * A scene satisfying the statement, with the unstated attributes drawn from the seed. Throws a CaptionError of kind
 * 'impossible' (naming the conflict) when no scene can satisfy it.
 */
export function sceneForStatement(statement: Statement, seed: number | Random): Scene {
  const problem = statementProblem(statement);
  if (problem) throw new CaptionError('impossible', problem);
  return { background: statement.background ?? DEFAULT_BACKGROUND, objects: drawObjects(randomFrom(seed), statement.objects) };
}

/**
 * A combination of attributes the training data must never contain, e.g. {color: 'red', shape: 'triangle'}. A scene
 * is excluded when one of its objects has every object attribute given here and, if `background` is given, the scene
 * has that background.
 */
export interface Exclusion {
  color?: Color;
  shape?: Shape;
  size?: Size;
  position?: Position;
  background?: BackgroundColor;
}

export function excludedBy(scene: Scene, exclusions: readonly Exclusion[]): Exclusion | undefined {
  return exclusions.find(
    (exclusion) =>
      (exclusion.background === undefined || exclusion.background === scene.background) &&
      scene.objects.some(
        (object) =>
          (exclusion.color === undefined || exclusion.color === object.color) &&
          (exclusion.shape === undefined || exclusion.shape === object.shape) &&
          (exclusion.size === undefined || exclusion.size === object.size) &&
          (exclusion.position === undefined || exclusion.position === object.position),
      ),
  );
}

export interface SceneSampling {
  /** Probability that a scene has two objects rather than one. */
  secondObjectProbability: number;
  /** Probability that the caption names a background; otherwise the background is black. */
  statedBackgroundProbability: number;
  exclusions: readonly Exclusion[];
}

/** Attempts before concluding the exclusions leave (almost) nothing to draw. */
const MAX_ATTEMPTS = 10_000;

/**
 * A random full scene, and whether its background is stated (an unstated background is black, so the background is
 * chosen together with that decision). Colours and shapes are uniform; a stated background is uniform over the
 * backgrounds no object has. Scenes matching an exclusion are redrawn.
 */
export function sampleScene(random: Random, options: SceneSampling): { scene: Scene; backgroundStated: boolean } {
  for (const exclusion of options.exclusions) {
    if (Object.values(exclusion).every((value) => value === undefined)) throw new Error('an empty exclusion excludes every scene');
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const count = random() < options.secondObjectProbability ? 2 : 1;
    const objects = Array.from({ length: count }, () => ({ color: pick(random, COLORS), shape: pick(random, SHAPES) }));
    const backgroundStated = random() < options.statedBackgroundProbability;
    const background = backgroundStated
      ? pick(random, BACKGROUND_COLORS.filter((c) => objects.every((o) => o.color !== c)))
      : DEFAULT_BACKGROUND;
    const scene: Scene = { background, objects: drawObjects(random, objects) };
    if (!excludedBy(scene, options.exclusions)) return { scene, backgroundStated };
  }
  throw new Error(`the exclusions ${JSON.stringify(options.exclusions)} left no scene in ${MAX_ATTEMPTS} attempts`);
}
