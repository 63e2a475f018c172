// High-frequency energy of images: the mean over images, channels and pixels of |x - box3(x)| on the 0-255 scale, box3
// being the 3x3 mean with the edge pixels repeated. A flat region scores 0 and an anti-aliased edge a little; pixel
// noise or a dotted texture raises it everywhere. It is how the dotted texture of a few-step student's samples
// (docs/ARCHITECTURE.md, "The 4-step texture") is measured: FD to the teacher sees it only mixed with everything else.
// Read it against the teacher's images and real renders of the same evaluation, not on its own.
// Cost: 9 reads per pixel on the CPU: ~70 ms for 1,000 images of 3x32x32 in Node on a 2-core development machine
// (measured while a test run shared it), negligible beside generating them.

/** `images`: `count` images [channels, height, width] in [-1, 1], one after another. */
export function highFrequency(images: Float32Array, channels: number, height: number, width: number): number {
  const plane = height * width;
  const planes = images.length / plane;
  if (!Number.isInteger(planes / channels) || planes === 0) {
    throw new Error(`highFrequency: ${images.length} values are not whole images of ${channels}x${height}x${width}`);
  }
  let total = 0;
  for (let base = 0; base < images.length; base += plane) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let box = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const row = base + Math.min(height - 1, Math.max(0, y + dy)) * width;
          for (let dx = -1; dx <= 1; dx++) box += images[row + Math.min(width - 1, Math.max(0, x + dx))]!;
        }
        total += Math.abs(images[base + y * width + x]! - box / 9);
      }
    }
  }
  return (total / images.length) * 127.5; // [-1, 1] -> [0, 255] scales differences by 127.5
}
