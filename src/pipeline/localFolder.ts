// A model bundle from a folder on the user's disk, read into memory as path -> bytes (paths relative to the
// folder, '/'-separated, as in the manifest): from a FileSystemDirectoryHandle (the File System Access API's
// showDirectoryPicker, a dropped folder's getAsFileSystemHandle(), or an OPFS folder), or from the FileList
// of an <input type="file" webkitdirectory> where that API is missing (Firefox, Safari).
// Then: validateManifest / modelCache.put(name, files) check and keep it.

export interface ReadFolderOptions {
  /** Read only the files whose path passes (e.g. those the manifest lists); default: all. */
  filter?: (path: string) => boolean;
}

/** Every file under `dir`, recursively. */
export async function readDirectoryHandle(dir: FileSystemDirectoryHandle, options: ReadFolderOptions = {}): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  async function walk(folder: FileSystemDirectoryHandle, prefix: string): Promise<void> {
    for await (const handle of folder.values()) {
      const path = prefix + handle.name;
      if (handle.kind === 'directory') await walk(handle, `${path}/`);
      else if (!options.filter || options.filter(path)) files.set(path, new Uint8Array(await (await handle.getFile()).arrayBuffer()));
    }
  }
  await walk(dir, '');
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * A file's path inside the picked folder: webkitRelativePath without its first segment (the folder's own
 * name: "shapes-student/tokenizer/tokenizer.json" -> "tokenizer/tokenizer.json"), or the file name when
 * the files were picked without a folder.
 */
export function pathInFolder(file: File): string {
  const relative = file.webkitRelativePath;
  return relative ? relative.slice(relative.indexOf('/') + 1) : file.name;
}

/** The picked folder's name (a default name for the cached model), or null when the files came without one. */
export function folderName(files: FileList | Iterable<File>): string | null {
  for (const file of Array.from(files)) {
    const relative = file.webkitRelativePath;
    if (relative.includes('/')) return relative.slice(0, relative.indexOf('/'));
  }
  return null;
}

/** Every file of an <input webkitdirectory> selection. */
export async function readFileList(files: FileList | Iterable<File>, options: ReadFolderOptions = {}): Promise<Map<string, Uint8Array>> {
  const picked = Array.from(files)
    .map((file) => [pathInFolder(file), file] as const)
    .filter(([path]) => !options.filter || options.filter(path))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const read = new Map<string, Uint8Array>();
  for (const [path, file] of picked) read.set(path, new Uint8Array(await file.arrayBuffer()));
  return read;
}

type DirectoryPicker = (options?: { id?: string; mode?: 'read' | 'readwrite' }) => Promise<FileSystemDirectoryHandle>;

/** Whether this browser can pick a folder with showDirectoryPicker (Chromium); otherwise use <input webkitdirectory>. */
export function canPickDirectory(): boolean {
  return typeof (globalThis as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker === 'function';
}

/** Asks the user for a folder (call it from a click); null when they cancel. */
export async function pickDirectory(): Promise<FileSystemDirectoryHandle | null> {
  const picker = (globalThis as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;
  if (!picker) throw new Error('This browser cannot pick folders (no showDirectoryPicker): use the folder input instead');
  try {
    return await picker({ id: 'senseflow-model', mode: 'read' });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') return null;
    throw error;
  }
}
