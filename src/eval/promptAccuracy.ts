// Prompt accuracy, our GenEval analogue: the fraction of generated images that show everything their caption
// states, read by the attribute evaluator.
//
// The rule. An image passes its statement when all of these hold:
//   count       the number of slots predicted present equals the number of stated objects;
//   background  the predicted background equals the stated one, or black when the caption names none (the data
//               layer draws an unnamed background black, so "a red circle" on a blue field is wrong);
//   objects     the stated objects can be matched one-to-one to present slots such that each object's slot has its
//               stated colour and shape, its stated size when one is stated, and is the slot at its stated
//               position when one is stated (a stated position fixes the slot; an object with none may take any).
// Unstated attributes are never checked: "a red circle" passes whatever the circle's size and place.
//
// The per-attribute breakdown checks one attribute at a time over the images whose caption states it, so a failure
// can be traced: count and background (every caption: an unnamed background is a stated black); color and shape
// (every caption): a one-to-one matching of objects to present slots where that attribute agrees, positions
// ignored; size: likewise over the objects whose size is stated; position: every object with a stated position
// finds its slot present. An image can pass every attribute alone and still fail as a whole (a red square and a
// blue circle asked, a blue square and a red circle drawn): binding attributes to objects is the point of the
// whole-image test.
import type { ImagePrediction, SlotPrediction } from '../nets/evaluator';
import { DEFAULT_BACKGROUND, type ObjectStatement, type Statement } from '../data/shapes';

export const CHECKED_ATTRIBUTES = ['count', 'background', 'color', 'shape', 'size', 'position'] as const;
export type CheckedAttribute = (typeof CHECKED_ATTRIBUTES)[number];

export interface AttributeScore {
  /** Images whose caption states the attribute. */
  total: number;
  passed: number;
  /** passed / total; NaN when no caption states it. */
  accuracy: number;
}

export interface PromptCheck {
  passed: boolean;
  /** Per attribute: whether it passed on its own, or undefined when the caption does not state it. */
  attributes: Partial<Record<CheckedAttribute, boolean>>;
  /** Objects the caption states, and slots the evaluator reads as present (count fails when they differ). */
  objects: { stated: number; seen: number };
}

/** The images whose count failed, by direction: fewer objects seen than stated (missing or merged), or more. */
export interface CountErrors {
  tooFew: number;
  tooMany: number;
}

export interface PromptAccuracy {
  /** Images passing the whole statement / all images. */
  accuracy: number;
  passed: number;
  total: number;
  perAttribute: Record<CheckedAttribute, AttributeScore>;
  countErrors: CountErrors;
  /** One check per image, in input order. */
  checks: PromptCheck[];
}

type Fits = (object: ObjectStatement, slot: SlotPrediction) => boolean;

/** Whether objects can be assigned to distinct slots with fits(object, slot) for each (backtracking; <= 5 slots). */
function matchingExists(objects: readonly ObjectStatement[], slots: readonly SlotPrediction[], fits: Fits): boolean {
  const used = new Array<boolean>(slots.length).fill(false);
  const place = (i: number): boolean => {
    if (i === objects.length) return true;
    for (let s = 0; s < slots.length; s++) {
      if (used[s] || !fits(objects[i]!, slots[s]!)) continue;
      used[s] = true;
      if (place(i + 1)) return true;
      used[s] = false;
    }
    return false;
  };
  return place(0);
}

const statedOrAny = <T>(stated: T | undefined, actual: T) => stated === undefined || stated === actual;

const FITS: Record<'color' | 'shape' | 'size' | 'position' | 'all', Fits> = {
  color: (o, s) => o.color === s.color,
  shape: (o, s) => o.shape === s.shape,
  size: (o, s) => statedOrAny(o.size, s.size),
  position: (o, s) => statedOrAny(o.position, s.position),
  all: (o, s) => o.color === s.color && o.shape === s.shape && statedOrAny(o.size, s.size) && statedOrAny(o.position, s.position),
};

/** Checks one image's prediction against its caption's statement (the rule in the header). */
export function checkPrompt(prediction: ImagePrediction, statement: Statement): PromptCheck {
  const present = prediction.slots.filter((slot) => slot.present);
  const objects = statement.objects;
  const attributes: PromptCheck['attributes'] = {
    count: present.length === objects.length,
    background: prediction.background === (statement.background ?? DEFAULT_BACKGROUND),
    color: matchingExists(objects, present, FITS.color),
    shape: matchingExists(objects, present, FITS.shape),
  };
  const sized = objects.filter((o) => o.size !== undefined);
  if (sized.length > 0) attributes.size = matchingExists(sized, present, FITS.size);
  const placed = objects.filter((o) => o.position !== undefined);
  if (placed.length > 0) attributes.position = matchingExists(placed, present, FITS.position);
  const passed = attributes.count! && attributes.background! && matchingExists(objects, present, FITS.all);
  return { passed, attributes, objects: { stated: objects.length, seen: present.length } };
}

/** How the count failures of `checks` split: too few objects seen, or too many. */
function countErrors(checks: readonly PromptCheck[]): CountErrors {
  return {
    tooFew: checks.filter((c) => c.objects.seen < c.objects.stated).length,
    tooMany: checks.filter((c) => c.objects.seen > c.objects.stated).length,
  };
}

/** The prompt accuracy of images (their predictions) against the statements of their captions, with the breakdown. */
export function promptAccuracy(predictions: readonly ImagePrediction[], statements: readonly Statement[]): PromptAccuracy {
  if (predictions.length !== statements.length) throw new Error(`promptAccuracy: ${predictions.length} predictions for ${statements.length} statements`);
  const checks = predictions.map((prediction, i) => checkPrompt(prediction, statements[i]!));
  const perAttribute = Object.fromEntries(
    CHECKED_ATTRIBUTES.map((name) => {
      const stated = checks.filter((c) => c.attributes[name] !== undefined);
      const passed = stated.filter((c) => c.attributes[name]).length;
      return [name, { total: stated.length, passed, accuracy: stated.length ? passed / stated.length : NaN }];
    }),
  ) as Record<CheckedAttribute, AttributeScore>;
  const passed = checks.filter((c) => c.passed).length;
  return { accuracy: checks.length ? passed / checks.length : NaN, passed, total: checks.length, perAttribute, countErrors: countErrors(checks), checks };
}
