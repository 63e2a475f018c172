import { describe, expect, it } from 'vitest';
import { makeBatch } from '../data/dataset';
import { parseCaption } from '../data/grammar';
import { type Color, COLORS, type Scene, SHAPES, type Statement } from '../data/shapes';
import { type ImagePrediction, predictionOfScene } from '../nets/evaluator';
import { checkPrompt, promptAccuracy } from './promptAccuracy';

const batch = makeBatch(20251126, 300);
const oracle = batch.scenes.map(predictionOfScene);

function scene(background: Scene['background'], ...objects: [Color, Scene['objects'][number]['shape'], 'small' | 'large', Scene['objects'][number]['position']][]): Scene {
  return { background, objects: objects.map(([color, shape, size, position]) => ({ color, shape, size, position, centerX: 0, centerY: 0 })) };
}

/** The prediction with one slot changed. */
function edited(prediction: ImagePrediction, position: string, change: Partial<ImagePrediction['slots'][number]>): ImagePrediction {
  return { ...prediction, slots: prediction.slots.map((slot) => (slot.position === position ? { ...slot, ...change } : slot)) };
}

const otherColor = (color: Color) => COLORS[(COLORS.indexOf(color) + 1) % COLORS.length]!;

describe('promptAccuracy on real renders', () => {
  it('scores a perfect oracle 1 on every caption, with every stated attribute passing', () => {
    const score = promptAccuracy(oracle, batch.statements);
    expect(score.accuracy).toBe(1);
    expect(score.passed).toBe(300);
    for (const [name, attribute] of Object.entries(score.perAttribute)) {
      expect(attribute.accuracy, name).toBe(1);
      expect(attribute.total, name).toBeGreaterThan(0);
    }
    // Colour, shape, count and background are checked on every caption; size and position only where stated.
    expect(score.perAttribute.color.total).toBe(300);
    expect(score.perAttribute.background.total).toBe(300);
    expect(score.perAttribute.size.total).toBeLessThan(300);
    expect(score.perAttribute.position.total).toBe(batch.statements.filter((s) => s.objects.some((o) => o.position)).length);
  });

  it('fails an image whose object has the wrong colour, and only on colour', () => {
    const predictions = oracle.map((p, i) => edited(p, batch.scenes[i]!.objects[0]!.position, { color: otherColor(batch.scenes[i]!.objects[0]!.color) }));
    const score = promptAccuracy(predictions, batch.statements);
    expect(score.accuracy).toBe(0);
    expect(score.perAttribute.shape.accuracy).toBe(1);
    expect(score.perAttribute.count.accuracy).toBe(1);
    expect(score.perAttribute.color.accuracy).toBe(0);
  });

  it('fails a missing object (count) and an extra one (count), but not unstated attributes, and tells the two apart', () => {
    const dropped = oracle.map((p, i) => edited(p, batch.scenes[i]!.objects[0]!.position, { present: false }));
    const droppedScore = promptAccuracy(dropped, batch.statements);
    expect(droppedScore.accuracy).toBe(0);
    expect(droppedScore.countErrors).toEqual({ tooFew: 300, tooMany: 0 });
    const extra = oracle.map((p) => {
      const empty = p.slots.find((s) => !s.present)!;
      return edited(p, empty.position, { present: true });
    });
    const score = promptAccuracy(extra, batch.statements);
    expect(score.accuracy).toBe(0);
    expect(score.perAttribute.count.accuracy).toBe(0);
    expect(score.perAttribute.color.accuracy).toBe(1); // the stated objects are all still there
    expect(score.countErrors).toEqual({ tooFew: 0, tooMany: 300 });
    const stated = batch.statements[0]!.objects.length;
    expect(score.checks[0]!.objects).toEqual({ stated, seen: stated + 1 });
    expect(promptAccuracy(oracle, batch.statements).countErrors).toEqual({ tooFew: 0, tooMany: 0 });
    // Half dropped, half extra: the split counts each image once, and together they are the count failures.
    const mixed = oracle.map((p, i) => (i % 2 === 0 ? dropped[i]! : extra[i]!));
    const mixedScore = promptAccuracy(mixed, batch.statements);
    expect(mixedScore.countErrors).toEqual({ tooFew: 150, tooMany: 150 });
    expect(mixedScore.countErrors.tooFew + mixedScore.countErrors.tooMany).toBe(mixedScore.perAttribute.count.total - mixedScore.perAttribute.count.passed);
  });

  it('fails a wrong background, and a non-black background when the caption names none', () => {
    const wrong = oracle.map((p, i) => ({ ...p, background: batch.scenes[i]!.background === 'black' ? ('white' as const) : ('black' as const) }));
    const score = promptAccuracy(wrong, batch.statements);
    expect(score.accuracy).toBe(0);
    expect(score.perAttribute.background.accuracy).toBe(0);
  });
});

