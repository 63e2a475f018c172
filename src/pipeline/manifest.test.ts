// The manifest's structure checks: each refusal names the field, and the ONNX interface check names
// the input or output at fault.
import { describe, expect, it } from 'vitest';
import { floatValue } from '../onnx/proto';
import { denoiserModel, exampleBundle, exampleDraft, interfaceModel } from './bundleTesting';
import { BundleError, checkOnnxInterface, type Manifest, parseManifest, sha256Hex, validateManifest } from './manifest';

async function goodManifest(): Promise<Manifest> {
  return (await exampleBundle()).manifest;
}

/** The manifest with one change made by `edit` (on a deep copy), as JSON text. */
async function edited(edit: (m: Record<string, any>) => void): Promise<string> {
  const copy = JSON.parse(JSON.stringify(await goodManifest()));
  edit(copy);
  return JSON.stringify(copy);
}

describe('parseManifest', () => {
  it('reads a good manifest into the typed form, unchanged', async () => {
    const manifest = await goodManifest();
    const parsed = parseManifest(JSON.stringify(manifest));
    expect(parsed).toEqual(manifest);
    expect(parsed.steps.sigmas['4']).toEqual([1, 0.9, 0.75, 0.5]);
    expect(parsed.metrics.notes).toBe('made by a test');
  });

  it.each<[string, (m: Record<string, any>) => void, string]>([
    ['a missing input name', (m) => delete m.denoiser.inputs.sample, 'manifest.json: denoiser.inputs.sample is missing'],
    ['a wrong field type', (m) => (m.steps.default = '4'), 'manifest.json: steps.default must be a number, got string "4"'],
    ['a typo in a key', (m) => (m.denoiser.inptus = {}), 'manifest.json: denoiser.inptus is not a known field (expected one of: onnx, inputs, outputs, externalData)'],
    ['an unknown kind', (m) => (m.kind = 'diffusion'), 'manifest.json: kind must be one of "flow", "epsilon", got "diffusion"'],
    ['a newer format', (m) => (m.formatVersion = 2), 'manifest.json: formatVersion is 2; this app reads format 1'],
    ['sigmas that do not decrease', (m) => (m.steps.sigmas['2'] = [0.75, 1]), 'manifest.json: steps.sigmas.2[1] is 1; the levels must decrease (previous 0.75)'],
    ['a flow sigma above 1', (m) => (m.steps.sigmas['1'] = [1.5]), 'manifest.json: steps.sigmas.1[0] is 1.5, outside (0, 1]'],
    ['too few sigmas for the step count', (m) => (m.steps.sigmas['4'] = [1, 0.5]), 'manifest.json: steps.sigmas.4 has 2 values for 4 steps'],
    ['a default step count without sigmas', (m) => (m.steps.default = 3), 'manifest.json: steps.default is 3, but sigmas has no entry for it'],
    ['a path leaving the bundle', (m) => (m.denoiser.onnx = '../secret.onnx'), 'manifest.json: denoiser.onnx "../secret.onnx" is not a relative path inside the bundle'],
    ['an ONNX file not listed in files', (m) => (m.denoiser.onnx = 'other.onnx'), 'manifest.json: denoiser.onnx names "other.onnx", which is not in files'],
    ['a file listed twice', (m) => m.files.push({ ...m.files[0] }), 'manifest.json: files[4].path "text_encoder.onnx" is listed twice (files[4])'],
    ['a malformed hash', (m) => (m.files[1].sha256 = 'abc'), 'manifest.json: files[1].sha256 must be 64 lowercase hex digits, got "abc"'],
    ['text conditioning without a text encoder', (m) => delete m.textEncoder, 'manifest.json: textEncoder is missing (required when conditioning is "text")'],
    ['label conditioning without labels', (m) => (m.conditioning = 'label'), 'manifest.json: denoiser.inputs.label is missing (required when conditioning is "label")'],
    ['a bad date', (m) => (m.provenance.date = 'yesterday'), 'manifest.json: provenance.date is "yesterday", not an ISO 8601 date'],
    ['a prompt accuracy above 1', (m) => (m.metrics.promptAccuracy = 87), 'manifest.json: metrics.promptAccuracy must be <= 1, got 87'],
    ['pixel space without a resolution', (m) => delete m.resolution, 'manifest.json: resolution is missing (required for pixel space)'],
  ])('refuses %s, naming the field', async (_, edit, message) => {
    const text = await edited(edit);
    expect(() => parseManifest(text)).toThrow(BundleError);
    expect(() => parseManifest(text)).toThrow(message);
  });

  it('refuses text that is not JSON or not an object', () => {
    expect(() => parseManifest('{"name": "x",')).toThrow(/^manifest\.json: is not valid JSON: /);
    expect(() => parseManifest('[1, 2]')).toThrow('manifest.json: must be a JSON object, got an array');
  });

  it('carries the file and the field on the error', async () => {
    try {
      parseManifest(await edited((m) => (m.shift = 0)));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BundleError);
      expect((error as BundleError).file).toBe('manifest.json');
      expect((error as BundleError).field).toBe('shift');
      expect((error as Error).message).toBe('manifest.json: shift must be > 0, got 0');
    }
  });

  it('accepts a label-conditioned point model without text encoder or resolution', async () => {
    const draft: Record<string, any> = { ...exampleDraft(), conditioning: 'label', labels: ['any', 'east-west'], space: { type: 'points', dims: 2 } };
    delete draft.textEncoder;
    delete draft.resolution;
    draft.denoiser = { onnx: 'denoiser.onnx', inputs: { sample: 'sample', sigma: 'sigma', label: 'label' }, outputs: { prediction: 'velocity' } };
    draft.steps = { default: 50, schedule: 'euler-grid', sigmas: { '2': [1, 0.5] } };
    draft.steps.sigmas['50'] = Array.from({ length: 50 }, (_, i) => 1 - i / 50);
    const files = [{ path: 'denoiser.onnx', bytes: 10, sha256: '0'.repeat(64) }];
    const m = parseManifest({ ...draft, files });
    expect(m.labels).toEqual(['any', 'east-west']);
    expect(m.textEncoder).toBeUndefined();
  });
});

