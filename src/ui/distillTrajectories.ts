// The student's sampler paths in the Distill tab's scatter (DistillScatter.tsx): for each drawn sample, its k steps of
// x0-renoise (shared/DESIGN.md), x_0 (the noise) -> x0_hat_0 -> x_1 -> ... -> x0_hat_{k-1} (the sample). A uPlot path
// builder like the DMD arrows: one stroke for every jump of the student (x_j -> x0_hat_j, solid), one for every renoise
// (x0_hat_j -> x_{j+1}, dashed), and a small dot on each intermediate estimate, so 48 paths cost three canvas calls.
import uPlot from 'uplot';
import type { StudentTrajectories } from '../workers/distillApi';

export const TRAJECTORY_COLORS = { jump: 'rgba(217, 140, 255, 0.6)', renoise: 'rgba(217, 140, 255, 0.35)' };

/** The paths to draw: rows of `points` ([m, 2k, 2]) in the order of the series' data. */
export interface ShownTrajectories {
  points: Float32Array;
  /** States per path: 2k. */
  states: number;
  /** For each point of the series' data, its row in `points`. */
  rows: number[];
}

/** The paths of the samples of one label (or all): the series' data is their starting noise x_0. */
export function shownTrajectories(trajectories: StudentTrajectories, labels: Uint32Array, label: number | 'all'): { shown: ShownTrajectories; xs: Float32Array; ys: Float32Array } {
  const states = 2 * trajectories.anchors.length;
  const rows: number[] = [];
  trajectories.index.forEach((i, row) => {
    if (label === 'all' || labels[i] === label) rows.push(row);
  });
  const xs = Float32Array.from(rows, (row) => trajectories.points[2 * row * states]!);
  const ys = Float32Array.from(rows, (row) => trajectories.points[2 * row * states + 1]!);
  return { shown: { points: trajectories.points, states, rows }, xs, ys };
}

export function trajectoryPaths(trajectories: { current: ShownTrajectories | null }): uPlot.Series.PathBuilder {
  return (u, seriesIndex) => {
    const current = trajectories.current;
    if (!current) return null;
    uPlot.orient(u, seriesIndex, (_series, _dx, _dy, scaleX, scaleY, valToPosX, valToPosY, xOff, yOff, xDim, yDim) => {
      const count = (u.data[seriesIndex] as unknown as [ArrayLike<number>])[0].length;
      const { points, states } = current;
      const at = (row: number, state: number): [number, number] => [
        valToPosX(points[2 * (row * states + state)]!, scaleX, xDim, xOff),
        valToPosY(points[2 * (row * states + state) + 1]!, scaleY, yDim, yOff),
      ];
      const jumps = new Path2D();
      const renoises = new Path2D();
      const estimates = new Path2D();
      const radius = 1.5 * uPlot.pxRatio;
      for (let i = 0; i < count; i++) {
        const row = current.rows[i]!;
        for (let state = 0; state + 1 < states; state++) {
          const [x0, y0] = at(row, state);
          const [x1, y1] = at(row, state + 1);
          const path = state % 2 === 0 ? jumps : renoises;
          path.moveTo(x0, y0);
          path.lineTo(x1, y1);
          if (state % 2 === 0 && state + 2 < states) {
            estimates.moveTo(x1 + radius, y1);
            estimates.arc(x1, y1, radius, 0, 2 * Math.PI);
          }
        }
      }
      const ctx = u.ctx;
      ctx.save();
      ctx.lineWidth = uPlot.pxRatio;
      ctx.strokeStyle = TRAJECTORY_COLORS.renoise;
      ctx.setLineDash([3 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
      ctx.stroke(renoises);
      ctx.setLineDash([]);
      ctx.strokeStyle = TRAJECTORY_COLORS.jump;
      ctx.stroke(jumps);
      ctx.fillStyle = TRAJECTORY_COLORS.jump;
      ctx.fill(estimates);
      ctx.restore();
    });
    return null;
  };
}
