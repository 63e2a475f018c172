// A scatter of 2D points as an RGBA image, in plain TypeScript (no canvas: it runs in the generation worker and in
// Node), so that a points bundle's samples travel through the Generate tab like any image: the history, the PNG
// download with its settings, the comparison.
//
// The view is the Distill tab's ([-3, 3]^2, y up, DistillScatter.tsx): a dark background, faint lines at the integer
// coordinates, brighter axes through 0. Each point adds a small 3x3 splat to a density buffer (weights 1 at the
// centre, 1/2 at the sides, 1/4 at the corners), and a pixel's colour follows its density: one point is a dim blue
// dot, a crowded mode saturates to near white, so where the samples pile up shows as it does in a histogram.
// Pure arithmetic on the points: the same points give the same bytes in Node and in every browser.

/** Side of the image in pixels. */
export const POINTS_IMAGE_SIZE = 256;
/** The view is [-POINTS_RANGE, POINTS_RANGE] on both axes. */
export const POINTS_RANGE = 3;

const BACKGROUND = [13, 15, 20] as const;
const GRID = [42, 47, 58] as const; // DistillScatter's grid colour
const AXIS = [90, 97, 112] as const;
const POINT = [122, 162, 255] as const; // DistillScatter's student colour
const DENSE = [236, 241, 255] as const;
/** Density at which one dot reaches 1 - 1/e of the point colour, and at which a pile reaches 1 - 1/e of white. */
const DOT_DENSITY = 1;
const PILE_DENSITY = 24;

export interface PointsImageOptions {
  /** Default POINTS_IMAGE_SIZE. */
  size?: number;
  /** Default POINTS_RANGE. */
  range?: number;
}

/** The continuous pixel coordinate of a value: column from x, row from y (y up). */
function toPixel(value: number, range: number, size: number): number {
  return ((value + range) / (2 * range)) * size;
}

/** Background, grid and axes as RGB floats, [size * size * 3]. */
function backdrop(size: number, range: number): Float32Array {
  const rgb = new Float32Array(size * size * 3);
  for (let p = 0; p < size * size; p++) rgb.set(BACKGROUND, p * 3);
  const line = (pixel: number, horizontal: boolean, colour: readonly number[]) => {
    const at = Math.min(size - 1, Math.max(0, Math.floor(pixel)));
    for (let i = 0; i < size; i++) rgb.set(colour, (horizontal ? at * size + i : i * size + at) * 3);
  };
  for (let k = Math.ceil(-range); k <= Math.floor(range); k++) {
    const colour = k === 0 ? AXIS : GRID;
    line(toPixel(k, range, size), false, colour); // x = k
    line(toPixel(-k, range, size), true, colour); // y = k (rows count down from +range)
  }
  return rgb;
}

/**
 * RGBA bytes (size x size, row-major, alpha 255) of `points` [n, dims], drawn from their first two coordinates
 * (x, y); points outside the view or not finite are left out.
 */
export function rasterizePoints(points: ArrayLike<number>, dims: number, options: PointsImageOptions = {}): Uint8ClampedArray {
  const size = options.size ?? POINTS_IMAGE_SIZE;
  const range = options.range ?? POINTS_RANGE;
  if (!Number.isInteger(dims) || dims < 2) throw new Error(`a scatter needs points of 2 or more coordinates, got ${dims}`);
  if (points.length % dims !== 0) throw new Error(`${points.length} values are not whole points of ${dims} coordinates`);
  const density = new Float32Array(size * size);
  const weights = [0.5, 1, 0.5];
  for (let i = 0; i < points.length; i += dims) {
    const column = Math.floor(toPixel(points[i]!, range, size));
    const row = Math.floor(toPixel(-points[i + 1]!, range, size));
    if (!(column >= 0 && column < size && row >= 0 && row < size)) continue;
    for (let dy = -1; dy <= 1; dy++) {
      const y = row + dy;
      if (y < 0 || y >= size) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const x = column + dx;
        if (x >= 0 && x < size) density[y * size + x]! += weights[dy + 1]! * weights[dx + 1]!;
      }
    }
  }
  const rgb = backdrop(size, range);
  const rgba = new Uint8ClampedArray(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    const d = density[p]!;
    const dot = 1 - Math.exp(-d / DOT_DENSITY);
    const pile = 1 - Math.exp(-d / PILE_DENSITY);
    for (let c = 0; c < 3; c++) {
      const lit = rgb[p * 3 + c]! + dot * (POINT[c]! - rgb[p * 3 + c]!);
      rgba[p * 4 + c] = lit + pile * (DENSE[c]! - lit);
    }
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}
