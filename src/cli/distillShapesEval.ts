// What a Shapes distillation run measures at intervals: the student at 1, 2 and 4 steps on a fixed caption and seed
// set (SHAPES_DISTILL_EVAL.count captions from TEACHER_CAPTIONS_SEED): prompt accuracy with the attribute evaluator,
// FD-T (Frechet distance of the evaluator's features to the teacher's 50-step Euler samples at the run's middle
// guidance, on the same captions and seeds) and FD to real renders; and ||phi_fake - theta_gen||. Every generated
// image is scored as the picture a user gets (clamped, 8-bit: imagesInChunks), as `npm run eval` scores a bundle;
// runs before 2026-12-06 evening scored the raw x0 (a teacher-reference.json of theirs lacks pixels: 'displayed').
// The teacher's features cost count * 50 * 2 denoiser rows, so they are kept in <out>/teacher-reference.json, under a
// key with the teacher's weights (sha256), so a bundle retrained in place is sampled again.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBatch } from '../data/dataset';
import { referenceGuidance } from '../distill/toyEval';
import { servedStepCounts } from '../distill/config';
import type { SenseFlowDistiller } from '../distill/senseflow';
import { type ChunkDraw, imagesInChunks, studentChunks, teacherChunks, type TextCondition } from '../distill/shapesTask';
import { evaluateImages, realFeatureStatistics } from '../eval/evaluate';
import { frechetDistance, frechetDistanceFromStatistics, gaussianStatistics } from '../eval/frechet';
import { TEACHER_CAPTIONS_SEED } from '../eval/seeds';
import type { ShapesDiT } from '../nets/dit';
import type { TextEncoder } from '../nets/textEncoder';
import type { AttributeEvaluator } from '../nets/evaluator';
import type { Engine } from '../nn/engine';
import { parameterDistance } from '../nn/params';
import type { DistillOptions, TeacherWeights } from './distill';

export const SHAPES_DISTILL_EVAL = { count: 100, teacherSteps: 50, realCount: 500, seed: 20261127, chunk: 50 } as const;

export async function shapesEvaluation(engine: Engine, distiller: SenseFlowDistiller<ShapesDiT, TextCondition>, textEncoder: TextEncoder, evaluator: AttributeEvaluator, options: DistillOptions, teacherWeights: TeacherWeights) {
  const { count, chunk } = SHAPES_DISTILL_EVAL;
  const data = makeBatch(TEACHER_CAPTIONS_SEED, count);
  const task = distiller.task;
  const guidance = referenceGuidance(distiller.config);
  const shape = task.sampleShape;

  // Images in chunks of `chunk` captions (each chunk its own noise seed), so memory stays small on CPU adapters.
  const generate = (draw: ChunkDraw) => imagesInChunks(data.captions, shape, chunk, SHAPES_DISTILL_EVAL.seed, draw);

  const referencePath = join(options.out, 'teacher-reference.json');
  const key = { teacher: options.teacher, teacherWeights, guidance, steps: SHAPES_DISTILL_EVAL.teacherSteps, count, seed: SHAPES_DISTILL_EVAL.seed, pixels: 'displayed' };
  let teacherFeatures: Float32Array;
  let dim: number;
  const cached = existsSync(referencePath) ? (JSON.parse(readFileSync(referencePath, 'utf8')) as { key: unknown; dim: number; features: number[] }) : null;
  if (cached && JSON.stringify(cached.key) === JSON.stringify(key)) {
    teacherFeatures = Float32Array.from(cached.features);
    dim = cached.dim;
  } else {
    console.log(`[distill shapes] the teacher's reference: ${count} images, ${SHAPES_DISTILL_EVAL.teacherSteps} Euler steps, guidance ${guidance}`);
    const images = await generate(teacherChunks(task, textEncoder, SHAPES_DISTILL_EVAL.teacherSteps, guidance));
    const readings = await evaluateImages(engine, evaluator, images, data.statements);
    teacherFeatures = readings.features;
    dim = readings.dim;
    writeFileSync(referencePath, JSON.stringify({ key, dim, promptAccuracy: readings.promptAccuracy, features: Array.from(teacherFeatures) }));
  }
  const real = await realFeatureStatistics(engine, evaluator, { count: SHAPES_DISTILL_EVAL.realCount });

  return {
    async measure() {
      const steps: Record<string, { promptAccuracy: number; fdTeacher: number; fdReal: number }> = {};
      for (const n of servedStepCounts(distiller.config)) {
        const images = await generate(studentChunks(distiller, textEncoder, n));
        const result = await evaluateImages(engine, evaluator, images, data.statements);
        const features = { shape: [count, result.dim], data: result.features };
        steps[String(n)] = {
          promptAccuracy: result.promptAccuracy,
          fdTeacher: frechetDistance(features, { shape: [count, dim], data: teacherFeatures }),
          fdReal: frechetDistanceFromStatistics(gaussianStatistics(features), real),
        };
      }
      return { steps, parameterDistance: await parameterDistance(distiller.fakeScore, distiller.generator), evalCaptions: count };
    },
    summary(result: Record<string, unknown>) {
      const steps = result.steps as Record<string, { promptAccuracy: number; fdTeacher: number }>;
      return `${Object.entries(steps).map(([n, m]) => `${n}-step acc ${(100 * m.promptAccuracy).toFixed(1)}% FD-T ${m.fdTeacher.toFixed(2)}`).join(', ')}, |phi-theta| ${(result.parameterDistance as number).toFixed(3)}`;
    },
  };
}
