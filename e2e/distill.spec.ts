// The Distill tab as a user drives it: a 2D ring run with the SenseFlow preset on WebGPU (SwiftShader here: small
// batch, few iterations), the iteration count and the charts advancing, pause (the count stops), a single step (+1),
// the metrics downloads, a reload that resumes from the checkpoint, reset; and without WebGPU a clear message while the
// rest of the app works. Everything waits on data-state and on the counts, never on wall-clock time.
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { unzipSync } from 'fflate';

const run = (page: Page) => page.getByTestId('distill-run');
const iteration = (page: Page) => run(page).getByRole('status', { name: 'Iteration' });
const iterationCount = async (page: Page) => Number(await iteration(page).textContent());
const chartIteration = (page: Page, name: string) => async () => Number((await page.getByRole('figure', { name }).getAttribute('data-iteration')) || -1);

/** The 2D ring, the SenseFlow preset, batch 32, figures and checkpoints every 10 iterations. */
async function chooseSmallRingRun(page: Page): Promise<void> {
  await page.getByRole('radio', { name: '2D ring' }).check();
  await page.getByRole('button', { name: 'SenseFlow', exact: true }).click();
  await expect(page.getByRole('button', { name: 'SenseFlow', exact: true })).toHaveAttribute('aria-pressed', 'true');
  await page.getByText('Advanced', { exact: true }).click();
  await page.getByRole('spinbutton', { name: 'Batch size' }).fill('32');
  await page.getByRole('spinbutton', { name: 'Figures every' }).fill('10');
  await page.getByRole('spinbutton', { name: 'Checkpoint every' }).fill('10');
}

