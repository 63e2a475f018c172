// Scene -> image. Images are Float32Array [3, 32, 32] (CHW, channel-major: the layout the networks use) in [-1, 1].
//
// Anti-aliasing by an analytic signed distance per pixel: coverage = clamp(0.5 - d, 0, 1) at the pixel centre, a
// 1-px ramp across each edge. Edges on integer coordinates (all box edges, since anchors, extents and jitter are
// whole pixels) come out crisp and exact; curved and slanted edges get a one-pixel blend. Only the pixels of each
// object's box (plus the ramp) are visited, so 10k images take well under a second of rendering.
import { CANVAS, EXTENT } from './layout';
import type { BackgroundColor, Scene, SceneObject, Shape } from './shapes';

export const IMAGE_CHANNELS = 3;
export const IMAGE_SIZE = CANVAS;
export const IMAGE_NUMEL = IMAGE_CHANNELS * IMAGE_SIZE * IMAGE_SIZE;

/** The exact sRGB value (0-255) of each colour name, chosen far apart so the evaluator can tell them by pixel means. */
export const PALETTE: Readonly<Record<BackgroundColor, readonly [r: number, g: number, b: number]>> = {
  red: [220, 40, 40],
  green: [40, 170, 70],
  blue: [40, 90, 230],
  yellow: [240, 210, 40],
  purple: [150, 60, 200],
  orange: [250, 140, 30],
  white: [245, 245, 245],
  gray: [128, 128, 128],
  black: [0, 0, 0],
};

/** A palette colour in the image's [-1, 1] range. */
export function colorValue(color: BackgroundColor): [number, number, number] {
  const [r, g, b] = PALETTE[color];
  return [r / 127.5 - 1, g / 127.5 - 1, b / 127.5 - 1];
}

function boxDistance(x: number, y: number, halfWidth: number, halfHeight: number): number {
  const qx = Math.abs(x) - halfWidth;
  const qy = Math.abs(y) - halfHeight;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0);
}

// Exact distance to the triangle apex (0, -h), base (-h, h) and (h, h): the y axis points down, so the apex is up.
// (The general three-edge form of Inigo Quilez's sdTriangle.)
function triangleDistance(x: number, y: number, h: number): number {
  const corners = [
    [0, -h],
    [h, h],
    [-h, h],
  ] as const;
  let nearest = Infinity;
  let inside = true;
  for (let i = 0; i < 3; i++) {
    const [ax, ay] = corners[i]!;
    const [bx, by] = corners[(i + 1) % 3]!;
    const ex = bx - ax;
    const ey = by - ay;
    const vx = x - ax;
    const vy = y - ay;
    const t = Math.min(1, Math.max(0, (vx * ex + vy * ey) / (ex * ex + ey * ey)));
    nearest = Math.min(nearest, Math.hypot(vx - ex * t, vy - ey * t));
    // Corners run clockwise on screen (y down), so the inside is where every cross product is non-negative.
    if (ex * vy - ey * vx < 0) inside = false;
  }
  return inside ? -nearest : nearest;
}

/** Signed distance in pixels from (x, y), relative to the object's centre, to a shape whose box is 2h across. */
export function shapeDistance(shape: Shape, x: number, y: number, h: number): number {
  switch (shape) {
    case 'circle':
      return Math.hypot(x, y) - h;
    case 'square':
      return boxDistance(x, y, h, h);
    case 'triangle':
      return triangleDistance(x, y, h);
    case 'cross':
      // Arms a third of the size thick: the union of a wide and a tall bar.
      return Math.min(boxDistance(x, y, h, h / 3), boxDistance(x, y, h / 3, h));
  }
}

function drawObject(object: SceneObject, out: Float32Array, offset: number): void {
  const h = EXTENT[object.size] / 2;
  const [r, g, b] = colorValue(object.color);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  const x0 = Math.max(0, Math.floor(object.centerX - h - 1));
  const x1 = Math.min(IMAGE_SIZE - 1, Math.ceil(object.centerX + h + 1));
  const y0 = Math.max(0, Math.floor(object.centerY - h - 1));
  const y1 = Math.min(IMAGE_SIZE - 1, Math.ceil(object.centerY + h + 1));
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const d = shapeDistance(object.shape, px + 0.5 - object.centerX, py + 0.5 - object.centerY, h);
      const coverage = Math.min(1, Math.max(0, 0.5 - d));
      if (coverage === 0) continue;
      const i = offset + py * IMAGE_SIZE + px;
      out[i] = out[i]! + (r - out[i]!) * coverage;
      out[i + plane] = out[i + plane]! + (g - out[i + plane]!) * coverage;
      out[i + 2 * plane] = out[i + 2 * plane]! + (b - out[i + 2 * plane]!) * coverage;
    }
  }
}

/** Draws the scene into out[offset .. offset + 3072) (one CHW image). Same scene, same bytes. */
export function renderSceneInto(scene: Scene, out: Float32Array, offset = 0): void {
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  colorValue(scene.background).forEach((value, channel) => out.fill(value, offset + channel * plane, offset + (channel + 1) * plane));
  for (const object of scene.objects) drawObject(object, out, offset);
}

export function renderScene(scene: Scene): Float32Array {
  const image = new Float32Array(IMAGE_NUMEL);
  renderSceneInto(scene, image);
  return image;
}

/**
 * Generated CHW floats as the 8-bit picture a user gets (toRGBA, a PNG), back in [-1, 1]: each value clamped and
 * rounded to b / 127.5 - 1 for its byte b. What an evaluation of generated images must score: a sampler's raw x0 can
 * leave [-1, 1] (a third of the values of a 4-step Shapes student do, just below -1 on black), which the picture
 * clamps away but the attribute evaluator, trained on rendered images, reads as a different colour.
 */
export function asDisplayed(images: Float32Array): Float32Array {
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = toByte(images[i]!) / 127.5 - 1;
  return out;
}

/** A value in [-1, 1] as its 8-bit level: clamped, round((v + 1) * 127.5) (what toRGBA stores and asDisplayed reads back). */
function toByte(value: number): number {
  return Math.min(255, Math.max(0, Math.round((value + 1) * 127.5)));
}

/**
 * CHW floats in [-1, 1] -> RGBA bytes, row-major, for ImageData / a canvas / a PNG (1 channel: grey; 3 or more: the
 * first three). The app's pictures and the evaluation's (asDisplayed) go through the same toByte.
 */
export function toRGBA(chw: ArrayLike<number>, channels = 3, width = IMAGE_SIZE, height = IMAGE_SIZE): Uint8ClampedArray {
  const plane = width * height;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = toByte(chw[Math.min(c, channels - 1) * plane + p]!);
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}
