// Every result, newest first, kept in IndexedDB (state/historyStore.ts): a click restores its settings, Delete
// removes it. A PNG picked here (or dropped anywhere on the page) restores the settings it carries.
import { useShallow } from 'zustand/react/shallow';
import { restoreFromFile, useGenerate } from '../state/generate';
import { providerLabel } from '../state/generation';
import type { HistoryEntry } from '../state/history';
import { useHistory } from '../state/historyStore';
import { useObjectUrl } from './PixelImage';

function Entry({ entry }: { entry: HistoryEntry }) {
  const url = useObjectUrl(entry.png);
  const restore = useGenerate((s) => s.restore);
  const remove = useHistory((s) => s.remove);
  const { settings } = entry;
  const label = settings.prompt || '(empty prompt)';
  return (
    <li className="history-entry">
      <button type="button" className="restore" aria-label={`Restore settings: ${label}, seed ${settings.seed}`} onClick={() => restore(settings, `the history entry "${label}" (seed ${settings.seed})`)}>
        {url ? <img src={url} alt="" width={64} height={64} className="pixelated" /> : <span className="thumb-placeholder" />}
        <span className="text">
          <span className="prompt">{label}</span>
          <span className="meta">
            seed {settings.seed} · {settings.steps} step{settings.steps === 1 ? '' : 's'} · {settings.model} · {providerLabel(entry.provider)}
          </span>
        </span>
      </button>
      <time dateTime={new Date(entry.createdAt).toISOString()} data-machine-specific>
        {new Date(entry.createdAt).toLocaleTimeString('en-GB')}
      </time>
      <button type="button" className="delete" aria-label={`Delete: ${label}, seed ${settings.seed}`} onClick={() => void remove(entry.id)}>
        Delete
      </button>
    </li>
  );
}

export function HistoryPanel() {
  const { entries, total, status, error, clear, dismissError } = useHistory(
    useShallow((s) => ({ entries: s.entries, total: s.total, status: s.status, error: s.error, clear: s.clear, dismissError: s.dismissError })),
  );
  return (
    <section className="history" aria-labelledby="history-heading" aria-busy={status === 'loading'}>
      <div className="section-head">
        <h3 id="history-heading">History</h3>
        <span className="count">{total === 1 ? '1 result' : `${total} results`}</span>
        <label className="file-button">
          Restore settings from a PNG
          <input
            type="file"
            accept="image/png,.png"
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file) void restoreFromFile(file);
            }}
          />
        </label>
        {total > 0 && (
          <button type="button" onClick={() => void clear()}>
            Clear history
          </button>
        )}
      </div>
      {error && (
        <div role="alert" className="notice error">
          {error}{' '}
          <button type="button" onClick={dismissError}>
            Dismiss
          </button>
        </div>
      )}
      {entries.length === 0 ? (
        <p className="hint">No results yet. Every image you generate is kept here (in this browser), with its settings; you can also drop a PNG from this app anywhere on the page.</p>
      ) : (
        <ul aria-label="History" className="history-list">
          {entries.map((entry) => (
            <Entry key={entry.id} entry={entry} />
          ))}
        </ul>
      )}
    </section>
  );
}
