// The Distill tab's main figure: the teacher's samples, the student's samples at 1, 2 or 4 steps, and on each
// student sample its DMD update arrow (GAN Lab draws the generator's gradient the same way); on request the paths of
// some samples through the student's steps (distillTrajectories.ts) and the fake score's own samples. A uPlot scatter
// (mode 2, one [xs, ys] per series) whose points and arrows are drawn by path builders onto its canvas, so
// thousands of points cost one fill per series. It draws from the store's state (never from time).
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import { MIXTURES } from '../data/toy2d';
import { useDistill } from '../state/distill';
import { type DistillFigure, isShapesFigure, isToyTask, type PointSet } from '../workers/distillApi';
import { type ShownTrajectories, shownTrajectories, TRAJECTORY_COLORS, trajectoryPaths } from './distillTrajectories';
import { usePlot } from './usePlot';

const RANGE: [number, number] = [-3, 3];
const COLORS = { teacher: 'rgba(226, 230, 240, 0.5)', student: '#7aa2ff', arrow: 'rgba(240, 179, 90, 0.75)', fake: 'rgba(111, 211, 168, 0.7)', axis: '#9aa3b2', grid: '#2a2f3a' };
export const ARROW_SCALES = [1, 3, 10] as const;

interface Arrows {
  /** [n, 2] of the shown student points. */
  vectors: Float32Array;
  scale: number;
}

/** Squares of `size` CSS pixels at each point of the series. */
function dots(size: number): uPlot.Series.PathBuilder {
  return (u, seriesIndex) => {
    uPlot.orient(u, seriesIndex, (series, _dx, _dy, scaleX, scaleY, valToPosX, valToPosY, xOff, yOff, xDim, yDim) => {
      const [xs, ys] = u.data[seriesIndex] as unknown as [ArrayLike<number>, ArrayLike<number>];
      const side = size * uPlot.pxRatio;
      const path = new Path2D();
      for (let i = 0; i < xs.length; i++) {
        const cx = valToPosX(xs[i]!, scaleX, xDim, xOff);
        const cy = valToPosY(ys[i]!, scaleY, yDim, yOff);
        path.rect(cx - side / 2, cy - side / 2, side, side);
      }
      u.ctx.save();
      u.ctx.fillStyle = series.stroke ? (typeof series.stroke === 'function' ? series.stroke(u, seriesIndex) : series.stroke) as string : COLORS.student;
      u.ctx.fill(path);
      u.ctx.restore();
    });
    return null;
  };
}

/** From each point of the series, a line along its vector times the scale, with a small head. */
function arrowPaths(arrows: { current: Arrows | null }): uPlot.Series.PathBuilder {
  return (u, seriesIndex) => {
    const current = arrows.current;
    if (!current) return null;
    uPlot.orient(u, seriesIndex, (_series, _dx, _dy, scaleX, scaleY, valToPosX, valToPosY, xOff, yOff, xDim, yDim) => {
      const [xs, ys] = u.data[seriesIndex] as unknown as [ArrayLike<number>, ArrayLike<number>];
      const head = 3 * uPlot.pxRatio;
      const path = new Path2D();
      for (let i = 0; i < xs.length; i++) {
        const x0 = valToPosX(xs[i]!, scaleX, xDim, xOff);
        const y0 = valToPosY(ys[i]!, scaleY, yDim, yOff);
        const x1 = valToPosX(xs[i]! + current.scale * current.vectors[2 * i]!, scaleX, xDim, xOff);
        const y1 = valToPosY(ys[i]! + current.scale * current.vectors[2 * i + 1]!, scaleY, yDim, yOff);
        const length = Math.hypot(x1 - x0, y1 - y0);
        if (length < 0.5) continue;
        path.moveTo(x0, y0);
        path.lineTo(x1, y1);
        if (length > 2 * head) {
          const ux = (x1 - x0) / length;
          const uy = (y1 - y0) / length;
          path.moveTo(x1 - head * (ux - 0.6 * uy), y1 - head * (uy + 0.6 * ux));
          path.lineTo(x1, y1);
          path.lineTo(x1 - head * (ux + 0.6 * uy), y1 - head * (uy - 0.6 * ux));
        }
      }
      u.ctx.save();
      u.ctx.strokeStyle = COLORS.arrow;
      u.ctx.lineWidth = uPlot.pxRatio;
      u.ctx.stroke(path);
      u.ctx.restore();
    });
    return null;
  };
}

/** The points of the chosen label (or all), split into x and y columns. */
function columns(set: PointSet, label: number | 'all'): { xs: Float32Array; ys: Float32Array; index: number[] } {
  const index: number[] = [];
  for (let i = 0; i < set.labels.length; i++) if (label === 'all' || set.labels[i] === label) index.push(i);
  return { xs: Float32Array.from(index, (i) => set.points[2 * i]!), ys: Float32Array.from(index, (i) => set.points[2 * i + 1]!), index };
}

