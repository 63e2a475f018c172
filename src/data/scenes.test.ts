import { describe, expect, it } from 'vitest';
import { sampleCaptionedScene } from './dataset';
import { ANCHOR, boxOf, CANVAS, layoutsFor, MAX_JITTER, MIN_GAP, type Placement, placementsOf, separated, SLOTS } from './layout';
import { mulberry32 } from './random';
import { excludedBy, type Exclusion, sceneForStatement, statementProblem } from './scenes';
import { CaptionError, mismatches, type Scene, type Statement } from './shapes';

function placementOf(object: Scene['objects'][number]) {
  return { size: object.size, position: object.position, centerX: object.centerX, centerY: object.centerY };
}

function expectApartAndOnCanvas(scene: Scene): void {
  const boxes = scene.objects.map((o) => boxOf(placementOf(o)));
  for (const box of boxes) {
    expect(box.left).toBeGreaterThanOrEqual(0);
    expect(box.top).toBeGreaterThanOrEqual(0);
    expect(box.right).toBeLessThanOrEqual(CANVAS);
    expect(box.bottom).toBeLessThanOrEqual(CANVAS);
  }
  if (boxes.length === 2) expect(separated(boxes[0]!, boxes[1]!), JSON.stringify(scene)).toBe(true);
}

describe('layouts', () => {
  it('makes exactly "same position" and "a large object with one at the center" incompatible', () => {
    for (const a of SLOTS) {
      for (const b of SLOTS) {
        const expected = a.position !== b.position && !((a.position === 'center' || b.position === 'center') && (a.size === 'large' || b.size === 'large'));
        expect(placementsOf([a, b]).length > 0, `${a.size} ${a.position} + ${b.size} ${b.position}`).toBe(expected);
      }
    }
    expect(layoutsFor([{}]).length).toBe(10);
    expect(layoutsFor([{}, {}]).length).toBe(56);
  });

  it('keeps every valid placement MIN_GAP apart and on the canvas, jittered by at most one pixel', () => {
    for (const a of SLOTS) {
      for (const b of SLOTS) {
        for (const placed of placementsOf([a, b])) {
          const [p, q] = placed as [Placement, Placement];
          expect(separated(boxOf(p), boxOf(q))).toBe(true);
          for (const { position, centerX, centerY } of placed) {
            expect(Math.abs(centerX - ANCHOR[position][0])).toBeLessThanOrEqual(MAX_JITTER);
            expect(Math.abs(centerY - ANCHOR[position][1])).toBeLessThanOrEqual(MAX_JITTER);
          }
        }
      }
    }
    expect(MIN_GAP).toBe(1);
  });
});

