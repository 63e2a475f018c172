// A uPlot chart owned by a React component: made when its container mounts (as wide as the container), resized
// with it, destroyed on unmount. Data goes in through `update`, which a component calls from an effect (low-rate
// data in React state) or from a store subscription (per-iteration data, STYLE.md transient updates). A chart off
// screen keeps only the latest data and draws it when it scrolls back into view (figures pause off-screen).
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface PlotHandle {
  /** The callback ref of the element the chart goes in. */
  ref: (element: HTMLDivElement | null) => void;
  /** The data to draw (kept, and drawn when the chart is on screen). */
  update(data: uPlot.AlignedData): void;
  /** Draws again with the same data (a drawing option held outside the data changed). */
  redraw(): void;
}

export type PlotSize = { height: number } | { square: true; maxWidth: number };

function dimensions(size: PlotSize, width: number): { width: number; height: number } {
  if ('square' in size) {
    const side = Math.max(160, Math.min(width, size.maxWidth));
    return { width: side, height: side };
  }
  return { width: Math.max(160, width), height: size.height };
}

/** Data with no points, shaped for the options' series (mode 2: one [xs, ys] per series). */
function emptyData(options: Omit<uPlot.Options, 'width' | 'height'>): uPlot.AlignedData {
  return (options.mode === 2 ? [null, ...options.series.slice(1).map(() => [[], []])] : options.series.map(() => [])) as unknown as uPlot.AlignedData;
}

/** A new `options` object makes a new chart: memoize it. */
export function usePlot(options: Omit<uPlot.Options, 'width' | 'height'>, size: PlotSize): PlotHandle {
  const [container, setContainer] = useState<HTMLDivElement | null>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef<uPlot.AlignedData | null>(null);
  const visible = useRef(true);
  const dirty = useRef(false);
  const sizeKey = JSON.stringify(size);

  useEffect(() => {
    if (!container) return;
    const wanted = JSON.parse(sizeKey) as PlotSize;
    // Data kept for an older chart fits this one only if it has a column per series (new options may add series).
    const fits = latest.current !== null && latest.current.length === options.series.length;
    const chart = new uPlot({ ...options, ...dimensions(wanted, container.clientWidth) }, fits ? latest.current! : emptyData(options), container);
    plot.current = chart;
    dirty.current = false;
    const resize = new ResizeObserver(() => {
      const next = dimensions(wanted, container.clientWidth);
      if (next.width !== chart.width || next.height !== chart.height) chart.setSize(next);
    });
    resize.observe(container);
    const intersection = new IntersectionObserver((entries) => {
      visible.current = entries.some((entry) => entry.isIntersecting);
      if (visible.current && dirty.current && latest.current) {
        dirty.current = false;
        chart.setData(latest.current);
      }
    });
    intersection.observe(container);
    return () => {
      resize.disconnect();
      intersection.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [container, options, sizeKey]);

  const update = useCallback((data: uPlot.AlignedData) => {
    latest.current = data;
    if (plot.current && visible.current) plot.current.setData(data);
    else dirty.current = true;
  }, []);

  const redraw = useCallback(() => {
    if (plot.current && visible.current) plot.current.redraw(true);
    else dirty.current = true;
  }, []);

  return useMemo(() => ({ ref: setContainer, update, redraw }), [update, redraw]);
}
