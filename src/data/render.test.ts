import { describe, expect, it } from 'vitest';
import { makeBatch, sampleCaptionedScene } from './dataset';
import { parseCaption } from './grammar';
import { ANCHOR, EXTENT } from './layout';
import { mulberry32 } from './random';
import { asDisplayed, colorValue, IMAGE_NUMEL, IMAGE_SIZE, PALETTE, renderScene, shapeDistance, toRGBA } from './render';
import { sceneForStatement } from './scenes';
import { type BackgroundColor, COLORS, POSITIONS, type Scene, SHAPES, type Shape, SIZES, type Size } from './shapes';

const PLANE = IMAGE_SIZE * IMAGE_SIZE;

function pixel(image: Float32Array, x: number, y: number): [number, number, number] {
  const i = y * IMAGE_SIZE + x;
  return [image[i]!, image[i + PLANE]!, image[i + 2 * PLANE]!];
}

interface Measured {
  /** Sum of per-pixel coverage, in px^2. */
  area: number;
  centroidX: number;
  centroidY: number;
  /** Mean colour (0-255) of the fully covered pixels. */
  fullColor: [number, number, number];
}

/** Reads one object back from an image of a one-object scene: coverage per pixel from the colour blend. */
function measure(image: Float32Array, background: BackgroundColor, color: BackgroundColor): Measured {
  const bg = colorValue(background);
  const fg = colorValue(color);
  const span = fg.map((f, c) => f - bg[c]!);
  const norm = span.reduce((sum, d) => sum + d * d, 0);
  let area = 0;
  let sx = 0;
  let sy = 0;
  const full = [0, 0, 0];
  let fullCount = 0;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const p = pixel(image, x, y);
      const coverage = p.reduce((sum, v, c) => sum + (v - bg[c]!) * span[c]!, 0) / norm;
      area += coverage;
      sx += coverage * (x + 0.5);
      sy += coverage * (y + 0.5);
      if (coverage > 0.999) {
        p.forEach((v, c) => (full[c]! += (v + 1) * 127.5));
        fullCount++;
      }
    }
  }
  return { area, centroidX: sx / area, centroidY: sy / area, fullColor: full.map((v) => v / fullCount) as [number, number, number] };
}

/** Exact area of each shape whose box is 2h across. */
function exactArea(shape: Shape, size: Size): number {
  const h = EXTENT[size] / 2;
  return { circle: Math.PI * h * h, square: 4 * h * h, triangle: 2 * h * h, cross: (20 * h * h) / 9 }[shape];
}

