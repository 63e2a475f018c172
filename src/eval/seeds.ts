// Which seeds of the procedural Shapes data each use draws from, so that what the evaluator is measured on is never
// what it was trained on. Training batch seeds lie in [0, 2^31); evaluation seeds in [2^31, 2^32).
// (data/random.ts's mulberry32 streams are shifts of one sequence, so two seeds could in principle share draws; for
// seeds this far apart it would take ~10^9 draws. A single-object scene can still recur by chance: the world has
// only ~10^5 of them, counting jitter, so "held out" means "never drawn from a training seed", not "never seen".)

const EVALUATION_BASE = 0x80000000;

/** The 2,000 held-out images the evaluator's accuracy is reported on (models/evaluator/evaluator.json). */
export const HELD_OUT_SEED = EVALUATION_BASE + 1;
/** The real renders generated images are compared with (Frechet distance). */
export const REAL_REFERENCE_SEED = EVALUATION_BASE + 2;

/** Training steps one seed can run before its batch seeds would run into the next seed's. */
export const STEPS_PER_SEED = 2 ** 20;

/** The seed of training batch `step` of a run seeded `seed`: a fresh batch every step (an infinite dataset). */
export function trainingBatchSeed(seed: number, step: number): number {
  if (!Number.isInteger(step) || step < 0 || step >= STEPS_PER_SEED) throw new Error(`trainingBatchSeed: step ${step} is outside [0, ${STEPS_PER_SEED})`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`trainingBatchSeed: seed must be an integer >= 0, got ${seed}`);
  return ((seed % 2048) * STEPS_PER_SEED + step) % EVALUATION_BASE;
}
/** Renders the training run checks its progress on (disjoint from the held-out set, so that set stays unseen). */
export const VALIDATION_SEED = EVALUATION_BASE + 3;
/** The 1,000 (or --count) random captions a teacher's prompt accuracy and FD are measured on (src/cli/measure.ts). */
export const TEACHER_CAPTIONS_SEED = EVALUATION_BASE + 4;
/** The noise those measurements start from (plus the index of each chunk of captions). */
export const TEACHER_NOISE_SEED = EVALUATION_BASE + 5;
/**
 * The noise `npm run eval` generates from (src/cli/eval.ts): image i of an evaluation starts from the pipeline's
 * noise stream of seed EVAL_NOISE_SEED + i, for the evaluated model and for the teacher's reference samples alike.
 */
export const EVAL_NOISE_SEED = EVALUATION_BASE + 6;
