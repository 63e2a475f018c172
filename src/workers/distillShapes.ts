// A Distill tab run on Shapes-32: the SenseFlowDistiller of the bundled text-to-image teacher (its text encoder frozen;
// the GAN term on the attribute evaluator's features when its weight is above 0), and what the tab shows of it:
// - the teacher's images for a fixed grid of captions and seeds (Euler with guidance), once;
// - the student's images for the same captions and seeds at 1, 2 and 4 steps, at intervals;
// - an evaluation on SHAPES_PLAYGROUND.evalCaptions fixed captions: prompt accuracy (the attribute evaluator checks
//   every attribute the caption states) and FD-T, the Fréchet distance between the evaluator's features of the
//   student's images and of the teacher's on the same captions and seeds;
// - the teacher's reconstruction error over the noise level.
// Smaller than the CLI's evaluation (cli/distillShapesEval.ts: 100 captions, 50 teacher steps) so an evaluation stays
// seconds on a real GPU and a minute or two on a software one; with 64 images in a 96-dimensional feature space the
// FD-T is a rough number, good for its trend over iterations, not for comparing with the CLI's.
import { makeBatch } from '../data/dataset';
import { servedStepCounts, distillConfig } from '../distill/config';
import { SenseFlowDistiller } from '../distill/senseflow';
import { type ChunkDraw, imagesInChunks, shapesTask, studentChunks, teacherChunks } from '../distill/shapesTask';
import { profileSigmas, reconstructionProfile } from '../distill/timestepProfile';
import { referenceGuidance } from '../distill/toyEval';
import { evaluateImages } from '../eval/evaluate';
import { frechetDistance } from '../eval/frechet';
import { TEACHER_CAPTIONS_SEED } from '../eval/seeds';
import type { AttributeEvaluator } from '../nets/evaluator';
import type { Module } from '../nn/module';
import { parameterDistance } from '../nn/params';
import type { Kept } from '../nn/tensor';
import type { DistillEvent, ImageGrid, RunSettings, ShapesEvaluation } from './distillApi';
import { exportShapesDiT } from '../onnx/exportNets';
import { cachedReference, exportGenerator, packProfile, type PlaygroundRun, prepareRegressionPairs, type ReferenceStore, unpackProfile } from './distillRun';
import type { ShapesTeacher } from './distillTeacher';

export interface ShapesPlaygroundSizes {
  gridCaptions: number;
  evalCaptions: number;
  teacherSteps: number;
  chunk: number;
  profileSamples: number;
  profileSigmas: number;
  seed: number;
}

export const SHAPES_PLAYGROUND: Readonly<ShapesPlaygroundSizes> = {
  /** The figure's captions: the first of the evaluation's. */
  gridCaptions: 8,
  evalCaptions: 64,
  teacherSteps: 24,
  /** Captions per GPU batch when generating (memory stays small on software adapters). */
  chunk: 16,
  /** The reconstruction profile: 16 renders at 16 noise levels (the error is a mean over 3072 values per render). */
  profileSamples: 16,
  profileSigmas: 16,
  seed: 20261129,
} as const;

