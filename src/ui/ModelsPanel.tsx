// Models beyond the bundled ones: load a bundle from a URL or a local folder into this browser's model cache (OPFS;
// every file checked against the manifest's sizes and hashes before anything is written, so a bad bundle leaves
// nothing behind), list what is cached with sizes, delete, and show how much storage the site uses.
import { useEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { canPickDirectory, pickDirectory } from '../pipeline/localFolder';
import { modelSummary } from '../pipeline/modelInfo';
import { useGenerate } from '../state/generate';
import { allModels, findModel, useModels } from '../state/models';
import { formatBytes } from './format';

function FolderInput({ onFiles, disabled }: { onFiles: (files: File[]) => void; disabled: boolean }) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (ref.current) ref.current.webkitdirectory = true;
  }, []);
  return (
    <label className="field">
      <span>Model folder</span>
      <input
        ref={ref}
        type="file"
        multiple
        disabled={disabled}
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = '';
          if (files.length > 0) onFiles(files);
        }}
      />
    </label>
  );
}

export function ModelsPanel() {
  const { bundled, bundledProblems, cached, status, storage, job, error, refresh, cacheFromUrl, cacheFromFolder, remove } = useModels(
    useShallow((s) => ({
      bundled: s.bundled,
      bundledProblems: s.bundledProblems,
      cached: s.cached,
      status: s.status,
      storage: s.storage,
      job: s.job,
      error: s.error,
      refresh: s.refresh,
      cacheFromUrl: s.cacheFromUrl,
      cacheFromFolder: s.cacheFromFolder,
      remove: s.remove,
    })),
  );
  const selectModel = useGenerate((s) => s.selectModel);
  const [url, setUrl] = useState('');
  const [name, setName] = useState('');
  const running = job.state === 'running';
  const select = (entry: { id: string } | null) => entry && selectModel(entry.id);
  // A deleted model that was selected gives way to the first one left.
  const keepSelection = () => {
    if (!findModel(useGenerate.getState().modelId)) {
      const first = allModels()[0];
      if (first) selectModel(first.id);
    }
  };

  return (
    <details className="models" onToggle={(e) => (e.currentTarget.open ? void refresh() : undefined)}>
      <summary>
        <h3>Models</h3>
        <span className="hint">bundled, cached in this browser, or loaded from a URL or a folder</span>
      </summary>
      {bundledProblems.map((problem) => (
        <div role="alert" className="notice error" key={problem}>
          A bundled model cannot be used: {problem}
        </div>
      ))}
      <h4>Bundled with the app</h4>
      <ul className="model-list">
        {bundled.map((m) => (
          <li key={m.id}>
            <strong>{m.name}</strong> ({modelSummary(m.manifest)}, {formatBytes(m.bytes)}){m.manifest.description ? `: ${m.manifest.description}` : ''}
          </li>
        ))}
      </ul>

      <h4>Load a model bundle</h4>
      <p className="hint">A folder with manifest.json and the files it lists. It is checked (sizes, sha256, ONNX inputs and outputs) and kept in this browser's storage.</p>
      <form
        className="load-url"
        onSubmit={(e) => {
          e.preventDefault();
          if (url.trim()) void cacheFromUrl(url.trim(), name).then(select);
        }}
      >
        <label className="field url">
          <span>Model URL</span>
          <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.org/models/shapes-student/" />
        </label>
        <label className="field narrow-wide">
          <span>Cache as (optional)</span>
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} placeholder="the manifest's name" />
        </label>
        <button type="submit" disabled={running || !url.trim()}>
          Load from URL
        </button>
      </form>
      <div className="load-folder">
        {canPickDirectory() ? (
          <button
            type="button"
            disabled={running}
            onClick={() =>
              void pickDirectory().then(
                (dir) => dir && cacheFromFolder(dir, name).then(select),
                (err: unknown) => useModels.setState({ job: { state: 'error', message: err instanceof Error ? err.message : String(err) } }),
              )
            }
          >
            Load from folder…
          </button>
        ) : (
          <FolderInput disabled={running} onFiles={(files) => void cacheFromFolder(files, name).then(select)} />
        )}
      </div>
      {job.state === 'running' && (
        <div role="status" className="progress">
          <span>{job.what}</span>
          <progress max={1} {...(job.fraction !== null ? { value: job.fraction } : {})} aria-label="Caching progress" />
        </div>
      )}
      {job.state === 'done' && <p role="status">{job.message}</p>}
      {job.state === 'error' && (
        <div role="alert" className="notice error">
          {job.message}
        </div>
      )}
      {error && (
        <div role="alert" className="notice error">
          {error}
        </div>
      )}

      <h4>Cached in this browser</h4>
      {status === 'ready' && cached.length === 0 && <p className="hint">No models cached yet.</p>}
      {cached.length > 0 && (
        <table className="cached" aria-label="Cached models">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Size</th>
              <th scope="col">Files</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {cached.map((m) => (
              <tr key={m.name}>
                <th scope="row">{m.name}</th>
                <td>{m.manifest ? modelSummary(m.manifest) : <span className="error-text">{m.problem}</span>}</td>
                <td>{formatBytes(m.bytes)}</td>
                <td>{m.files}</td>
                <td>
                  <button type="button" aria-label={`Delete cached model ${m.name}`} onClick={() => void remove(m.name).then(keepSelection)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {storage && (
        <p className="storage">
          Storage used by this site:{' '}
          <span data-machine-specific>
            {formatBytes(storage.usage)} of {formatBytes(storage.quota)}
            {storage.persisted ? ' (persistent)' : ' (the browser may evict it under storage pressure)'}
          </span>
        </p>
      )}
    </details>
  );
}
