// A small generated image drawn crisp: its pixels go into a canvas at native size, and CSS scales the canvas by a
// whole factor with nearest-neighbour sampling (image-rendering: pixelated), so a 32x32 image shows as 8x8 blocks.
import { useEffect, useRef, useState } from 'react';

export function PixelImage({ rgba, width, height, size, label }: { rgba: Uint8ClampedArray; width: number; height: number; /** Target display size in CSS pixels (largest side). */ size: number; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const context = ref.current?.getContext('2d');
    if (!context || rgba.length !== width * height * 4) return;
    context.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  }, [rgba, width, height]);
  const scale = Math.max(1, Math.floor(size / Math.max(width, height)));
  return <canvas ref={ref} className="pixelated" width={width} height={height} role="img" aria-label={label} style={{ width: width * scale, height: height * scale }} />;
}

/** An object URL for bytes or a Blob (null until it is made), revoked when they change or the component goes. */
export function useObjectUrl(data: Uint8Array | Blob | null, type = 'image/png'): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!data) {
      setUrl(null);
      return;
    }
    const made = URL.createObjectURL(data instanceof Blob ? data : new Blob([data as Uint8Array<ArrayBuffer>], { type }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [data, type]);
  return url;
}