describe('renderScene', () => {
  it('draws what 300 single-object captions say: colour, size, position quadrant, background in the free corners', () => {
    const random = mulberry32(21);
    const everything = { secondObjectProbability: 0, statedSizeProbability: 1, statedPositionProbability: 1, statedBackgroundProbability: 1 };
    for (let i = 0; i < 300; i++) {
      const { caption, scene } = sampleCaptionedScene(random, everything);
      const stated = parseCaption(caption);
      const object = stated.objects[0]!;
      const image = renderScene(scene);
      const m = measure(image, stated.background!, object.color);

      const [r, g, b] = PALETTE[object.color];
      expect(m.fullColor[0], caption).toBeCloseTo(r, 3);
      expect(m.fullColor[1], caption).toBeCloseTo(g, 3);
      expect(m.fullColor[2], caption).toBeCloseTo(b, 3);

      const area = exactArea(object.shape, object.size!);
      expect(Math.abs(m.area - area), `${caption}: area ${m.area}, exact ${area}`).toBeLessThan(0.03 * area + 0.5);

      // The centroid sits within 1 px of jitter (+ h/3 lower for the triangle, whose centroid is below its box centre).
      const [ax, ay] = ANCHOR[object.position!];
      const drop = object.shape === 'triangle' ? EXTENT[object.size!] / 6 : 0;
      expect(Math.abs(m.centroidX - ax), caption).toBeLessThan(1.1);
      expect(Math.abs(m.centroidY - (ay + drop)), caption).toBeLessThan(1.1);
      if (object.position !== 'center') {
        expect(m.centroidX < 16, caption).toBe(object.position!.endsWith('left'));
        expect(m.centroidY < 16, caption).toBe(object.position!.startsWith('top'));
      }

      // Corners the object is not in are pure background.
      const bg = colorValue(stated.background!);
      const corners: [number, number, string][] = [[0, 0, 'top left'], [31, 0, 'top right'], [0, 31, 'bottom left'], [31, 31, 'bottom right']];
      for (const [x, y, corner] of corners) {
        if (corner !== object.position) expect(pixel(image, x, y), `${caption}: ${corner} corner`).toEqual(bg.map(Math.fround));
      }
    }
  });

  it('draws every shape, size and colour with the exact area and colour, object pixels only where the shape is', () => {
    for (const shape of SHAPES) {
      for (const size of SIZES) {
        const scene: Scene = { background: 'black', objects: [{ color: 'white', shape, size, position: 'center', centerX: 16, centerY: 16 }] };
        const m = measure(renderScene(scene), 'black', 'white');
        expect(Math.abs(m.area - exactArea(shape, size)), `${size} ${shape}`).toBeLessThan(0.03 * exactArea(shape, size) + 0.5);
      }
    }
    // A square on whole-pixel edges is crisp: exactly 64 fully covered pixels, nothing partial.
    const square = renderScene({ background: 'black', objects: [{ color: 'red', shape: 'square', size: 'small', position: 'center', centerX: 16, centerY: 16 }] });
    const red = colorValue('red')[0];
    expect(Array.from(square.subarray(0, PLANE)).filter((v) => v === Math.fround(red)).length).toBe(64);
    expect(Array.from(square.subarray(0, PLANE)).filter((v) => v !== Math.fround(red) && v !== -1).length).toBe(0);
    for (const color of COLORS) {
      const image = renderScene({ background: 'black', objects: [{ color, shape: 'square', size: 'large', position: 'center', centerX: 16, centerY: 16 }] });
      expect(toRGBA(image).slice((16 * 32 + 16) * 4, (16 * 32 + 16) * 4 + 4)).toEqual(new Uint8ClampedArray([...PALETTE[color], 255]));
    }
  });

  it('points the triangle up and gives the cross arms a third of its size thick', () => {
    // Apex up: the top row of the box is narrow, the bottom row full width.
    expect(shapeDistance('triangle', 0, -6.5, 7)).toBeLessThan(0);
    expect(shapeDistance('triangle', 5, -5, 7)).toBeGreaterThan(0);
    expect(shapeDistance('triangle', 6.5, 6.5, 7)).toBeLessThan(0);
    // Cross arms: inside along the axes out to the box edge, outside off the arms.
    expect(shapeDistance('cross', 6.5, 0, 7)).toBeLessThan(0);
    expect(shapeDistance('cross', 0, 2.2, 7)).toBeLessThan(0);
    expect(shapeDistance('cross', 3, 3, 7)).toBeGreaterThan(0);
    // Distances are true distances away from the shape (the ramp is then one pixel wide).
    expect(shapeDistance('square', 9, 0, 4)).toBeCloseTo(5, 12);
    expect(shapeDistance('circle', 0, -7, 4)).toBeCloseTo(3, 12);
    expect(shapeDistance('triangle', 0, -6, 4)).toBeCloseTo(2, 12);
  });

  it('is deterministic: same scene, same bytes; same seed, same batch; different seeds, different batches', () => {
    const scene = sceneForStatement(parseCaption('a small red circle at the top left and a large blue cross on a white background'), 3);
    expect(Buffer.from(renderScene(scene).buffer).equals(Buffer.from(renderScene(scene).buffer))).toBe(true);
    const a = makeBatch(5, 64);
    const b = makeBatch(5, 64);
    const c = makeBatch(6, 64);
    expect(Buffer.from(a.images.buffer).equals(Buffer.from(b.images.buffer))).toBe(true);
    expect(a.captions).toEqual(b.captions);
    expect(Buffer.from(a.images.buffer).equals(Buffer.from(c.images.buffer))).toBe(false);
    expect(a.captions).not.toEqual(c.captions);
  });

  it('makes batches of the documented layout: [count, 3, 32, 32] in [-1, 1], image i drawn from scene i', () => {
    const batch = makeBatch(9, 32);
    expect(batch.images.length).toBe(32 * IMAGE_NUMEL);
    expect(batch.captions.length).toBe(32);
    expect(Math.min(...batch.images)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...batch.images)).toBeLessThanOrEqual(1);
    for (let i = 0; i < 32; i++) {
      expect(batch.images.subarray(i * IMAGE_NUMEL, (i + 1) * IMAGE_NUMEL)).toEqual(renderScene(batch.scenes[i]!));
      expect(parseCaption(batch.captions[i]!)).toEqual(batch.statements[i]);
    }
  });

  it('keeps two objects on separate pixels (not even anti-aliased edges meet), over 500 scenes', () => {
    const random = mulberry32(22);
    for (let i = 0; i < 500; i++) {
      const { scene } = sampleCaptionedScene(random, { secondObjectProbability: 1 });
      const alone = scene.objects.map((object) => renderScene({ ...scene, objects: [object] }));
      const bg = colorValue(scene.background).map(Math.fround);
      const touched = (image: Float32Array, p: number) => [0, 1, 2].some((c) => image[p + c * PLANE] !== bg[c]);
      let shared = 0;
      for (let p = 0; p < PLANE; p++) if (touched(alone[0]!, p) && touched(alone[1]!, p)) shared++;
      expect(shared, JSON.stringify(scene)).toBe(0);
    }
  });

  it('lists one palette colour per colour name, all different', () => {
    const names = Object.keys(PALETTE);
    expect(names.sort()).toEqual([...COLORS, 'black'].sort());
    expect(new Set(Object.values(PALETTE).map((rgb) => rgb.join())).size).toBe(names.length);
    expect(POSITIONS.every((p) => ANCHOR[p] !== undefined)).toBe(true);
  });
});

