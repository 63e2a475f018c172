// The Distill tab on Shapes-32 as a user drives it, at the smallest sizes that still exercise everything (batch 2,
// 8 evaluation captions, two iterations on SwiftShader): choosing the task sets its defaults, the teacher's image
// grid and the student's at 1, 2 and 4 steps appear, the evaluation table and the charts (prompt accuracy, FD-T,
// the losses with the GAN term's, the teacher's reconstruction error over the noise level) fill in, and the run
// stops at its last iteration. Everything waits on data-state and data-iteration, never on wall-clock time.
import { expect, test } from '@playwright/test';

test('a Shapes run with the GAN preset: the image grid, the evaluation and the charts', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/#distill');
  const run = page.getByTestId('distill-run');
  await page.getByRole('radio', { name: 'Shapes-32 (text to image)' }).check();
  await page.getByText('Advanced', { exact: true }).click();
  // The task's own defaults: the bundled student's learning rate, batch and guidance.
  await expect(page.getByRole('spinbutton', { name: 'Learning rate' })).toHaveValue('0.0002');
  await expect(page.getByRole('spinbutton', { name: 'Guidance from' })).toHaveValue('3');
  await page.getByRole('button', { name: '+IDA +ISG +GAN' }).click();
  await expect(page.getByRole('spinbutton', { name: 'GAN weight' })).toHaveValue('0.1');
  await page.getByRole('spinbutton', { name: 'Batch size' }).fill('2');
  await page.getByRole('spinbutton', { name: 'Evaluation captions' }).fill('8');
  await page.getByRole('spinbutton', { name: 'Figures every' }).fill('2');
  await page.getByRole('spinbutton', { name: 'Checkpoint every' }).fill('2');
  await page.getByRole('spinbutton', { name: 'Stop at iteration' }).fill('2');
  await page.getByRole('button', { name: 'Start' }).click();

  const grid = page.getByRole('figure', { name: 'Teacher and student images' });
  await expect.poll(async () => grid.getAttribute('data-iteration'), { timeout: 600_000 }).toBe('0');
  await expect(grid.getByRole('img', { name: /^Teacher: / })).toHaveCount(8);
  await expect(grid.getByRole('img', { name: /^Student, 1 step: / })).toHaveCount(8);
  await expect(grid.getByRole('img', { name: /^Student, 4 steps: / })).toHaveCount(8);
  await expect(page.getByRole('figure', { name: "Where the teacher's denoising work is" })).toHaveAttribute('data-ready', 'true');

  await expect(run).toHaveAttribute('data-state', 'done', { timeout: 600_000 });
  await expect(grid).toHaveAttribute('data-iteration', '2');
  const table = page.getByRole('table', { name: 'Evaluation at iteration 2' });
  await expect(table).toBeVisible();
  await expect(table.getByRole('row', { name: /^1 step \d+\.\d% \d+\.\d\d$/ })).toBeVisible();
  await expect(table).toContainText('8 fixed captions and seeds per step count');
  await expect(page.getByRole('figure', { name: 'Prompt accuracy' })).toHaveAttribute('data-iteration', '2');
  await expect(page.getByRole('figure', { name: 'FD-T, Fréchet distance to the teacher' })).toHaveAttribute('data-iteration', '2');
  await expect(page.getByRole('figure', { name: 'Losses per iteration' })).toContainText('discriminator (hinge)');
  expect(errors).toEqual([]);
});