describe('random scenes', () => {
  it('never overlaps two objects, over 2,000 two-object scenes', () => {
    const random = mulberry32(11);
    const positions = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const { scene } = sampleCaptionedScene(random, { secondObjectProbability: 1 });
      expect(scene.objects.length).toBe(2);
      expectApartAndOnCanvas(scene);
      positions.add(scene.objects.map((o) => `${o.size} ${o.position}`).join(' + '));
    }
    // Every compatible layout shows up (56 ordered pairs of slots).
    expect(positions.size).toBe(56);
  });

  it('satisfies its own statement, never paints an object in the background colour, and leaves an unnamed background black', () => {
    const random = mulberry32(12);
    let named = 0;
    for (let i = 0; i < 2000; i++) {
      const { statement, scene } = sampleCaptionedScene(random);
      expect(mismatches(scene, statement)).toEqual([]);
      for (const object of scene.objects) expect(object.color).not.toBe(scene.background);
      if (statement.background === undefined) expect(scene.background).toBe('black');
      else named++;
    }
    expect(named / 2000).toBeGreaterThan(0.45);
    expect(named / 2000).toBeLessThan(0.55);
  });

  it('honours exclusions over 5,000 samples, and excludes nothing else', () => {
    const exclusions: Exclusion[] = [
      { color: 'red', shape: 'triangle' },
      { shape: 'cross', size: 'large', position: 'top left' },
      { color: 'blue', background: 'white' },
    ];
    const random = mulberry32(13);
    const seen = { redCircle: 0, greenTriangle: 0, largeCrossElsewhere: 0, blueOnGray: 0 };
    for (let i = 0; i < 5000; i++) {
      const { scene } = sampleCaptionedScene(random, { exclusions });
      expect(excludedBy(scene, exclusions), JSON.stringify(scene)).toBeUndefined();
      for (const o of scene.objects) {
        if (o.color === 'red' && o.shape === 'circle') seen.redCircle++;
        if (o.color === 'green' && o.shape === 'triangle') seen.greenTriangle++;
        if (o.shape === 'cross' && o.size === 'large' && o.position !== 'top left') seen.largeCrossElsewhere++;
        if (o.color === 'blue' && scene.background === 'gray') seen.blueOnGray++;
      }
    }
    for (const [what, count] of Object.entries(seen)) expect(count, what).toBeGreaterThan(20);
  });

  it('refuses an empty exclusion and says when exclusions leave nothing to draw', () => {
    expect(() => sampleCaptionedScene(1, { exclusions: [{}] })).toThrow('an empty exclusion excludes every scene');
    const everyShape: Exclusion[] = ['circle', 'square', 'triangle', 'cross'].map((shape) => ({ shape }) as Exclusion);
    expect(() => sampleCaptionedScene(1, { exclusions: everyShape })).toThrow('left no scene');
  });

  it('draws the same scene from the same seed, and different scenes from different seeds', () => {
    expect(sampleCaptionedScene(42)).toEqual(sampleCaptionedScene(42));
    const captions = new Set(Array.from({ length: 50 }, (_, seed) => JSON.stringify(sampleCaptionedScene(seed).scene)));
    expect(captions.size).toBeGreaterThan(45);
  });
});

describe('sceneForStatement', () => {
  it('keeps what is stated and draws what is not, over many seeds', () => {
    const statement: Statement = { objects: [{ color: 'red', shape: 'circle' }] };
    const sizes = new Set<string>();
    const positions = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const scene = sceneForStatement(statement, seed);
      expect(mismatches(scene, statement)).toEqual([]);
      expect(scene.background).toBe('black');
      sizes.add(scene.objects[0]!.size);
      positions.add(scene.objects[0]!.position);
    }
    expect(sizes.size).toBe(2);
    expect(positions.size).toBe(5);
  });

  it('completes a partial two-object statement only with compatible attributes', () => {
    const statement: Statement = { objects: [{ color: 'red', shape: 'circle', position: 'center' }, { color: 'blue', shape: 'cross' }], background: 'white' };
    for (let seed = 0; seed < 200; seed++) {
      const scene = sceneForStatement(statement, seed);
      expect(mismatches(scene, statement)).toEqual([]);
      expect(scene.objects.map((o) => o.size)).toEqual(['small', 'small']);
      expect(scene.objects[1]!.position).not.toBe('center');
      expectApartAndOnCanvas(scene);
    }
  });

  it('satisfies every sampled statement, whatever the seed', () => {
    const random = mulberry32(14);
    for (let i = 0; i < 1000; i++) {
      const { statement } = sampleCaptionedScene(random);
      const scene = sceneForStatement(statement, i);
      expect(mismatches(scene, statement)).toEqual([]);
      expectApartAndOnCanvas(scene);
    }
  });

  it('throws a CaptionError of kind "impossible" for a statement no scene satisfies', () => {
    const overlap: Statement = { objects: [{ color: 'red', shape: 'circle', size: 'large', position: 'center' }, { color: 'blue', shape: 'square' }] };
    expect(statementProblem(overlap)).toContain('leaves no room for a second object');
    expect(() => sceneForStatement(overlap, 1)).toThrow(CaptionError);
    expect(statementProblem({ objects: [] })).toContain('one or two objects');
    expect(statementProblem({ objects: [{ color: 'gray', shape: 'cross' }], background: 'gray' })).toContain('gray background');
  });
});