/** What the figure's check boxes add to it (local to the figure, not kept across reloads). */
interface Extras {
  trajectories: boolean;
  fakeScore: boolean;
}

interface ScatterData {
  /** Series: teacher, fake score, trajectories (their start), DMD update, student. */
  data: uPlot.AlignedData;
  arrows: Arrows | null;
  trajectories: ShownTrajectories | null;
  shown: number;
}

function scatterData(teacher: PointSet | null, figure: DistillFigure | null, steps: number, label: number | 'all', arrowScale: number, showArrows: boolean, extras: Extras): ScatterData {
  const none = { xs: new Float32Array(), ys: new Float32Array() };
  const empty = [[], []];
  const t = teacher ? columns(teacher, label) : none;
  const student = figure?.students.find((s) => s.steps === steps);
  if (!figure || !student) return { data: [null, [t.xs, t.ys], empty, empty, empty, empty] as unknown as uPlot.AlignedData, arrows: null, trajectories: null, shown: 0 };
  const s = columns({ points: student.points, labels: figure.labels }, label);
  const vectors = Float32Array.from(s.index.flatMap((i) => [student.arrows[2 * i]!, student.arrows[2 * i + 1]!]));
  const arrowSeries = showArrows ? [s.xs, s.ys] : empty;
  const fake = extras.fakeScore && figure.fakeScore ? columns({ points: figure.fakeScore.points, labels: figure.labels }, label) : null;
  const paths = extras.trajectories && student.trajectories ? shownTrajectories(student.trajectories, figure.labels, label) : null;
  return {
    data: [null, [t.xs, t.ys], fake ? [fake.xs, fake.ys] : empty, paths ? [paths.xs, paths.ys] : empty, arrowSeries, [s.xs, s.ys]] as unknown as uPlot.AlignedData,
    arrows: { vectors, scale: arrowScale },
    trajectories: paths?.shown ?? null,
    shown: s.xs.length,
  };
}

