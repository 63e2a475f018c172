// Loading bundles: a good one loads; a wrong hash, a missing file, a wrong ONNX input name, malformed
// JSON and a wrong field type are each refused with the file (and field) named. Writing: a bundle
// written to a folder loads back, and an invalid one is not written at all.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BundleError } from './manifest';
import { fetchSource, isInferenceFile, loadBundle, memorySource } from './bundle';
import { denoiserModel, exampleBundle, exampleDraft, exampleFiles } from './bundleTesting';
import { directorySource, writeBundle } from './bundleWrite';

const encoder = new TextEncoder();

describe('loadBundle', () => {
  it('loads a good bundle, reporting progress per file', async () => {
    const { manifest, files } = await exampleBundle();
    const progress: string[] = [];
    const loaded = await loadBundle(memorySource(files), { onProgress: (p) => progress.push(`${p.loadedFiles}/${p.totalFiles} ${p.path}`) });
    expect(loaded.manifest).toEqual(manifest);
    expect([...loaded.files.keys()].sort()).toEqual(manifest.files.map((f) => f.path).sort());
    expect(loaded.files.get('denoiser.onnx')).toEqual(files.get('denoiser.onnx'));
    expect(progress).toHaveLength(4);
    expect(progress.at(-1)).toMatch(/^4\/4 /);
  });

  it('reads only the files inference needs when asked (the training checkpoints stay unread), checking every file it reads', async () => {
    const source = directorySource('models/shapes-teacher');
    const read: string[] = [];
    const loaded = await loadBundle({ read: (path) => (read.push(path), source.read(path)) }, { only: isInferenceFile });
    expect(read).not.toContain('denoiser.safetensors');
    expect(read).not.toContain('text_encoder.safetensors');
    expect(read).toContain('denoiser.onnx');
    expect([...loaded.files.keys()].sort()).toEqual(loaded.manifest.files.map((f) => f.path).filter((p) => !p.endsWith('.safetensors')).sort());
    // A damaged ONNX file is still refused.
    const damaged = { read: async (path: string) => (path === 'denoiser.onnx' ? (await source.read(path)).map((b, i) => (i === 100 ? b ^ 1 : b)) : source.read(path)) };
    await expect(loadBundle(damaged, { only: isInferenceFile })).rejects.toThrow(/^denoiser\.onnx: sha256 mismatch/);
  });

  it('refuses a file whose bytes changed (same size): sha256 mismatch, naming the file', async () => {
    const { files } = await exampleBundle();
    const corrupted = files.get('denoiser.onnx')!.slice();
    corrupted[corrupted.length - 1]! ^= 1;
    files.set('denoiser.onnx', corrupted);
    await expect(loadBundle(memorySource(files))).rejects.toThrow(/^denoiser\.onnx: sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64}$/);
  });

  it('refuses a truncated file: size mismatch', async () => {
    const { files } = await exampleBundle();
    files.set('text_encoder.onnx', files.get('text_encoder.onnx')!.subarray(0, 10));
    await expect(loadBundle(memorySource(files))).rejects.toThrow(/^text_encoder\.onnx: size mismatch: expected \d+ bytes, got 10$/);
  });

  it('refuses a missing file, naming it', async () => {
    const { files } = await exampleBundle();
    files.delete('tokenizer/tokenizer_config.json');
    const error = await loadBundle(memorySource(files)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BundleError);
    expect((error as BundleError).file).toBe('tokenizer/tokenizer_config.json');
    expect((error as Error).message).toBe('tokenizer/tokenizer_config.json: is missing from memory (listed in manifest.json files)');
  });

  it('refuses a folder without manifest.json', async () => {
    await expect(loadBundle(memorySource(new Map(), 'models/empty/'))).rejects.toThrow('manifest.json: is missing: models/empty/ is not a model bundle');
  });

  it('refuses a denoiser whose ONNX input has another name than the manifest says, naming it', async () => {
    const files = exampleFiles();
    files.set('denoiser.onnx', denoiserModel('noisy_sample')); // hashed correctly: only the interface is wrong
    const bundle = await exampleBundle(exampleDraft(), files);
    await expect(loadBundle(memorySource(bundle.files))).rejects.toThrow(
      'denoiser.onnx: has no input "sample" (manifest.json denoiser.inputs.sample); its inputs: noisy_sample, sigma, encoder_hidden_states, encoder_attention_mask, pooled_text',
    );
  });

  it('refuses malformed JSON', async () => {
    const { files } = await exampleBundle();
    files.set('manifest.json', encoder.encode('{"formatVersion": 1, "name": '));
    await expect(loadBundle(memorySource(files))).rejects.toThrow(/^manifest\.json: is not valid JSON: /);
  });

  it('refuses a field of the wrong type, naming it', async () => {
    const { manifest, files } = await exampleBundle();
    files.set('manifest.json', encoder.encode(JSON.stringify({ ...manifest, textEncoder: { ...manifest.textEncoder, maxLength: '24' } })));
    await expect(loadBundle(memorySource(files))).rejects.toThrow('manifest.json: textEncoder.maxLength must be a number, got string "24"');
  });
});