describe('checkPrompt: the matching rule', () => {
  const two = scene('black', ['red', 'square', 'small', 'top left'], ['blue', 'circle', 'large', 'bottom right']);

  it('matches objects to slots in any order when no position is stated', () => {
    const prediction = predictionOfScene(two);
    expect(checkPrompt(prediction, parseCaption('a blue circle and a red square')).passed).toBe(true);
    expect(checkPrompt(prediction, parseCaption('a red square and a large blue circle')).passed).toBe(true);
  });

  it('binds attributes to objects: swapped colours pass colour and shape alone but fail the image', () => {
    const swapped = predictionOfScene(scene('black', ['blue', 'square', 'small', 'top left'], ['red', 'circle', 'large', 'bottom right']));
    const check = checkPrompt(swapped, parseCaption('a red square and a blue circle'));
    expect(check.attributes).toMatchObject({ color: true, shape: true, count: true, background: true });
    expect(check.passed).toBe(false);
  });

  it('a stated position fixes the slot', () => {
    const prediction = predictionOfScene(two);
    expect(checkPrompt(prediction, parseCaption('a red square at the top left and a blue circle')).passed).toBe(true);
    const misplaced = checkPrompt(prediction, parseCaption('a red square at the top right and a blue circle'));
    expect(misplaced.passed).toBe(false);
    expect(misplaced.attributes.position).toBe(false);
    expect(misplaced.attributes.color).toBe(true);
  });

  it('checks a size only when stated, and one object cannot satisfy two statements', () => {
    const one = predictionOfScene(scene('black', ['red', 'square', 'small', 'center']));
    expect(checkPrompt(one, parseCaption('a red square')).passed).toBe(true);
    expect(checkPrompt(one, parseCaption('a large red square')).attributes).toMatchObject({ size: false });
    expect(checkPrompt(one, parseCaption('a large red square')).passed).toBe(false);
    const twins: Statement = { objects: [{ color: 'red', shape: 'square' }, { color: 'red', shape: 'square' }] };
    const check = checkPrompt(one, twins);
    expect(check.passed).toBe(false);
    expect(check.attributes.color).toBe(false); // one red slot cannot be matched twice
  });

  it('does not look at the attributes of empty slots', () => {
    const prediction = predictionOfScene(scene('green', ['red', 'triangle', 'large', 'top right']));
    const noisy = { ...prediction, slots: prediction.slots.map((s) => (s.present ? s : { ...s, color: 'white' as const, shape: SHAPES[3] })) };
    expect(checkPrompt(noisy, parseCaption('a red triangle on a green background')).passed).toBe(true);
    expect(checkPrompt(noisy, parseCaption('a red triangle')).passed).toBe(false); // the unstated background must be black
  });

  it('refuses mismatched lengths', () => {
    expect(() => promptAccuracy(oracle.slice(0, 2), batch.statements.slice(0, 3))).toThrow('2 predictions for 3 statements');
  });
});
