// The Generate tab as a user drives it, on the bundled Shapes teacher: generation on WebGPU and on the wasm provider
// checked against the prompt with pixel statistics read from the page, seeds, the deep link, the history across a
// reload, PNG download and drop, cancel, generate-as-you-type, teacher vs student, the model cache, and visual
// snapshots with the machine-specific values masked. WebGPU here is SwiftShader on two cores (~2 s per guided step
// of the teacher, ~50 ms on wasm), so every generation takes 2-4 steps and only one test runs on WebGPU.
import { readFileSync, statSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { readPngSettings } from '../src/pipeline/pngMeta.ts';
import { formatBytes } from '../src/ui/format.ts';
import { firstImage, history, type Pixels, pixelsOf, result } from './generatePage.ts';

const PROMPT = 'a red circle at the top left on a blue background';
const TEACHER = JSON.parse(readFileSync('models/shapes-teacher/manifest.json', 'utf8')) as { files: { path: string; sha256: string; bytes: number }[] };
const TEACHER_SHA256 = TEACHER.files.find((f) => f.path === 'denoiser.onnx')!.sha256;




/** What "a red circle at the top left on a blue background" must look like: a blue frame, red only top left. */
function expectRedCircleTopLeftOnBlue({ width, height, data }: Pixels): void {
  let border = 0;
  let blueBorder = 0;
  let red = 0;
  let redTopLeft = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) {
        border++;
        if (b > 150 && b > r + 80 && b > g + 60) blueBorder++;
      }
      if (r > 150 && r > g + 80 && r > b + 80) {
        red++;
        if (x < width / 2 && y < height / 2) redTopLeft++;
      }
    }
  }
  expect(blueBorder / border, 'the border is blue').toBeGreaterThan(0.9);
  expect(red, 'there is a red object').toBeGreaterThan(15);
  expect(redTopLeft / red, 'the red object is in the top-left quadrant').toBeGreaterThan(0.9);
}

function maxDifference(a: Pixels, b: Pixels): number {
  expect(a.data.length).toBe(b.data.length);
  return a.data.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b.data[i]!)), 0);
}

function meanDifference(a: Pixels, b: Pixels): number {
  return a.data.reduce((sum, v, i) => sum + Math.abs(v - b.data[i]!), 0) / a.data.length;
}

async function setControls(page: Page, { prompt, seed, steps }: { prompt?: string; seed?: number; steps?: number }): Promise<void> {
  if (prompt !== undefined) await page.getByRole('textbox', { name: 'Prompt' }).fill(prompt);
  if (seed !== undefined) await page.getByRole('spinbutton', { name: 'Seed', exact: true }).fill(String(seed));
  if (steps !== undefined) await page.getByRole('spinbutton', { name: 'Steps', exact: true }).fill(String(steps));
}

/** Presses Generate and waits for the result and for the history to hold `count` results. */
async function generate(page: Page, count: number, timeout = 60_000): Promise<void> {
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(history(page)).toContainText(count === 1 ? '1 result' : `${count} results`, { timeout });
  await expect(result(page)).toHaveAttribute('data-state', 'done');
}

/** Drops a file on the page as a user would (a DataTransfer with one File). */
async function dropFile(page: Page, name: string, bytes: Uint8Array, type: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ({ name, bytes, type }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
      return transfer;
    },
    { name, bytes: Array.from(bytes), type },
  );
  await page.dispatchEvent('body', 'drop', { dataTransfer });
}

test('generates on WebGPU an image that matches the prompt, and wasm gives the same image', async ({ page }) => {
  test.setTimeout(240_000);
  await page.goto('/');
  await setControls(page, { prompt: PROMPT, seed: 1, steps: 2 });
  await generate(page, 1, 200_000);
  await expect(result(page).getByTestId('provider')).toContainText('Execution provider: WebGPU (WebGPU is available here)');
  const onGpu = await pixelsOf(firstImage(page));
  expect([onGpu.width, onGpu.height]).toEqual([32, 32]);
  expectRedCircleTopLeftOnBlue(onGpu);
  // The x0 estimate after each step, and the timings.
  await expect(result(page).getByRole('list', { name: 'x0 estimate after each step' }).getByRole('img')).toHaveCount(2);
  const timings = result(page).getByRole('group', { name: 'Timings' });
  for (const term of ['Tokenize', 'Text encoder', '2 denoiser steps', 'Each step', 'Decode', 'Total']) await expect(timings.getByRole('term').filter({ hasText: new RegExp(`^${term}$`) })).toBeVisible();
  await expect(timings.locator('[data-machine-specific]')).toHaveCount(7);

  await page.getByRole('combobox', { name: 'Execution provider' }).selectOption({ label: 'wasm (CPU)' });
  await generate(page, 2);
  await expect(result(page).getByTestId('provider')).toContainText('Execution provider: wasm (CPU) (chosen in the settings)');
  const onCpu = await pixelsOf(firstImage(page));
  // Same seed and settings: the same image within float32 noise (one 8-bit level at most).
  expect(maxDifference(onGpu, onCpu)).toBeLessThanOrEqual(1);
});