test('a 2D ring run with the SenseFlow preset: start, pause, step once, download, reload and resume, reset', async ({ page }) => {
  test.setTimeout(360_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/#distill');
  await expect(run(page)).toHaveAttribute('data-state', 'idle');
  await chooseSmallRingRun(page);

  await page.getByRole('button', { name: 'Start' }).click();
  await expect(run(page)).toHaveAttribute('data-state', 'running', { timeout: 120_000 });
  // The teacher's samples and the first student figure are there (iteration 0), then the count and the charts advance.
  await expect.poll(chartIteration(page, 'Teacher and student samples'), { timeout: 60_000 }).toBeGreaterThanOrEqual(0);
  await expect.poll(() => iterationCount(page), { timeout: 120_000 }).toBeGreaterThanOrEqual(12);
  await expect.poll(chartIteration(page, 'Losses per iteration'), { timeout: 60_000 }).toBeGreaterThanOrEqual(12);
  await expect.poll(chartIteration(page, 'Energy distance to the teacher'), { timeout: 60_000 }).toBeGreaterThanOrEqual(10);
  await expect.poll(chartIteration(page, 'Teacher and student samples'), { timeout: 60_000 }).toBeGreaterThanOrEqual(10);
  const rate = run(page).locator('dt:text-is("Iterations per second") + dd');
  await expect(rate).toHaveText(/^\d+\.\d$/);

  // Pause: the count stops where the run stopped.
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(run(page)).toHaveAttribute('data-state', 'paused', { timeout: 60_000 });
  const paused = await iterationCount(page);
  console.log(`[distill.spec] ring, batch 32: ${await rate.textContent()} iterations/s over the last batch, ${paused} iterations`);
  await expect(run(page).getByRole('definition').filter({ hasText: `iteration ${paused}` })).toBeVisible({ timeout: 30_000 }); // the pause's checkpoint
  await page.waitForTimeout(1500); // nothing to wait on: the absence of progress
  expect(await iterationCount(page)).toBe(paused);
  await expect.poll(chartIteration(page, 'Energy distance to the teacher')).toBe(paused);

  // Step once: exactly one more, with its figures.
  await page.getByRole('button', { name: 'Step once' }).click();
  await expect(iteration(page)).toHaveText(String(paused + 1), { timeout: 60_000 });
  await expect(run(page)).toHaveAttribute('data-state', 'paused');
  await expect.poll(chartIteration(page, 'Teacher and student samples'), { timeout: 60_000 }).toBe(paused + 1);
  await expect.poll(chartIteration(page, 'Losses per iteration')).toBe(paused + 1);
  await expect(page.getByRole('table', { name: `Evaluation at iteration ${paused + 1}` })).toBeVisible();

  // The metrics as JSON and CSV: every iteration so far, and the evaluations.
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download JSON' }).click();
  const json = JSON.parse(readFileSync((await (await downloading).path())!, 'utf8')) as { run: { task: string; config: { batch: number } }; metrics: { iteration: number }[]; evaluations: { iteration: number }[] };
  expect(json.run.task).toBe('ring');
  expect(json.run.config.batch).toBe(32);
  expect(json.metrics.map((m) => m.iteration)).toEqual(Array.from({ length: paused + 1 }, (_, i) => i));
  expect(json.evaluations.at(-1)!.iteration).toBe(paused + 1);
  const csvDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download iterations CSV' }).click();
  const csv = readFileSync((await (await csvDownload).path())!, 'utf8').trim().split('\n');
  expect(csv[0]).toMatch(/^iteration,generatorStep,anchorIndex,backwardSimulated,guidance,fakeLoss,/);
  expect(csv).toHaveLength(paused + 2);

  // A reload offers the checkpoint of the same settings (kept in the form), and Resume goes on from it.
  await page.reload();
  await page.getByText('Advanced', { exact: true }).click();
  await expect(page.getByRole('spinbutton', { name: 'Batch size' })).toHaveValue('32');
  const resume = page.getByRole('button', { name: `Resume from iteration ${paused}` });
  await resume.click();
  await expect(run(page)).toHaveAttribute('data-state', 'running', { timeout: 120_000 });
  await expect(run(page).getByText(`Resumed from the checkpoint of iteration ${paused}.`)).toBeVisible();
  expect(await iterationCount(page)).toBeGreaterThanOrEqual(paused);
  // The history came back with it: the loss chart starts at the resumed run's past.
  await expect.poll(chartIteration(page, 'Losses per iteration'), { timeout: 60_000 }).toBeGreaterThan(paused);
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(run(page)).toHaveAttribute('data-state', 'paused', { timeout: 60_000 });

  // Reset ends the run and deletes its checkpoint.
  await page.getByRole('button', { name: 'Reset' }).click();
  await expect(run(page)).toHaveAttribute('data-state', 'idle');
  await expect(iteration(page)).toHaveText('0');
  await expect(page.getByRole('button', { name: /^Resume from iteration/ })).toHaveCount(0);
  await expect(page.getByRole('spinbutton', { name: 'Batch size' })).toBeEnabled();
  expect(errors).toEqual([]);
});

test('the student (a moving average, trained with the regression term) exports as an ONNX bundle; a kept run overlays the next; the student opens in the Generate tab and draws', async ({ page }) => {
  test.setTimeout(360_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/#distill');
  await chooseSmallRingRun(page);
  await page.getByRole('spinbutton', { name: 'Stop at iteration' }).fill('12');
  await page.getByRole('spinbutton', { name: 'Moving average' }).fill('0.9'); // the exported student is the average
  await page.getByRole('combobox', { name: 'ISG on the last segment' }).selectOption('off');
  await page.getByRole('combobox', { name: 'ISG on the first segment' }).selectOption('off');
  await page.getByRole('spinbutton', { name: 'Regression weight' }).fill('1'); // the teacher's pairs are made on Start
  await expect(page.getByRole('button', { name: 'Open in Generate' })).toBeDisabled();
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(run(page)).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  await expect(iteration(page)).toHaveText('12');

  // The bundle as a .zip of its folder: the manifest names the anchors and where it came from.
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export ONNX bundle' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('ring-senseflow-seed1-it12.zip');
  const zip = unzipSync(new Uint8Array(readFileSync((await download.path())!)));
  expect(Object.keys(zip).sort()).toEqual(['ring-senseflow-seed1-it12/denoiser.onnx', 'ring-senseflow-seed1-it12/denoiser.safetensors', 'ring-senseflow-seed1-it12/manifest.json']);
  const manifest = JSON.parse(new TextDecoder().decode(zip['ring-senseflow-seed1-it12/manifest.json']));
  expect(manifest).toMatchObject({ name: 'ring-senseflow-seed1-it12', conditioning: 'label', steps: { schedule: 'anchors', default: 4 }, provenance: { seed: 1, steps: 12 }, metrics: { distillation: { emaDecay: 0.9, isgLastSegment: false, isgFirstSegment: false, regressionWeight: 1 } } });
  await expect(run(page).getByText(/^Downloaded ring-senseflow-seed1-it12\.zip/)).toBeVisible();

  // Keep this run, run DMD alone, and both show on one chart (the kept one dashed, named).
  await page.getByRole('button', { name: 'Keep this run for comparison' }).click();
  await expect(page.getByRole('list', { name: 'Kept runs' })).toContainText('ring senseflow seed 1, to iteration 12');
  await page.getByRole('button', { name: 'Reset' }).click();
  await page.getByRole('button', { name: 'DMD alone' }).click();
  await page.getByRole('spinbutton', { name: 'Stop at iteration' }).fill('6');
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(run(page)).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  const distance = page.getByRole('figure', { name: 'Fake score to generator distance ||φ − θ||' });
  await expect(distance).toHaveAttribute('data-iteration', '6');
  await expect(distance.locator('.u-legend')).toContainText('||φ − θ||');
  await expect(distance.locator('.u-legend')).toContainText('ring senseflow seed 1, to iteration 12');

  // Open in Generate: cached in this browser, selected, and the tab switches; generating draws a scatter of 2D points.
  await page.getByRole('button', { name: 'Open in Generate' }).click();
  await expect(page.getByRole('tab', { name: 'Generate' })).toHaveAttribute('aria-selected', 'true', { timeout: 60_000 });
  const model = page.getByRole('combobox', { name: 'Model', exact: true });
  await expect(model.locator('option:checked')).toHaveText(/^ring-dmd-seed1-it6/);
  await expect(page.getByRole('combobox', { name: 'Steps', exact: true })).toHaveValue('4'); // a few-step model: its step counts only
  await page.getByRole('textbox', { name: 'Prompt' }).fill('east-west');
  await page.getByRole('button', { name: 'Generate', exact: true }).click();
  const result = page.getByTestId('result');
  await expect(result).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(result.getByRole('img', { name: /^Generated image 1 of 1/ })).toBeVisible();
  expect(errors).toEqual([]);
});

test('the settings are checked on Start, naming the control', async ({ page }) => {
  await page.goto('/#distill');
  await page.getByText('Advanced', { exact: true }).click();
  await page.getByRole('spinbutton', { name: 'IDA lambda' }).fill('1.5');
  await expect(page.getByRole('button', { name: 'SenseFlow', exact: true })).toHaveAttribute('aria-pressed', 'false');
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(run(page)).toHaveAttribute('data-state', 'error');
  await expect(run(page).getByRole('alert')).toHaveText('IDA lambda must be a number from 0 to 1 (1: IDA off), not "1.5".');
  // A preset puts it right.
  await page.getByRole('button', { name: 'DMD alone' }).click();
  await expect(page.getByRole('spinbutton', { name: 'IDA lambda' })).toHaveValue('1');
  await expect(page.getByRole('spinbutton', { name: 'ISG weight' })).toHaveValue('0');
});

test('without WebGPU the tab says so, Start is disabled, and the rest of the app works', async ({ page }) => {
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/#distill');
  const panel = page.getByRole('tabpanel', { name: 'Distill' });
  await expect(panel.getByRole('alert')).toContainText('The distillation playground needs WebGPU, and it is unavailable here:');
  await expect(panel.getByRole('alert')).toContainText('no navigator.gpu');
  await expect(page.getByRole('button', { name: 'Start' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Step once' })).toBeDisabled();
  await expect(run(page)).toHaveAttribute('data-state', 'idle');
  // The settings and their explanations are still there to read, and the other tabs work.
  await expect(page.getByRole('radio', { name: '2D ring' })).toBeChecked();
  await page.getByRole('tab', { name: 'Generate' }).click();
  await expect(page.getByRole('textbox', { name: 'Prompt' })).toBeVisible();
});

test.describe('visual', () => {
  // Deterministic: seed 1, batch 32, stopped by the run itself at iteration 10 (state done), the machine's numbers masked.
  test('the Distill tab at iteration 10 of a seeded ring run', async ({ page }) => {
    test.setTimeout(180_000);
    await page.goto('/#distill');
    await chooseSmallRingRun(page);
    await page.getByRole('spinbutton', { name: 'Figures every' }).fill('5');
    await page.getByRole('spinbutton', { name: 'Stop at iteration' }).fill('10');
    await page.getByText('Advanced', { exact: true }).click(); // folded again: the shot shows the presets
    await page.getByRole('button', { name: 'Start' }).click();
    await expect(run(page)).toHaveAttribute('data-state', 'done', { timeout: 150_000 });
    await expect(iteration(page)).toHaveText('10');
    await expect.poll(chartIteration(page, 'Teacher and student samples')).toBe(10);
    await expect.poll(chartIteration(page, 'Energy distance to the teacher')).toBe(10);
    // Charts draw only while on screen (ui/usePlot.ts): a window tall enough for the whole tab shows every one.
    await page.setViewportSize({ width: 1280, height: 3200 });
    const masks = { mask: [page.locator('[data-machine-specific]')], animations: 'disabled' as const };
    await expect(run(page)).toHaveScreenshot('distill-run-done.png', masks);
    await expect(page.getByRole('figure', { name: 'Teacher and student samples' })).toHaveScreenshot('distill-scatter-10.png', masks);
    await expect(page.locator('.chart-grid')).toHaveScreenshot('distill-charts-10.png', masks);
  });
});
