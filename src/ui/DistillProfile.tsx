// The teacher's normalised reconstruction error over the noise level (distill/timestepProfile.ts), with the
// student's anchors as vertical lines and the segment ISG trained on at the last generator step shaded: where the
// teacher's denoising work happens, how the anchors cut it into jumps, and which jump ISG is teaching now.
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import { trainingAnchors } from '../distill/config';
import { distillMetrics, useDistill } from '../state/distill';
import { formIdentity } from '../state/distillSettings';
import { usePlot } from './usePlot';

const COLORS = { line: '#7aa2ff', anchor: 'rgba(240, 179, 90, 0.9)', segment: 'rgba(240, 179, 90, 0.18)', axis: '#9aa3b2', grid: '#2a2f3a' };
const AXIS = { stroke: COLORS.axis, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 } };

interface Marks {
  anchors: number[];
  /** [low, high] of the segment ISG trained on last, or null before the first generator step (or with ISG off). */
  segment: [number, number] | null;
}

/** Vertical lines at the anchors and a band over the segment, drawn under the curve. */
function drawMarks(marks: { current: Marks }): (u: uPlot) => void {
  return (u) => {
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    const segment = marks.current.segment;
    if (segment) {
      const x0 = u.valToPos(segment[0], 'x', true);
      const x1 = u.valToPos(segment[1], 'x', true);
      ctx.fillStyle = COLORS.segment;
      ctx.fillRect(Math.min(x0, x1), top, Math.abs(x1 - x0), height);
    }
    ctx.strokeStyle = COLORS.anchor;
    ctx.lineWidth = uPlot.pxRatio;
    ctx.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
    for (const a of marks.current.anchors) {
      const x = Math.round(u.valToPos(a, 'x', true)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
    }
    ctx.restore();
  };
}

export function ProfileChart() {
  const profile = useDistill((s) => s.profile);
  const runConfig = useDistill((s) => s.run.identity?.config ?? null);
  const form = useDistill((s) => s.form);
  const config = useMemo(() => runConfig ?? formIdentity(form)?.config ?? null, [runConfig, form]);
  const isgOn = (config?.isgWeight ?? 0) > 0;
  const anchors = useMemo(() => (config ? trainingAnchors(config) : []), [config]);
  const marks = useRef<Marks>({ anchors, segment: null });
  const figure = useRef<HTMLElement | null>(null);

  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: false },
      scales: { x: { time: false, auto: false, range: [0, 1] }, y: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [{ ...AXIS, label: 'noise level s' }, { ...AXIS, size: 48 }],
      series: [{ label: 's' }, { label: 'reconstruction error e(s)', stroke: COLORS.line, width: 1.5, points: { show: false } }],
      hooks: { drawClear: [drawMarks(marks)] },
    }),
    [],
  );
  const plot = usePlot(options, { height: 190 });

  useEffect(() => {
    marks.current = { ...marks.current, anchors };
    plot.update(profile ? [profile.sigmas, profile.error] : [[], []]);
  }, [profile, anchors, plot]);

  // The segment follows the metrics (the last generator step's anchor), without re-rendering React.
  useEffect(() => {
    const follow = () => {
      const trained = config ? distillMetrics.lastIsgSegment(config) : null;
      const segment = trained?.segment ?? null;
      if (trained) figure.current?.setAttribute('data-segment', `${trained.anchorIndex}`);
      else figure.current?.removeAttribute('data-segment');
      const before = marks.current.segment;
      if (before?.[0] === segment?.[0] && before?.[1] === segment?.[1]) return;
      marks.current = { ...marks.current, segment };
      plot.redraw();
    };
    follow();
    return useDistill.subscribe((state, previous) => {
      if (state.metricsVersion !== previous.metricsVersion) follow();
    });
  }, [plot, anchors, config]);

  return (
    <figure ref={figure} className="distill-figure chart" aria-labelledby="distill-profile-title" data-ready={profile ? 'true' : 'false'}>
      <h4 id="distill-profile-title">Where the teacher's denoising work is</h4>
      <div ref={plot.ref} className="plot" role="img" aria-label={`The teacher's reconstruction error over the noise level, with the ${anchors.length} anchors marked`} />
      <figcaption className="explain">
        The teacher's one-step estimate of a clean sample from its noised version x<sub>s</sub> = (1 − s) x<sub>0</sub> + s ε, x̂<sub>0</sub> = x
        <sub>s</sub> − s v(x<sub>s</sub>), and its error e(s) = E|x̂<sub>0</sub> − x<sub>0</sub>|² / E|x<sub>0</sub> − mean|² (0: perfect; 1: no better than
        the data's mean). Where the curve climbs, denoising does its work. Dashed: the student's anchors, where its few steps land; the shaded
        band is the segment ISG trained on at the last generator step. A student that jumps over a segment in one step must do all the work the
        curve climbs there; ISG teaches that jump from a teacher step to a point inside the segment, relocating the teacher's denoising into the
        student's steps{isgOn ? '' : ' (ISG is off in these settings: no band)'}
        {isgOn && config?.isgLastSegment === false ? ' (ISG is off the last segment in these settings: no band after a step at the last anchor)' : ''}
        {isgOn && config?.isgFirstSegment === false ? ' (ISG is off the first segment in these settings: no band after a step at the first anchor)' : ''}.
      </figcaption>
    </figure>
  );
}