test('without WebGPU, Auto runs on the wasm provider and says why; WebGPU chosen explicitly is refused', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/');
  await setControls(page, { prompt: PROMPT, seed: 1, steps: 2 });
  await generate(page, 1);
  await expect(result(page).getByTestId('provider')).toContainText('Execution provider: wasm (CPU) (WebGPU is unavailable here (this context has no navigator.gpu');
  expectRedCircleTopLeftOnBlue(await pixelsOf(firstImage(page)));

  await page.getByRole('combobox', { name: 'Execution provider' }).selectOption({ label: 'WebGPU' });
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(result(page)).toHaveAttribute('data-state', 'error');
  await expect(result(page).getByRole('alert')).toContainText('WebGPU was chosen as the execution provider but is unavailable here');
});

test.describe('on the wasm provider', () => {
  test('same seed gives the same image, another seed a different one; the dice and the lock', async ({ page }) => {
    await page.goto('/?provider=wasm');
    await expect(page.getByRole('combobox', { name: 'Execution provider' })).toHaveValue('wasm');
    await setControls(page, { prompt: PROMPT, seed: 2, steps: 3 });
    await generate(page, 1);
    await expect(result(page).getByTestId('provider')).toContainText('wasm (CPU)');
    const first = await pixelsOf(firstImage(page));
    expectRedCircleTopLeftOnBlue(first);

    await generate(page, 2);
    expect(maxDifference(first, await pixelsOf(firstImage(page)))).toBe(0);

    await setControls(page, { seed: 3 });
    await generate(page, 3);
    await expect(firstImage(page)).toHaveAccessibleName(/seed 3$/);
    const other = await pixelsOf(firstImage(page));
    expect(meanDifference(first, other), 'another seed, another image').toBeGreaterThan(1);

    // A batch of 2 from seed 2 is the single runs of seeds 2 and 3, in one denoiser call per step.
    await setControls(page, { seed: 2 });
    await page.getByRole('spinbutton', { name: 'Batch size' }).fill('2');
    await generate(page, 5);
    const batch = result(page).getByRole('img', { name: /^Generated image/ });
    await expect(batch).toHaveCount(2);
    await expect(batch.nth(1)).toHaveAccessibleName('Generated image 2 of 2, seed 3');
    expect(maxDifference(first, await pixelsOf(batch.nth(0)))).toBeLessThanOrEqual(1);
    expect(maxDifference(other, await pixelsOf(batch.nth(1)))).toBeLessThanOrEqual(1);
    await page.getByRole('spinbutton', { name: 'Batch size' }).fill('1');

    // The dice draws a new seed; unlocked, every press of Generate draws one.
    const seed = page.getByRole('spinbutton', { name: 'Seed', exact: true });
    await page.getByRole('button', { name: 'Random seed' }).click();
    await expect(seed).not.toHaveValue('2');
    await page.getByRole('checkbox', { name: 'Lock seed' }).uncheck();
    const before = await seed.inputValue();
    await generate(page, 6);
    await expect(seed).not.toHaveValue(before);
    await expect(firstImage(page)).toHaveAccessibleName(new RegExp(`seed ${await seed.inputValue()}$`));
  });

  test('a deep link opens straight to a generated result', async ({ page }) => {
    const query = new URLSearchParams({ prompt: PROMPT, seed: '3', steps: '2', model: 'shapes-teacher', provider: 'wasm' });
    await page.goto(`/?${query}`);
    await expect(result(page)).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(page.getByRole('textbox', { name: 'Prompt' })).toHaveValue(PROMPT);
    await expect(page.getByRole('spinbutton', { name: 'Seed', exact: true })).toHaveValue('3');
    await expect(page.getByRole('spinbutton', { name: 'Steps', exact: true })).toHaveValue('2');
    await expect(firstImage(page)).toHaveAccessibleName('Generated image 1 of 1, seed 3');
    expectRedCircleTopLeftOnBlue(await pixelsOf(firstImage(page)));
    await expect(result(page).getByRole('link', { name: 'Link to this result' })).toHaveAttribute('href', /[?&]seed=3(&|$)/);

    // A link naming a model that is not here says so and does not generate.
    await page.goto('/?prompt=a+red+circle&model=no-such-model');
    await expect(page.getByRole('alert')).toContainText('This link cannot be followed: there is no model "no-such-model"');
    await expect(result(page)).toHaveAttribute('data-state', 'idle');
  });

  test('the history keeps every result across a reload; a click restores the settings; delete removes one', async ({ page }) => {
    await page.goto('/?provider=wasm');
    await setControls(page, { prompt: PROMPT, seed: 4, steps: 2 });
    await generate(page, 1);
    await setControls(page, { prompt: 'a large green square on a white background', seed: 5, steps: 3 });
    await generate(page, 2);

    await page.reload();
    const entries = history(page).getByRole('listitem');
    await expect(entries).toHaveCount(2);
    await expect(entries.first()).toContainText('a large green square on a white background');
    await expect(entries.nth(1)).toContainText(`${PROMPT}seed 4 · 2 steps · shapes-teacher · wasm (CPU)`);

    await setControls(page, { prompt: 'something else', seed: 99, steps: 7 });
    await entries.nth(1).getByRole('button', { name: /^Restore settings/ }).click();
    await expect(page.getByRole('textbox', { name: 'Prompt' })).toHaveValue(PROMPT);
    await expect(page.getByRole('spinbutton', { name: 'Seed', exact: true })).toHaveValue('4');
    await expect(page.getByRole('spinbutton', { name: 'Steps', exact: true })).toHaveValue('2');
    await expect(page.getByRole('status').filter({ hasText: 'Restored the settings of the history entry' })).toBeVisible();

    await entries.first().getByRole('button', { name: /^Delete/ }).click();
    await expect(entries).toHaveCount(1);
    await page.reload();
    await expect(history(page).getByRole('listitem')).toHaveCount(1);
    await expect(history(page).getByRole('listitem')).toContainText(PROMPT);
  });

  test('Download PNG carries the settings, and dropping the PNG on the page restores them', async ({ page }) => {
    await page.goto('/?provider=wasm');
    await setControls(page, { prompt: PROMPT, seed: 6, steps: 2 });
    await page.getByRole('spinbutton', { name: 'Guidance' }).fill('3');
    await generate(page, 1);

    const downloading = page.waitForEvent('download');
    await result(page).getByRole('link', { name: 'Download PNG' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('senseflow-a-red-circle-at-the-top-left-on-a-blue-background-6.png');
    const png = new Uint8Array(readFileSync((await download.path())!));
    expect(readPngSettings(png).settings).toEqual({ prompt: PROMPT, seed: 6, steps: 2, sampler: 'euler', guidance: 3, model: 'shapes-teacher', modelSha256: TEACHER_SHA256 });

    await setControls(page, { prompt: 'a blue cross', seed: 77, steps: 9 });
    await page.getByRole('spinbutton', { name: 'Guidance' }).fill('5');
    await dropFile(page, download.suggestedFilename(), png, 'image/png');
    await expect(page.getByRole('status').filter({ hasText: `Restored the settings of ${download.suggestedFilename()}` })).toBeVisible();
    await expect(page.getByRole('textbox', { name: 'Prompt' })).toHaveValue(PROMPT);
    await expect(page.getByRole('spinbutton', { name: 'Seed', exact: true })).toHaveValue('6');
    await expect(page.getByRole('spinbutton', { name: 'Steps', exact: true })).toHaveValue('2');
    await expect(page.getByRole('spinbutton', { name: 'Guidance' })).toHaveValue('3');
  });

  test('Cancel stops a long generation and the page stays responsive; generate-as-you-type runs the latest prompt', async ({ page }) => {
    await page.goto('/?provider=wasm');
    await setControls(page, { prompt: PROMPT, seed: 1, steps: 200 });
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await expect(result(page)).toHaveAttribute('data-state', 'running', { timeout: 60_000 });
    // The main thread is free while the worker denoises: the tabs still switch.
    await page.getByRole('tab', { name: 'About' }).click();
    await expect(page.getByRole('tabpanel', { name: 'About' })).toBeVisible();
    await page.getByRole('tab', { name: 'Generate' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect(result(page)).toHaveAttribute('data-state', 'idle');
    await expect(result(page)).toContainText('Cancelled.');
    await expect(history(page)).toContainText('0 results');

    await setControls(page, { steps: 2 });
    await page.getByRole('checkbox', { name: 'Generate as you type' }).check();
    const prompt = page.getByRole('textbox', { name: 'Prompt' });
    await prompt.fill('');
    await prompt.pressSequentially('a red circle at the top left', { delay: 20 });
    await expect(history(page)).toContainText('1 result', { timeout: 60_000 });
    await expect(result(page)).toHaveAttribute('data-state', 'done');
    await expect(history(page).getByRole('listitem').first()).toContainText('a red circle at the top left');
  });

  test('teacher vs student: the same prompt and seed side by side, with timings', async ({ page }) => {
    await page.goto('/?provider=wasm');
    await setControls(page, { prompt: PROMPT, seed: 1 });
    const compare = page.getByRole('region', { name: 'Teacher vs student' });
    await compare.getByRole('spinbutton', { name: 'Teacher steps' }).fill('4');
    await compare.getByRole('combobox', { name: 'Student steps' }).selectOption('2');
    await compare.getByRole('button', { name: 'Compare' }).click();
    await expect(compare).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    const teacher = compare.getByRole('img', { name: /^Teacher image: shapes-teacher, 4 steps, seed 1$/ });
    // The bundled few-step student (models/shapes-senseflow) is the second model when it is there.
    const student = compare.getByRole('img', { name: /^Student image: shapes-senseflow, 2 steps, seed 1$/ });
    expectRedCircleTopLeftOnBlue(await pixelsOf(teacher));
    expectRedCircleTopLeftOnBlue(await pixelsOf(student));
    await expect(compare.getByRole('figure', { name: 'Teacher result' })).toContainText('Total');
    await expect(compare).toContainText(/The student took .* against the teacher's .*x faster/);
    await expect(history(page)).toContainText('2 results');
  });

  test('models: a bundle from a URL is cached, listed with its size, used and deleted; a bad one is refused naming the file', async ({ page, baseURL }) => {
    await page.goto('/?provider=wasm');
    await page.getByText('Models', { exact: true }).click();
    const url = page.getByRole('textbox', { name: 'Model URL' });
    await url.fill(`${baseURL}/models/shapes-teacher/tokenizer/`);
    await page.getByRole('button', { name: 'Load from URL' }).click();
    await expect(page.getByRole('alert')).toContainText(/The model was not cached: manifest.json: could not be read from .*tokenizer\/manifest.json answered with a web page, not the file/);
    await expect(page.getByText('No models cached yet.')).toBeVisible();

    await url.fill(`${baseURL}/models/shapes-teacher/`);
    await page.getByRole('textbox', { name: 'Cache as (optional)' }).fill('my-teacher');
    await page.getByRole('button', { name: 'Load from URL' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Cached "my-teacher"' })).toBeVisible({ timeout: 60_000 });
    const row = page.getByRole('table', { name: 'Cached models' }).getByRole('row', { name: /my-teacher/ });
    await expect(row).toContainText('teacher, 50 steps');
    // Every file the manifest lists, and manifest.json itself.
    const cachedBytes = TEACHER.files.reduce((n, f) => n + f.bytes, 0) + statSync('models/shapes-teacher/manifest.json').size;
    await expect(row).toContainText(`${formatBytes(cachedBytes)}${TEACHER.files.length + 1}Delete`);
    await expect(page.getByText(/Storage used by this site:/)).toBeVisible();
    // Loading a bundle selects it; it generates from the cache.
    await expect(page.getByRole('combobox', { name: 'Model', exact: true })).toHaveValue('cached:my-teacher');
    await setControls(page, { prompt: PROMPT, seed: 1, steps: 2 });
    await generate(page, 1);
    expectRedCircleTopLeftOnBlue(await pixelsOf(firstImage(page)));

    await row.getByRole('button', { name: 'Delete cached model my-teacher' }).click();
    await expect(page.getByText('No models cached yet.')).toBeVisible();
    await expect(page.getByRole('combobox', { name: 'Model', exact: true })).toHaveValue('bundled:shapes-teacher');
  });

  test('a corrupted bundle is refused naming the file, and nothing of it stays in the cache', async ({ page, baseURL }) => {
    // The page generates nothing here (no ?prompt=), yet on a loaded machine the refusal once took over a minute (cause
    // not found: fetching four files through the route and hashing them is all it does), so the test's own limit
    // exceeds the 60 s the alert is given.
    test.setTimeout(150_000);
    // A copy of the teacher served under /broken-model/ with one byte of its denoiser flipped.
    await page.context().route('**/broken-model/**', async (route) => {
      const path = new URL(route.request().url()).pathname.replace('/broken-model/', '');
      try {
        const bytes = readFileSync(`models/shapes-teacher/${path}`);
        if (path === 'denoiser.onnx') bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
        await route.fulfill({ body: bytes });
      } catch {
        await route.fulfill({ status: 404 });
      }
    });
    await page.goto('/?provider=wasm');
    await page.getByText('Models', { exact: true }).click();
    await page.getByRole('textbox', { name: 'Model URL' }).fill(`${baseURL}/broken-model/`);
    await page.getByRole('button', { name: 'Load from URL' }).click();
    await expect(page.getByRole('alert')).toContainText('The model was not cached: denoiser.onnx: sha256 mismatch', { timeout: 60_000 });
    await expect(page.getByText('No models cached yet.')).toBeVisible();
  });
});

test('a bundle from a local folder: a missing file is named, a complete one is cached and selected', async ({ page }) => {
  await page.goto('/?provider=wasm');
  // The folder picker answers with a folder this test fills (in the origin's private file system).
  const write = (paths: string[]) =>
    page.evaluate(async (paths) => {
      const root = await navigator.storage.getDirectory();
      const folder = await root.getDirectoryHandle('shapes-teacher-copy', { create: true });
      for (const path of paths) {
        const bytes = await (await fetch(`/models/shapes-teacher/${path}`)).arrayBuffer();
        const parts = path.split('/');
        let dir = folder;
        for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create: true });
        const writable = await (await dir.getFileHandle(parts.at(-1)!, { create: true })).createWritable();
        await writable.write(bytes);
        await writable.close();
      }
      (globalThis as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker = async () => folder;
    }, paths);
  const listed = TEACHER.files.map((f) => f.path);
  await write(['manifest.json', ...listed.filter((p) => p !== 'tokenizer/tokenizer.json')]);
  await page.getByText('Models', { exact: true }).click();
  await page.getByRole('button', { name: 'Load from folder…' }).click();
  await expect(page.getByRole('alert')).toContainText(
    'The model was not cached: tokenizer/tokenizer.json: is missing from the folder shapes-teacher-copy (listed in manifest.json files)',
  );
  await expect(page.getByText('No models cached yet.')).toBeVisible();

  await write(['tokenizer/tokenizer.json']);
  await page.getByRole('button', { name: 'Load from folder…' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Cached "shapes-teacher"' })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('table', { name: 'Cached models' }).getByRole('row', { name: /shapes-teacher/ })).toContainText('teacher, 50 steps');
  await expect(page.getByRole('combobox', { name: 'Model', exact: true })).toHaveValue('cached:shapes-teacher');
});

test.describe('dropping files', () => {
  test('a file that is not a PNG, or a PNG without settings, gets a clear message', async ({ page }) => {
    await page.goto('/');
    await dropFile(page, 'notes.txt', new TextEncoder().encode('not an image'), 'text/plain');
    await expect(page.getByRole('alert')).toContainText('notes.txt is not a PNG file');

    const plainPng = await page.evaluate(async () => {
      const canvas = new OffscreenCanvas(4, 4);
      canvas.getContext('2d')!.fillRect(0, 0, 4, 4);
      return Array.from(new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer()));
    });
    await dropFile(page, 'photo.png', new Uint8Array(plainPng), 'image/png');
    await expect(page.getByRole('alert')).toContainText('photo.png: this PNG carries no generation settings');
    // Nothing was changed.
    await expect(page.getByRole('textbox', { name: 'Prompt' })).toHaveValue(PROMPT);
  });
});

test.describe('visual', () => {
  const masks = (page: Page) => ({ mask: [page.locator('[data-machine-specific]')], animations: 'disabled' as const });

  test('the Generate tab, idle', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByRole('region', { name: 'System' })).toHaveAttribute('data-state', 'ready');
    await expect(history(page)).toHaveAttribute('aria-busy', 'false');
    await expect(result(page)).toHaveAttribute('data-state', 'idle');
    await expect(page.getByRole('tabpanel', { name: 'Generate' })).toHaveScreenshot('generate-idle.png', masks(page));
  });

  test('the Generate tab with a result', async ({ page }) => {
    await page.goto(`/?${new URLSearchParams({ prompt: PROMPT, seed: '1', steps: '2', model: 'shapes-teacher', provider: 'wasm' })}`);
    await expect(result(page)).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect(history(page)).toContainText('1 result');
    // The history thumbnail (decorative: alt="") has decoded.
    await expect.poll(() => history(page).locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(32);
    await expect(page.getByRole('tabpanel', { name: 'Generate' })).toHaveScreenshot('generate-done.png', masks(page));
  });
});
