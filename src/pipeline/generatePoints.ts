// Generation from label-conditioned bundles of 2D points (models/toy2d/<mixture>/, and the 2D students the Distill
// tab exports), through the same Pipeline as text-to-image (generate.ts):
//
// - The prompt names a label: matched trimmed and case-insensitively against manifest.labels; an empty prompt is
//   label 0, the unconditional one. Classifier-free guidance's null rows are label 0 too, which is what the text
//   path's empty caption gives there, so guidance needs nothing of its own.
// - An "image" is a scatter of N points from one seed: to the sampler (generateSampler.ts) it is a sample of shape
//   [N, dims, 1], so image b of a batch draws its starting noise and its x0-renoise noise from the stream of seed
//   + b as an image does, and the step graphs run unchanged. The denoiser sees every point as a row: sample
//   [rows * N, dims], sigma and label [rows * N]. Points are a few kilobytes, so their sessions keep outputs on the
//   host (no 'gpu-buffer'), where that reshape is a view.
// - The result is the scatter drawn as an image (pointsImage.ts), with the points kept beside it.
import type { Ort } from '../onnx/exportOrt';
import { type EncodedText, numberTensor } from './generateText';
import type { Manifest } from './manifest';
import { POINTS_IMAGE_SIZE, rasterizePoints } from './pointsImage';

type OrtTensor = InstanceType<Ort['Tensor']>;

/** Points per image unless a request says otherwise. */
export const DEFAULT_POINT_COUNT = 1000;
export const MAX_POINT_COUNT = 10_000;

/** Whether a bundle draws 2D points for a label (the Generate tab shows them as scatter images). */
export function isPointsModel(manifest: Pick<Manifest, 'conditioning' | 'space'>): boolean {
  return manifest.conditioning === 'label' && manifest.space.type === 'points';
}

/** The index of the label a prompt names (trimmed, in any case; empty: label 0), or -1 when it names none. */
export function findLabel(labels: readonly string[], prompt: string): number {
  const wanted = prompt.trim().toLowerCase();
  if (wanted === '') return labels.length > 0 ? 0 : -1;
  return labels.findIndex((label) => label.trim().toLowerCase() === wanted);
}

/** The index of the label a prompt names; throws naming the labels there are. */
export function labelIndex(manifest: Pick<Manifest, 'name' | 'labels'>, prompt: string): number {
  const labels = manifest.labels ?? [];
  const index = findLabel(labels, prompt);
  if (index < 0) {
    throw new Error(`${manifest.name} has no label "${prompt.trim()}": it draws points for a label, so type one of ${labels.map((l) => `"${l}"`).join(', ')} as the prompt (empty means "${labels[0]}").`);
  }
  return index;
}

/** One image's sample as the sampler sees it: N points of `dims` coordinates as [N, dims, 1]. */
export function pointsSampleShape(count: number, dims: number): [number, number, number] {
  return [count, dims, 1];
}

/** The same host tensor with other dims (a view of its data). */
export function reshapeOnHost(ort: Ort, tensor: OrtTensor, dims: readonly number[]): OrtTensor {
  if (tensor.location !== 'cpu') throw new Error(`a points sample must stay on the host to be reshaped, but this one is in ${tensor.location}`);
  return new ort.Tensor('float32', tensor.data as Float32Array, dims);
}

/** The denoiser's label input for every row: each prompt's label, repeated for its `rowsPerPrompt` points. */
export class LabelConditioner {
  constructor(
    private readonly ort: Ort,
    private readonly manifest: Manifest,
    /** The element type of the denoiser's label input (int64 in our exports). */
    private readonly labelType: string,
  ) {}

  async encode(prompts: readonly string[], rowsPerPrompt: number): Promise<EncodedText> {
    const started = performance.now();
    const name = this.manifest.denoiser.inputs.label!;
    const labels = new Array<number>(prompts.length * rowsPerPrompt);
    prompts.forEach((prompt, i) => labels.fill(labelIndex(this.manifest, prompt), i * rowsPerPrompt, (i + 1) * rowsPerPrompt));
    const tensor = numberTensor(this.ort, this.labelType, labels, [labels.length], `denoiser input ${name}`);
    return { feeds: { [name]: tensor }, tokenizeMs: performance.now() - started, textEncoderMs: 0, dispose: () => tensor.dispose() };
  }

  async release(): Promise<void> {}
}

/** One image's points [N, dims] as the pipeline's picture: the scatter in RGBA, and as CHW floats in [-1, 1]. */
export function pointsPicture(points: Float32Array, dims: number): { width: number; height: number; channels: number; chw: Float32Array; rgba: Uint8ClampedArray } {
  const size = POINTS_IMAGE_SIZE;
  const rgba = rasterizePoints(points, dims, { size });
  const plane = size * size;
  const chw = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) chw[c * plane + p] = rgba[p * 4 + c]! / 127.5 - 1;
  return { width: size, height: size, channels: 3, chw, rgba };
}
