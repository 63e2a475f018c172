// Writes images [N, 3, H, W] in [-1, 1] as one grid picture (PNG through fast-png), 2-pixel grey gaps between
// them, each pixel drawn as a zoom x zoom block so a 32x32 image can be looked at.
import { encode as encodePng } from 'fast-png';
import { writeOutput } from './output';

export interface GridOptions {
  columns: number;
  /** Pixels per image pixel (nearest neighbour). */
  zoom?: number;
  channels?: number;
  size?: number;
}

export function gridPixels(images: Float32Array, options: GridOptions): { width: number; height: number; rgb: Uint8Array } {
  const { columns, zoom = 4, channels = 3, size = 32 } = options;
  const count = images.length / (channels * size * size);
  if (!Number.isInteger(count)) throw new Error(`imageGrid: ${images.length} values are not a whole number of [${channels}, ${size}, ${size}] images`);
  const gap = 2;
  const rows = Math.ceil(count / columns);
  const cell = size * zoom + gap;
  const width = columns * cell + gap;
  const height = rows * cell + gap;
  const rgb = new Uint8Array(width * height * 3).fill(128);
  for (let n = 0; n < count; n++) {
    const [ox, oy] = [gap + (n % columns) * cell, gap + Math.floor(n / columns) * cell];
    for (let y = 0; y < size * zoom; y++)
      for (let x = 0; x < size * zoom; x++)
        for (let c = 0; c < 3; c++) {
          const value = images[((n * channels + Math.min(c, channels - 1)) * size + Math.floor(y / zoom)) * size + Math.floor(x / zoom)]!;
          rgb[((oy + y) * width + ox + x) * 3 + c] = Math.round(Math.min(1, Math.max(0, (value + 1) / 2)) * 255);
        }
  }
  return { width, height, rgb };
}

/** Writes the grid to `path` as PNG (fast-png) or, for a .ppm path, binary PPM; returns the path. */
export function writeImageGrid(path: string, images: Float32Array, options: GridOptions): string {
  const { width, height, rgb } = gridPixels(images, options);
  if (path.endsWith('.ppm')) {
    const header = new TextEncoder().encode(`P6\n${width} ${height}\n255\n`);
    writeOutput(path, Buffer.concat([header, rgb]));
  } else {
    writeOutput(path, encodePng({ width, height, data: rgb, channels: 3, depth: 8 }));
  }
  return path;
}

/**
 * 2D point sets side by side (one panel each, e.g. one per label), 256 x 256 pixels per panel covering
 * [-extent, extent]^2 with y up; each point a white pixel, the axes grey.
 */
export function writeScatter(path: string, panels: readonly Float32Array[], options: { extent: number; size?: number }): string {
  const size = options.size ?? 256;
  const gap = 2;
  const width = panels.length * (size + gap) + gap;
  const height = size + 2 * gap;
  const rgb = new Uint8Array(width * height * 3).fill(64);
  panels.forEach((points, p) => {
    const ox = gap + p * (size + gap);
    const put = (x: number, y: number, value: number) => {
      if (x < 0 || y < 0 || x >= size || y >= size) return;
      rgb.fill(value, ((gap + y) * width + ox + x) * 3, ((gap + y) * width + ox + x) * 3 + 3);
    };
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) put(x, y, x === size / 2 || y === size / 2 ? 40 : 0);
    const toPixel = (v: number) => Math.floor(((v + options.extent) / (2 * options.extent)) * size);
    for (let i = 0; i + 1 < points.length; i += 2) put(toPixel(points[i]!), size - 1 - toPixel(points[i + 1]!), 255);
  });
  writeOutput(path, encodePng({ width, height, data: rgb, channels: 3, depth: 8 }));
  return path;
}
