// The Distill tab's Shapes-32 figures: a grid of images, one column per fixed caption and seed, the teacher's on top
// and the student's at 1, 2 and 4 steps below (from the same noise, refreshed as training goes); and the curves of
// its evaluations: prompt accuracy and FD-T per step count, ||phi - theta||.
import { useMemo } from 'react';
import { useDistill } from '../state/distill';
import { type ImageGrid, isShapesEvaluation, isShapesFigure, type ShapesEvaluation } from '../workers/distillApi';
import { Chart, DISTANCE_SERIES, STEP_COLORS, useCurves, useRunCurves } from './DistillCharts';
import { PixelImage } from './PixelImage';

const SHOWN_SIZE = 80;

/** Image i of a [n, C, H, W] batch in [-1, 1] as RGBA bytes. */
export function imageRgba(images: Float32Array, index: number, channels: number, size: number): Uint8ClampedArray {
  const plane = size * size;
  const offset = index * channels * plane;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) rgba[4 * p + c] = Math.round(((images[offset + Math.min(c, channels - 1) * plane + p]! + 1) / 2) * 255);
    rgba[4 * p + 3] = 255;
  }
  return rgba;
}

function Row({ name, grid, images }: { name: string; grid: ImageGrid; images: Float32Array | null }) {
  return (
    <tr>
      <th scope="row">{name}</th>
      {grid.captions.map((caption, i) => (
        <td key={i}>{images ? <PixelImage rgba={imageRgba(images, i, grid.channels, grid.size)} width={grid.size} height={grid.size} size={SHOWN_SIZE} label={`${name}: ${caption}`} /> : <span className="placeholder" />}</td>
      ))}
    </tr>
  );
}

export function ShapesGrid() {
  const grid = useDistill((s) => s.teacherImages);
  const figure = useDistill((s) => (s.figure && isShapesFigure(s.figure) ? s.figure : null));
  const stepCounts = useDistill((s) => s.stepCounts);
  return (
    <figure className="distill-figure shapes-grid" aria-labelledby="distill-grid-title" data-iteration={figure?.iteration ?? ''}>
      <h4 id="distill-grid-title">Teacher and student images</h4>
      {grid ? (
        <table className="image-grid">
          <thead>
            <tr>
              <td />
              {grid.captions.map((caption, i) => (
                <th key={i} scope="col">
                  {caption}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <Row name="Teacher" grid={grid} images={grid.images} />
            {stepCounts.map((n) => (
              <Row key={n} name={n === 1 ? 'Student, 1 step' : `Student, ${n} steps`} grid={grid} images={figure?.students.find((s) => s.steps === n)?.images ?? null} />
            ))}
          </tbody>
        </table>
      ) : (
        <p className="figure-status">The images appear when a run starts.</p>
      )}
      <figcaption className="explain">
        <p className="figure-status">{figure ? `Iteration ${figure.iteration}.` : ''}</p>
        <p>
          Each column is one caption and one noise seed. Top: the teacher, {grid ? 'with classifier-free guidance at the middle of the guidance range' : ''}{' '}
          over many Euler steps. Below: the student from the same noise in 1, 2 and 4 steps (x0-renoise at its anchors). At iteration 0 the student is
          a copy of the teacher, and one step of a teacher gives a blurred average of every image the caption allows; distillation should sharpen
          the 1-step row toward the top one.
        </p>
      </figcaption>
    </figure>
  );
}

export function ShapesCharts() {
  const all = useDistill((s) => s.evaluations);
  const evaluations = useMemo(() => all.filter(isShapesEvaluation), [all]);
  const stepCounts = useDistill((s) => s.stepCounts);
  const teacherAccuracy = useDistill((s) => s.teacherImages?.promptAccuracy ?? null);
  const last = evaluations.at(-1)?.iteration ?? null;
  const accuracySeries = useMemo(() => stepCounts.map((n, i) => ({ label: `${n}-step`, color: STEP_COLORS[i % STEP_COLORS.length]!, pick: (e: ShapesEvaluation) => e.steps[String(n)]?.promptAccuracy })), [stepCounts]);
  const fdSeries = useMemo(() => stepCounts.map((n, i) => ({ label: `${n}-step`, color: STEP_COLORS[i % STEP_COLORS.length]!, pick: (e: ShapesEvaluation) => e.steps[String(n)]?.fdTeacher })), [stepCounts]);
  const accuracy = useCurves(useRunCurves(isShapesEvaluation, accuracySeries));
  const fd = useCurves(useRunCurves(isShapesEvaluation, fdSeries));
  const distance = useCurves(useRunCurves(isShapesEvaluation, DISTANCE_SERIES));
  return (
    <>
      <Chart id="distill-accuracy" title="Prompt accuracy" options={accuracy.options} data={accuracy.data} lastIteration={last}>
        The share of the student's images in which the attribute evaluator (a small network trained on the renderer's scenes) finds everything
        the caption states: each shape's colour, size and position, the background, on {evaluations.at(-1)?.captions ?? 'the evaluation\'s'} fixed
        captions and seeds per step count{teacherAccuracy === null ? '' : `; the teacher's images score ${(100 * teacherAccuracy).toFixed(0)}% on them`}. Our
        stand-in for GenEval.
      </Chart>
      <Chart id="distill-fdt" title="FD-T, Fréchet distance to the teacher" options={fd.options} data={fd.data} lastIteration={last}>
        The Fréchet distance between Gaussians fitted to the evaluator's features of the student's images and of the teacher's, on the same
        captions and seeds: |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½). 0 when the student makes the teacher's distribution. With tens of images in
        the evaluator's 96 feature dimensions it is a rough number: read its trend.
      </Chart>
      <Chart id="distill-distance" title="Fake score to generator distance ||φ − θ||" options={distance.options} data={distance.data} lastIteration={last}>
        The distance between the fake score's weights φ and the generator's θ. IDA's φ ← λφ + (1 − λ)θ after each generator step keeps it small.
      </Chart>
    </>
  );
}
