/** Where the project's own files are, and what the tool calls itself. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding `package.json` and `pipeline/`, found upwards from this module: it runs from
 * `pipeline/lib/` as TypeScript and from `.cache/check/…/` as the bundle `check` starts from.
 */
function findProjectRoot(start: string): string {
  let folder = start;
  while (!(existsSync(path.join(folder, 'package.json')) && existsSync(path.join(folder, 'pipeline')))) {
    const parent = path.dirname(folder);
    if (parent === folder) throw new Error(`No project folder (package.json and pipeline/) above ${start}`);
    folder = parent;
  }
  return folder;
}

/** The project's root folder (the one holding `package.json`). */
export const projectRoot = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path inside the project. */
export function projectPath(...segments: string[]): string {
  return path.join(projectRoot, ...segments);
}

const packageJson = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as {
  name: string;
  version: string;
};

/** The generator named in `manifest.json` and in PDF and EPUB metadata. */
export const generator = { name: packageJson.name, version: packageJson.version } as const;