describe('validateManifest with files', () => {
  it('accepts sizes and hashes given without the bytes (a listing)', async () => {
    const { manifest } = await exampleBundle();
    const facts = new Map(manifest.files.map((f) => [f.path, { bytes: f.bytes, sha256: f.sha256 }]));
    await expect(validateManifest(manifest, facts)).resolves.toEqual(manifest);
    facts.set('denoiser.onnx', { bytes: facts.get('denoiser.onnx')!.bytes, sha256: 'f'.repeat(64) });
    await expect(validateManifest(manifest, facts)).rejects.toThrow(/^denoiser\.onnx: sha256 mismatch: expected [0-9a-f]{64}, got f{64}$/);
  });
});

describe('checkOnnxInterface', () => {
  const spec = exampleDraft().denoiser;

  it('names an input the graph lacks, with the inputs it has', () => {
    expect(() => checkOnnxInterface('denoiser', spec, denoiserModel('x'))).toThrow(
      'denoiser.onnx: has no input "sample" (manifest.json denoiser.inputs.sample); its inputs: x, sigma, encoder_hidden_states, encoder_attention_mask, pooled_text',
    );
  });

  it('names an input the graph needs that the manifest does not feed', () => {
    const { pooledText: _, ...inputs } = spec.inputs;
    expect(() => checkOnnxInterface('denoiser', { ...spec, inputs }, denoiserModel())).toThrow(
      'denoiser.onnx: needs input "pooled_text", which manifest.json denoiser.inputs does not name',
    );
  });

  it('names a missing output', () => {
    const model = interfaceModel([floatValue('sample', null), floatValue('sigma', null)], ['v']);
    expect(() => checkOnnxInterface('denoiser', { onnx: 'denoiser.onnx', inputs: { sample: 'sample', sigma: 'sigma' }, outputs: { prediction: 'velocity' } }, model)).toThrow(
      'denoiser.onnx: has no output "velocity" (manifest.json denoiser.outputs.prediction); its outputs: v',
    );
  });

  it('refuses bytes that are not ONNX, naming the file', () => {
    expect(() => checkOnnxInterface('denoiser', spec, new TextEncoder().encode('<html>'))).toThrow(/^denoiser\.onnx: not a valid ONNX model/);
  });
});

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 test vector', async () => {
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
