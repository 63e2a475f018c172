// The Generate tab on a bundled 2D toy teacher (models/toy2d/ring) as a user drives it: the model picked by its
// label, the labels offered under the prompt, a label typed as the prompt, and the scatter image in the result,
// checked by pixel statistics read from the page (the label's two modes light up, the rest of the view stays dark);
// the PNG download with its settings; an unknown label refused naming the labels; WebGPU and wasm giving the same
// scatter. Labels sit on a ring of radius 2 in the view [-3, 3]^2 (src/data/toy2d.ts), 256 x 256 pixels, y up.
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { readPngSettings } from '../src/pipeline/pngMeta.ts';
import { firstImage, history, type Pixels, pixelsOf, result } from './generatePage.ts';

const RING = JSON.parse(readFileSync('models/toy2d/ring/manifest.json', 'utf8')) as { labels: string[]; files: { path: string; sha256: string }[] };
const RING_SHA256 = RING.files.find((f) => f.path === 'denoiser.onnx')!.sha256;
const RING_OPTION = 'toy2d-ring (teacher, 50 steps)';



/** The pixel of a point of the view [-3, 3]^2 (y up). */
function pixelOf(x: number, y: number, size: number): [number, number] {
  return [((x + 3) / 6) * size, ((3 - y) / 6) * size];
}

/**
 * Where the lit pixels (a point's dot: blue well above the backdrop's, whose brightest, the axes, is 112) lie: the
 * fraction within 16 pixels (0.375 in the view) of each of `modes`, and in all.
 */
function litNear({ width, height, data }: Pixels, modes: [number, number][]): { lit: number; near: number[] } {
  const centres = modes.map(([x, y]) => pixelOf(x, y, width));
  const near = modes.map(() => 0);
  let lit = 0;
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      if (data[(row * width + column) * 4 + 2]! <= 150) continue;
      lit++;
      centres.forEach(([cx, cy], k) => {
        if (Math.hypot(column + 0.5 - cx, row + 0.5 - cy) < 16) near[k]!++;
      });
    }
  }
  return { lit, near: near.map((n) => n / Math.max(1, lit)) };
}

async function pickRing(page: Page): Promise<void> {
  await page.getByRole('combobox', { name: 'Model', exact: true }).selectOption({ label: RING_OPTION });
  await expect(page.getByText(`This model draws 2D points for a label: ${RING.labels.join(', ')}`)).toBeVisible();
}

async function generate(page: Page, results: number): Promise<void> {
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(history(page)).toContainText(results === 1 ? '1 result' : `${results} results`, { timeout: 120_000 });
  await expect(result(page)).toHaveAttribute('data-state', 'done');
}

test('a toy teacher draws 2D points for a typed label; the PNG carries the settings; an unknown label is refused', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/?provider=wasm');
  await pickRing(page);
  const prompt = page.getByRole('textbox', { name: 'Prompt' });
  // The image model's caption gave way to the unconditional label; the hint under the prompt lists the labels.
  await expect(prompt).toHaveValue('any');
  await expect(prompt).toHaveAccessibleDescription(new RegExp(`^This model draws 2D points for a label: ${RING.labels.join(', ')} \\(empty: any`));
  await expect(page.getByRole('spinbutton', { name: 'Steps', exact: true })).toHaveValue('50');
  await prompt.fill('North-South');
  await page.getByRole('spinbutton', { name: 'Seed', exact: true }).fill('7');
  await generate(page, 1);

  await expect(firstImage(page)).toHaveAccessibleName('Generated image 1 of 1, seed 7');
  const scatter = await pixelsOf(firstImage(page));
  expect([scatter.width, scatter.height]).toEqual([256, 256]);
  const { lit, near } = litNear(scatter, [
    [0, 2],
    [0, -2],
  ]);
  expect(lit, 'points are drawn').toBeGreaterThan(100);
  expect(near[0]! + near[1]!, 'the lit pixels are on the north and south modes').toBeGreaterThan(0.85);
  expect(Math.min(near[0]!, near[1]!), 'both modes, not one').toBeGreaterThan(0.2);
  await expect(history(page).getByRole('listitem').first()).toContainText('north-south');

  const downloading = page.waitForEvent('download');
  await result(page).getByRole('link', { name: 'Download PNG' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('senseflow-north-south-7.png');
  const png = new Uint8Array(readFileSync((await download.path())!));
  expect(readPngSettings(png).settings).toEqual({ prompt: 'north-south', seed: 7, steps: 50, sampler: 'euler', guidance: 1, model: 'toy2d-ring', modelSha256: RING_SHA256 });
  const header = new DataView(png.buffer, png.byteOffset + 16, 8); // IHDR: width, height
  expect([header.getUint32(0), header.getUint32(4)]).toEqual([256, 256]);

  await prompt.fill('a red circle');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(result(page)).toHaveAttribute('data-state', 'error');
  await expect(result(page).getByRole('alert')).toContainText(`toy2d-ring has no label "a red circle": it draws points for a label, so type one of "any", "east-west"`);
});

test('on WebGPU the scatter is the one wasm draws from the same seed', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/');
  await pickRing(page);
  await page.getByRole('textbox', { name: 'Prompt' }).fill('east-west');
  await page.getByRole('spinbutton', { name: 'Steps', exact: true }).fill('20');
  await generate(page, 1);
  await expect(result(page).getByTestId('provider')).toContainText('Execution provider: WebGPU');
  const onGpu = await pixelsOf(firstImage(page));
  const { near } = litNear(onGpu, [
    [2, 0],
    [-2, 0],
  ]);
  expect(near[0]! + near[1]!, 'the lit pixels are on the east and west modes').toBeGreaterThan(0.85);

  await page.getByRole('combobox', { name: 'Execution provider' }).selectOption({ label: 'wasm (CPU)' });
  await generate(page, 2);
  await expect(result(page).getByTestId('provider')).toContainText('Execution provider: wasm (CPU)');
  const onCpu = await pixelsOf(firstImage(page));
  // The points agree to float32 noise, so at most a dot or two lands one pixel over.
  let differing = 0;
  for (let i = 0; i < onGpu.data.length; i += 4) if (Math.abs(onGpu.data[i + 2]! - onCpu.data[i + 2]!) > 8) differing++;
  expect(differing).toBeLessThan(40);
});