describe('fetchSource', () => {
  it('fetches paths under the base URL and reports a 404 as a missing file', async () => {
    const { files } = await exampleBundle();
    const requested: string[] = [];
    const fakeFetch = (async (input: RequestInfo | URL) => {
      const url = new URL(String(input));
      requested.push(url.pathname);
      const bytes = files.get(url.pathname.replace('/models/student/', ''));
      return bytes ? new Response(bytes.slice()) : new Response('<html>not found</html>', { status: 404 });
    }) as typeof fetch;
    const loaded = await loadBundle(fetchSource('http://localhost/models/student', fakeFetch));
    expect(loaded.manifest.name).toBe('shapes-student-test');
    expect(requested[0]).toBe('/models/student/manifest.json');
    files.delete('denoiser.onnx');
    await expect(loadBundle(fetchSource('http://localhost/models/student/', fakeFetch))).rejects.toThrow(
      'denoiser.onnx: is missing from http://localhost/models/student/ (listed in manifest.json files)',
    );
  });

  it('refuses an HTML page served in place of a file (a single-page-app fallback), saying so', async () => {
    const spaFetch = (async () => new Response('<!doctype html><html></html>', { headers: { 'content-type': 'text/html; charset=utf-8' } })) as typeof fetch;
    await expect(loadBundle(fetchSource('http://localhost/app/', spaFetch))).rejects.toThrow(
      'manifest.json: could not be read from http://localhost/app/: GET http://localhost/app/manifest.json answered with a web page, not the file',
    );
  });
});

describe('writeBundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'senseflow-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes files and a manifest with their sizes and hashes, which loads back from the folder', async () => {
    const out = join(dir, 'good');
    const manifest = await writeBundle(out, exampleDraft(), exampleFiles());
    expect(manifest.files.map((f) => f.path)).toEqual(['denoiser.onnx', 'text_encoder.onnx', 'tokenizer/tokenizer.json', 'tokenizer/tokenizer_config.json']);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toEqual(manifest);
    const loaded = await loadBundle(directorySource(out));
    expect(loaded.manifest).toEqual(manifest);
    await expect(loadBundle(directorySource(join(dir, 'nowhere')))).rejects.toThrow(/^manifest\.json: is missing: .*nowhere is not a model bundle$/);
  });

  it('writes nothing when the bundle would be invalid', async () => {
    const out = join(dir, 'bad');
    const files = exampleFiles();
    files.set('denoiser.onnx', denoiserModel('x'));
    await expect(writeBundle(out, exampleDraft(), files)).rejects.toThrow(/^denoiser\.onnx: has no input "sample"/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a file path that leaves the folder', async () => {
    const files = exampleFiles();
    const draft = exampleDraft();
    files.set('../escape.json', encoder.encode('{}'));
    await expect(writeBundle(join(dir, 'escape'), draft, files)).rejects.toThrow('manifest.json: files[0].path "../escape.json" is not a relative path inside the bundle');
  });
});
