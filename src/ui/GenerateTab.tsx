// The Generate tab: controls, the result, teacher vs student, the history, and the models.
import { useGenerate } from '../state/generate';
import { ComparePanel } from './ComparePanel';
import { GenerateControls } from './GenerateControls';
import { HistoryPanel } from './HistoryPanel';
import { ModelsPanel } from './ModelsPanel';
import { ResultPanel } from './ResultPanel';

function Notice() {
  const notice = useGenerate((s) => s.notice);
  const showNotice = useGenerate((s) => s.showNotice);
  if (!notice) return null;
  const dismiss = (
    <button type="button" className="dismiss" onClick={() => showNotice(null)}>
      Dismiss
    </button>
  );
  return notice.kind === 'error' ? (
    <div role="alert" className="notice error">
      {notice.text} {dismiss}
    </div>
  ) : (
    <div role="status" className="notice info">
      {notice.text} {dismiss}
    </div>
  );
}

export function GenerateTab() {
  return (
    <section aria-labelledby="generate-heading" className="generate">
      <h2 id="generate-heading">Generate</h2>
      <Notice />
      <GenerateControls />
      <ResultPanel />
      <ComparePanel />
      <HistoryPanel />
      <ModelsPanel />
    </section>
  );
}
