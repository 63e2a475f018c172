// The ablation's figures: one metric against the iteration, a line per setting (the mean over seeds) with the
// seeds' min-max as a band, rendered headless to SVG by Vega-Lite (compiled to Vega, drawn by a renderer-less
// vega.View), so the axes, ticks and legend are the library's.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { SettingResult } from './ablationResults';

export interface FigureMetric {
  /** The results' metric key, e.g. 'energyDistance@1'. */
  key: string;
  /** Part of the file name: docs/figures/ablation-<task>[-stress]-<slug>.svg. */
  slug: string;
  title: string;
  /** Axis title. */
  axis: string;
  percent?: boolean;
  /** A log axis when every value is positive (errors that fall by orders of magnitude). */
  log?: boolean;
}

export interface FigureLine {
  /** The legend's name of the line (the setting's name). */
  name: string;
  setting: SettingResult;
}

/** The Vega-Lite specification of one figure. */
export function figureSpec(metric: FigureMetric, lines: readonly FigureLine[], subtitle: string): TopLevelSpec {
  const values = lines.flatMap(({ name, setting }) => (setting.curves[metric.key] ?? []).map((p) => ({ setting: name, iteration: p.iteration, mean: p.mean, min: p.min, max: p.max, seeds: p.n })));
  const log = metric.log === true && values.length > 0 && values.every((v) => v.min > 0);
  const y = { type: 'quantitative' as const, scale: log ? { type: 'log' as const, nice: false } : { zero: false }, ...(metric.percent ? { axis: { format: '.0%' } } : {}) };
  const color = { field: 'setting', type: 'nominal' as const, title: null, sort: lines.map((l) => l.name) };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: metric.title, subtitle },
    width: 560,
    height: 300,
    background: 'white',
    data: { values },
    encoding: { x: { field: 'iteration', type: 'quantitative', title: 'iteration' }, color },
    // Legend symbols as opaque strokes (the bands' opacity would make them faint).
    config: { legend: { symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2 } },
    layer: [
      { mark: { type: 'area', opacity: 0.15 }, encoding: { y: { ...y, field: 'min', title: metric.axis }, y2: { field: 'max' } } },
      { mark: { type: 'line', strokeWidth: 1.5, point: { size: 14 } }, encoding: { y: { ...y, field: 'mean', title: metric.axis } } },
    ],
  };
}

/** The figure as an SVG document. */
export async function renderFigure(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
