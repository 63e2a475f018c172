// The app shell as a user meets it: tabs, the System panel on WebGPU, the GPU self-test, and a
// visual snapshot with the machine-specific values masked.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

const ortVersion: string = JSON.parse(readFileSync('node_modules/onnxruntime-web/package.json', 'utf8')).version;

test.beforeEach(async ({ page }) => {
  await page.goto('/');
});

test('has the product name and three tabs that switch by click and by keyboard', async ({ page }) => {
  await expect(page.getByRole('heading', { level: 1, name: 'senseflow-web' })).toBeVisible();
  const tabs = page.getByRole('tablist', { name: 'Sections' }).getByRole('tab');
  await expect(tabs).toHaveText(['Generate', 'Distill', 'About']);
  await expect(page.getByRole('tab', { name: 'Generate' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByRole('tabpanel', { name: 'Generate' })).toBeVisible();

  await page.getByRole('tab', { name: 'About' }).click();
  await expect(page.getByRole('tabpanel', { name: 'About' })).toBeVisible();
  await expect(page).toHaveURL(/#about$/);

  await page.getByRole('tab', { name: 'About' }).press('ArrowLeft');
  await expect(page.getByRole('tab', { name: 'Distill' })).toBeFocused();
  await expect(page.getByRole('tabpanel', { name: 'Distill' })).toBeVisible();
});

test('opens the tab named in the URL', async ({ page }) => {
  await page.goto('/#distill');
  await expect(page.getByRole('tab', { name: 'Distill' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByRole('tabpanel', { name: 'Distill' })).toBeVisible();
});

test('System panel shows the WebGPU adapter, its features and limits, and ONNX Runtime', async ({ page }) => {
  const system = page.getByRole('region', { name: 'System' });
  await expect(system.getByRole('definition').first()).toHaveText('available');
  const adapter = system.getByRole('term').filter({ hasText: /^Adapter$/ }).locator('+ dd');
  await expect(adapter).not.toBeEmpty();
  await expect(system).toContainText(/Fallback adapter(yes|no)/);
  await expect(system).toContainText(/shader-f16: (yes|no)/);
  await expect(system).toContainText(/subgroups: (yes|no)/);
  await expect(system).toContainText(/Max storage binding\d+(\.\d)? [MG]iB/);
  await expect(system).toContainText(`ONNX Runtime Web${ortVersion} (wasm runtime served`);
  await expect(system).toContainText('Generation: WebGPU execution provider');
  await expect(system).toContainText('Training: WebGPU');
  await expect(system.getByRole('alert')).toHaveCount(0);
});

test('the GPU self-test runs a WGSL kernel in the browser and checks it against the CPU', async ({ page }) => {
  const system = page.getByRole('region', { name: 'System' });
  await system.getByRole('button', { name: 'Run GPU self-test' }).click();
  await expect(system.getByRole('status', { name: 'Self-test result' })).toHaveText(/^Self-test passed: 1000 values, max error \d/);
});

test('visual: the shell on WebGPU', async ({ page }) => {
  const system = page.getByRole('region', { name: 'System' });
  await expect(system).toHaveAttribute('data-state', 'ready');
  await expect(system).toContainText('wasm runtime served');
  await expect(page).toHaveScreenshot('shell.png', {
    mask: [page.locator('[data-machine-specific]')],
    animations: 'disabled',
  });
});
