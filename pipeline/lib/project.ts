/** Where the project's own files are, and what the tool calls itself. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root folder (the one holding `package.json`). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

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