/** `sizes` shrinks the figure and the evaluation (tests). */
export async function openShapesRun(
  shapes: ShapesTeacher,
  evaluator: AttributeEvaluator,
  settings: RunSettings,
  store: ReferenceStore,
  report: (event: DistillEvent) => void,
  sizes: Readonly<ShapesPlaygroundSizes> = SHAPES_PLAYGROUND,
): Promise<PlaygroundRun> {
  const config = distillConfig(null, settings.config);
  const { teacher, textEncoder } = shapes;
  const engine = teacher.engine;
  const task = shapesTask(teacher, textEncoder, config.ganWeight > 0 ? evaluator : undefined);
  const distiller = new SenseFlowDistiller(task, config, settings.seed);
  const { channels, imageSize } = teacher.config;
  const perImage = channels * imageSize * imageSize;
  const data = makeBatch(TEACHER_CAPTIONS_SEED, sizes.evalCaptions);
  const gridCaptions = data.captions.slice(0, sizes.gridCaptions);
  const guidance = referenceGuidance(config);

  /** Images for `captions` in chunks, the chunk from caption k on from seed sizes.seed + k (so the grid's are the evaluation's first). */
  const generate = (captions: readonly string[], draw: ChunkDraw) => imagesInChunks(captions, task.sampleShape, sizes.chunk, sizes.seed, draw);
  const studentImages = (captions: readonly string[], steps: number) => generate(captions, studentChunks(distiller, textEncoder, steps));

  try {
    // The teacher's images and their features, in one cached array: [features (count x dim) | images (grid) | prompt accuracy].
    const dim = evaluator.config.dim;
    const reference = await cachedReference(
      { kind: 'shapes-teacher', version: 3, teacher: shapes.sha256, guidance, steps: sizes.teacherSteps, captions: sizes.evalCaptions, grid: sizes.gridCaptions, chunk: sizes.chunk, seed: sizes.seed, dim },
      store,
      `Sampling the teacher (${sizes.evalCaptions} captions, ${sizes.teacherSteps} Euler steps at guidance ${guidance}; once per teacher and guidance)`,
      report,
      async () => {
        const images = await generate(data.captions, teacherChunks(task, textEncoder, sizes.teacherSteps, guidance));
        const readings = await evaluateImages(engine, evaluator, images, data.statements);
        const packed = new Float32Array(readings.features.length + gridCaptions.length * perImage + 1);
        packed.set(readings.features);
        packed.set(images.subarray(0, gridCaptions.length * perImage), readings.features.length);
        packed[packed.length - 1] = readings.promptAccuracy;
        return packed;
      },
    );
    const teacherFeatures = reference.subarray(0, sizes.evalCaptions * dim);
    const teacherImages: ImageGrid = {
      captions: gridCaptions,
      promptAccuracy: reference[reference.length - 1]!,
      channels,
      size: imageSize,
      images: reference.slice(sizes.evalCaptions * dim, reference.length - 1),
    };
    const profile = unpackProfile(
      await cachedReference({ kind: 'profile', teacher: shapes.sha256, guidance, samples: sizes.profileSamples, sigmas: sizes.profileSigmas }, store, "Measuring the teacher's reconstruction error over the noise level", report, async () =>
        packProfile(await reconstructionProfile(task, guidance, sizes.profileSamples, profileSigmas(sizes.profileSigmas))),
      ),
    );
    const stepCounts = servedStepCounts(config);

    // The student's images of every evaluation caption at each step count, made once per iteration: the figure shows
    // the first gridCaptions of them and the evaluation that follows it reads them all.
    let made: { iteration: number; images: Map<number, Float32Array> } | null = null;
    const imagesNow = async (): Promise<Map<number, Float32Array>> => {
      if (made?.iteration !== distiller.iteration) {
        const images = new Map<number, Float32Array>();
        for (const n of stepCounts) images.set(n, await studentImages(data.captions, n));
        made = { iteration: distiller.iteration, images };
      }
      return made.images;
    };

    const generic = distiller as unknown as SenseFlowDistiller<Module, Kept>;
    await prepareRegressionPairs(generic, shapes.sha256, store, report);
    return {
      distiller: generic,
      teacher: null,
      teacherImages,
      profile,
      async figure() {
        const images = await imagesNow();
        return { iteration: distiller.iteration, students: stepCounts.map((steps) => ({ steps, images: images.get(steps)!.slice(0, gridCaptions.length * perImage) })) };
      },
      async evaluate(): Promise<ShapesEvaluation> {
        const steps: ShapesEvaluation['steps'] = {};
        const images = await imagesNow();
        for (const n of stepCounts) {
          const result = await evaluateImages(engine, evaluator, images.get(n)!, data.statements);
          steps[String(n)] = {
            promptAccuracy: result.promptAccuracy,
            fdTeacher: frechetDistance({ shape: [data.captions.length, result.dim], data: result.features }, { shape: [data.captions.length, dim], data: teacherFeatures }),
          };
        }
        return { iteration: distiller.iteration, captions: data.captions.length, steps, parameterDistance: await parameterDistance(distiller.fakeScore, distiller.generator) };
      },
      exportStudent: (name, about) => exportGenerator(generic, shapes.bundle, (values) => exportShapesDiT(distiller.student, values), name, about),
      dispose() {
        distiller.dispose();
        teacher.dispose();
        textEncoder.dispose();
        evaluator.dispose();
      },
    };
  } catch (error) {
    distiller.dispose();
    throw error;
  }
}
