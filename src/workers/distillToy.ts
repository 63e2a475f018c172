// A Distill tab run on a 2D toy mixture (ring or grid): the SenseFlowDistiller of the bundled teacher, its reference
// samples (100 Euler steps, what the energy distance compares against), the teacher's reconstruction error over the
// noise level, the student's figure (samples at each step count with their DMD arrows: distillFigures.ts) and the
// evaluation of toyEval.ts.
import { distillConfig, servedStepCounts } from '../distill/config';
import { SenseFlowDistiller } from '../distill/senseflow';
import { reconstructionProfile } from '../distill/timestepProfile';
import { evaluateToy, referenceGuidance, TOY_EVAL, toyTeacherReference } from '../distill/toyEval';
import { toyTask } from '../distill/toyTask';
import type { Module } from '../nn/module';
import type { Kept } from '../nn/tensor';
import type { DistillEvent, RunSettings } from './distillApi';
import { FIGURE, figureLabels, referenceLabels, studentFigure } from './distillFigures';
import { exportToy2DTeacher } from '../onnx/exportNets';
import { cachedReference, exportGenerator, packProfile, type PlaygroundRun, prepareRegressionPairs, type ReferenceStore, unpackProfile } from './distillRun';
import type { ToyTeacher } from './distillTeacher';

/** Real samples the reconstruction profile averages over. */
export const TOY_PROFILE_SAMPLES = 2048;

export async function openToyRun(toy: ToyTeacher, settings: RunSettings, store: ReferenceStore, report: (event: DistillEvent) => void): Promise<PlaygroundRun> {
  // The page checked the settings already; checking again here names the bad one if a caller did not.
  const config = distillConfig(null, settings.config);
  const task = toyTask(toy.teacher, toy.mixture);
  const distiller = new SenseFlowDistiller(task, config, settings.seed);
  try {
    const guidance = referenceGuidance(config);
    const reference = await cachedReference(
      { teacher: toy.sha256, guidance, seed: TOY_EVAL.seed, samplesPerLabel: TOY_EVAL.samplesPerLabel, steps: TOY_EVAL.teacherSteps },
      store,
      `Sampling the teacher (${TOY_EVAL.teacherSteps} Euler steps; once per teacher and guidance)`,
      report,
      () => toyTeacherReference(task, toy.mixture, guidance),
    );
    const profile = unpackProfile(
      await cachedReference({ kind: 'profile', teacher: toy.sha256, guidance, samples: TOY_PROFILE_SAMPLES }, store, "Measuring the teacher's reconstruction error over the noise level", report, async () =>
        packProfile(await reconstructionProfile(task, guidance, TOY_PROFILE_SAMPLES)),
      ),
    );
    const generic = distiller as unknown as SenseFlowDistiller<Module, Kept>;
    await prepareRegressionPairs(generic, toy.sha256, store, report);
    const labels = figureLabels(toy.mixture);
    const stepCounts = servedStepCounts(config);
    return {
      distiller: generic,
      teacher: referenceLabels(toy.mixture, reference),
      teacherImages: null,
      profile,
      figure: (options) => studentFigure(distiller, labels, stepCounts, { ...FIGURE, fakeScoreSteps: options.fakeScore ? FIGURE.fakeScoreSteps : 0 }),
      evaluate: () => evaluateToy(distiller, toy.mixture, reference),
      exportStudent: (name, about) => exportGenerator(generic, toy.bundle, (values) => exportToy2DTeacher(distiller.student, values), name, about),
      dispose() {
        distiller.dispose();
        toy.teacher.dispose();
      },
    };
  } catch (error) {
    distiller.dispose();
    throw error;
  }
}
