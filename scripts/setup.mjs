#!/usr/bin/env node
// Makes a fresh clone runnable: installs npm dependencies when they are missing or stale (npm ci),
// and with --browser also the Debian packages the browser tests and the Node GPU tests need.
// Uses only Node's standard library, because it runs before node_modules exists.
//
//   node scripts/setup.mjs            # npm dependencies only (npm start)
//   node scripts/setup.mjs --browser  # plus chromium, the Vulkan loader and Mesa (npm test)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wantBrowser = process.argv.includes('--browser');

// chromium: the browser Playwright drives (and, through chromium-common, the SwiftShader Vulkan ICD
// that the Node tests use); libvulkan1: the loader Dawn opens for SwiftShader; the Mesa packages:
// llvmpipe through EGL/GLES for Dawn's OpenGL ES backend.
const DEBIAN_PACKAGES = ['chromium', 'libvulkan1', 'libegl1', 'libegl-mesa0', 'libgles2', 'libgl1-mesa-dri'];

function log(message) {
  console.log(`[setup] ${message}`);
}

function fail(message) {
  console.error(`[setup] ${message}`);
  process.exit(1);
}

function npmDependenciesStale() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return true;
  return statSync(join(root, 'package-lock.json')).mtimeMs > statSync(installed).mtimeMs;
}

function installNpmDependencies() {
  if (!npmDependenciesStale()) return;
  log('installing npm dependencies (npm ci) ...');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) fail('npm ci failed; see the output above.');
}

function missingDebianPackages() {
  return DEBIAN_PACKAGES.filter((name) => {
    const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return result.status !== 0 || !result.stdout.includes('install ok installed');
  });
}

function installDebianPackages() {
  if (process.platform !== 'linux' || !existsSync('/usr/bin/dpkg-query')) {
    if (!process.env.CHROMIUM_PATH) {
      fail('the browser tests expect Debian chromium; on other systems set CHROMIUM_PATH to a Chromium binary.');
    }
    return;
  }
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    fail(`missing Debian packages: ${missing.join(' ')}. Install them with:\n  sudo apt-get install -y ${missing.join(' ')}`);
  }
  log(`installing Debian packages: ${missing.join(' ')} ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  if (update.status !== 0) fail('apt-get update failed; see the output above.');
  const install = spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
  if (install.status !== 0) fail(`apt-get install ${missing.join(' ')} failed; see the output above.`);
}

installNpmDependencies();
if (wantBrowser) {
  installDebianPackages();
  const chromium = process.env.CHROMIUM_PATH ?? execFileSync('sh', ['-c', 'command -v chromium || true'], { encoding: 'utf8' }).trim();
  if (!chromium) fail('chromium is not on PATH after setup; install Debian\'s chromium package.');
}