export function DistillScatter() {
  const teacher = useDistill((s) => s.teacher);
  const figure = useDistill((s) => (s.figure && !isShapesFigure(s.figure) ? s.figure : null));
  const view = useDistill((s) => s.view);
  const stepCounts = useDistill((s) => s.stepCounts);
  const task = useDistill((s) => {
    const name = s.run.identity?.task ?? s.form.task;
    return isToyTask(name) ? name : 'ring'; // the tab shows this figure for the toy tasks only
  });
  const setView = useDistill((s) => s.setView);
  const arrows = useRef<Arrows | null>(null);
  const trajectories = useRef<ShownTrajectories | null>(null);
  const extras: Extras = useMemo(() => ({ trajectories: view.trajectories, fakeScore: view.fakeScore }), [view.trajectories, view.fakeScore]);

  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      mode: 2,
      cursor: { show: false, drag: { x: false, y: false } },
      legend: { show: true, live: false },
      scales: { x: { time: false, auto: false, range: RANGE }, y: { auto: false, range: RANGE } },
      axes: [
        { stroke: COLORS.axis, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 } },
        { stroke: COLORS.axis, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1 } },
      ],
      series: [
        {},
        { label: 'Teacher', stroke: COLORS.teacher, fill: COLORS.teacher, paths: dots(2.5), points: { show: false } },
        { label: 'Fake score', stroke: COLORS.fake, fill: COLORS.fake, paths: dots(2.5), points: { show: false } },
        { label: 'Trajectories', stroke: TRAJECTORY_COLORS.jump, paths: trajectoryPaths(trajectories), points: { show: false } },
        { label: 'DMD update', stroke: COLORS.arrow, paths: arrowPaths(arrows), points: { show: false } },
        { label: 'Student', stroke: COLORS.student, fill: COLORS.student, paths: dots(3), points: { show: false } },
      ],
    }),
    [],
  );
  const plot = usePlot(options, { square: true, maxWidth: 420 });
  const { data, arrows: nextArrows, trajectories: nextTrajectories, shown } = useMemo(
    () => scatterData(teacher, figure, view.steps, view.label, view.arrowScale, view.arrows, extras),
    [teacher, figure, view, extras],
  );
  useEffect(() => {
    arrows.current = nextArrows;
    trajectories.current = nextTrajectories;
    plot.update(data);
  }, [data, nextArrows, nextTrajectories, plot]);

  const labels = MIXTURES[task].labels;
  const caption = figure ? `iteration ${figure.iteration}, ${view.steps}-step student, ${shown} samples` : 'the student appears when a run starts';
  const anchors = figure?.students.find((s) => s.steps === view.steps)?.trajectories?.anchors ?? [];
  const paths = figure?.students[0]?.trajectories?.index.length ?? 48;
  const fakeSteps = figure?.fakeScore?.steps ?? 16;
  return (
    <figure className="distill-figure scatter" aria-labelledby="distill-scatter-title" data-iteration={figure?.iteration ?? ''}>
      <div className="figure-head">
        <h4 id="distill-scatter-title">Teacher and student samples</h4>
        <div className="figure-controls">
          <label className="field">
            <span>Student steps</span>
            <select value={view.steps} onChange={(e) => setView({ steps: Number(e.target.value) })}>
              {stepCounts.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Label</span>
            <select value={String(view.label)} onChange={(e) => setView({ label: e.target.value === 'all' ? 'all' : Number(e.target.value) })}>
              <option value="all">all labels</option>
              {labels.map((l, i) => (
                <option key={l.name} value={i}>
                  {l.name}
                </option>
              ))}
            </select>
          </label>
          <label className="check">
            <input type="checkbox" checked={view.arrows} onChange={(e) => setView({ arrows: e.target.checked })} />
            DMD arrows
          </label>
          <label className="field">
            <span>Arrow length</span>
            <select value={view.arrowScale} onChange={(e) => setView({ arrowScale: Number(e.target.value) })}>
              {ARROW_SCALES.map((k) => (
                <option key={k} value={k}>
                  ×{k}
                </option>
              ))}
            </select>
          </label>
          <label className="check">
            <input type="checkbox" checked={extras.trajectories} onChange={(e) => setView({ trajectories: e.target.checked })} />
            Trajectories
          </label>
          <label className="check">
            <input type="checkbox" checked={extras.fakeScore} onChange={(e) => setView({ fakeScore: e.target.checked })} />
            Fake score's samples
          </label>
        </div>
      </div>
      <div className="figure-body">
        <div ref={plot.ref} className="plot" role="img" aria-label={`Scatter plot of the teacher's samples and the student's (${caption})`} />
        <figcaption className="explain">
          <p className="figure-status">{caption[0]!.toUpperCase() + caption.slice(1)}.</p>
          <p>
            Grey: the teacher's samples (100 Euler steps of its flow). Blue: the student's, {view.steps === 1 ? 'in one step' : `in ${view.steps} steps`} from
            a fixed set of noises, so you can watch the same points move. At the start the student is a copy of the teacher, whose single step lands
            on the average of the modes, not on them.
          </p>
          <p>
            Orange: the DMD update of each student sample x. DMD noises it, x<sub>s</sub> = (1 − s) x + s ε, and asks two denoisers where its clean
            version is: the teacher (the real score) and the fake score, a copy trained all along on the student's own samples. The generator
            moves x along x̂<sub>0</sub><sup>real</sup>(x<sub>s</sub>) − x̂<sub>0</sub><sup>fake</sup>(x<sub>s</sub>), drawn here averaged over
            s = 0.3, 0.5, 0.7: toward the data, away from where the student already is. The arrows are zero at the start, when all three
            networks are the teacher, and shrink again as the student matches it.
          </p>
          <p>
            Purple: the trajectories of {paths} of the student's samples through its {view.steps === 1 ? 'single step' : `${view.steps} steps`}
            {anchors.length > 0 && <> (anchors s = {anchors.map((a) => Number(a.toFixed(3))).join(', ')})</>}. Each step is a jump and, between steps, a
            renoise: from x<sub>j</sub> at the anchor s<sub>j</sub> the student jumps to its estimate of the clean point, x̂<sub>0</sub> = x<sub>j</sub> − s
            <sub>j</sub> v(x<sub>j</sub>) (solid line, a dot where it lands), then the sampler mixes fresh noise back in, x<sub>j+1</sub> = (1 −
            s<sub>j+1</sub>) x̂<sub>0</sub> + s<sub>j+1</sub> ε (dashed), and the next step starts there. The last estimate is the sample. In one
            step the path is a single straight jump from the noise; with more, each renoise keeps less fresh noise (s falls), so the jumps
            shorten as the sample settles. Choose a label to follow a few paths.
          </p>
          <p>
            Green: the fake score's own samples, {fakeSteps} Euler steps of its flow, x ← x + (s′ − s) v<sub>fake</sub>(x), from the same noises and
            labels, without guidance (it is trained without). They are the distribution the fake score believes the student makes, the one DMD
            subtracts: at the start they are the teacher's (the fake score is a copy of it); as it trains on the student's outputs (from every
            anchor), and IDA pulls it toward the generator after each of its steps, they leave the teacher's and follow the student's. Where green
            and blue part, the fake score is behind the student, and its error goes straight into the arrows. They are computed only while
            shown (they cost about a third of a figure){view.fakeScore && figure && !figure.fakeScore ? ': they appear with the next figure' : ''}.
          </p>
        </figcaption>
      </div>
    </figure>
  );
}
