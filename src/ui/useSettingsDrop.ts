// A file dropped anywhere on the page: a PNG made by this app restores its settings in the Generate tab; anything
// else gets a message there saying why it cannot (state/generate.ts restoreFromFile).
import { useEffect } from 'react';
import { restoreFromFile } from '../state/generate';

export function useSettingsDrop(): void {
  useEffect(() => {
    const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
    const onDragOver = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault(); // lets the drop happen (the browser would otherwise open the file)
      event.dataTransfer!.dropEffect = 'copy';
    };
    const onDrop = (event: DragEvent) => {
      const file = event.dataTransfer?.files[0];
      if (!file) return;
      event.preventDefault();
      void restoreFromFile(file);
    };
    globalThis.addEventListener('dragover', onDragOver);
    globalThis.addEventListener('drop', onDrop);
    return () => {
      globalThis.removeEventListener('dragover', onDragOver);
      globalThis.removeEventListener('drop', onDrop);
    };
  }, []);
}