describe('toRGBA', () => {
  it('draws a 1-channel image in grey and any size, opaque, clamping what leaves [-1, 1]', () => {
    const grey = new Float32Array([-1.5, -1, 0, 1, 2, NaN]); // 3 x 2, one channel
    const rgba = toRGBA(grey, 1, 3, 2);
    expect(rgba.length).toBe(3 * 2 * 4);
    const pixels = Array.from({ length: 6 }, (_, p) => Array.from(rgba.slice(p * 4, p * 4 + 4)));
    expect(pixels).toEqual([[0, 0, 0, 255], [0, 0, 0, 255], [128, 128, 128, 255], [255, 255, 255, 255], [255, 255, 255, 255], [0, 0, 0, 255]]);
  });
});

describe('asDisplayed', () => {
  it("gives each value its byte's level in the picture (toRGBA): clamped to [-1, 1] and rounded to b / 127.5 - 1", () => {
    const image = new Float32Array(IMAGE_NUMEL).map((_, i) => -1.3 + (2.6 * i) / (IMAGE_NUMEL - 1)); // -1.3 .. 1.3
    image[0] = -1.02; // a black background's overshoot
    image[1] = 0.5; // between two bytes
    const shown = asDisplayed(image);
    const rgba = toRGBA(image);
    for (let p = 0; p < PLANE; p++) for (let c = 0; c < 3; c++) expect(shown[c * PLANE + p]).toBe(Math.fround(rgba[p * 4 + c]! / 127.5 - 1));
    expect(shown[0]).toBe(-1);
    expect(Math.max(...shown)).toBe(1);
    expect(shown[1]).toBeCloseTo(191 / 127.5 - 1, 6);
    expect(asDisplayed(shown)).toEqual(shown); // a shown picture shows as itself
  });
});
