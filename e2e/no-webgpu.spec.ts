// A browser without WebGPU gets a clear message and a working app, not a blank page.
import { expect, test } from '@playwright/test';

test.beforeEach(async ({ page }) => {
  // Make this page look like a browser without WebGPU.
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
  });
  await page.goto('/');
});

test('says WebGPU is unavailable and what still works', async ({ page }) => {
  const system = page.getByRole('region', { name: 'System' });
  await expect(system.getByRole('alert')).toContainText('WebGPU is unavailable.');
  await expect(system.getByRole('alert')).toContainText('no navigator.gpu');
  await expect(system).toContainText('Generation: wasm execution provider');
  await expect(system).toContainText('Training: unavailable: the distillation playground needs WebGPU');
  await expect(system.getByRole('button', { name: 'Run GPU self-test' })).toBeDisabled();
  // ONNX Runtime (the wasm fallback) is still there.
  await expect(system).toContainText('wasm runtime served');
  await page.getByRole('tab', { name: 'About' }).click();
  await expect(page.getByRole('tabpanel', { name: 'About' })).toBeVisible();
});

test('visual: the shell without WebGPU', async ({ page }) => {
  await expect(page.getByRole('region', { name: 'System' })).toContainText('wasm runtime served');
  await expect(page).toHaveScreenshot('shell-no-webgpu.png', { animations: 'disabled' });
});
