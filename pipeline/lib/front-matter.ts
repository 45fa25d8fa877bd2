/**
 * The split of a briefing into its front matter and its body. Only a `---` line opens front matter: an
 * engine tag such as `---js` is refused, never evaluated. Plain string work, so the body checks can
 * split a briefing without loading a YAML parser.
 */
import type { VFile } from 'vfile';
import { error } from './messages.ts';

/** Largest front matter read, in characters. */
export const maxFrontMatterLength = 64 * 1024;

/** The split of a Markdown file into front matter and body. */
export interface FrontMatterSplit {
  yaml: string;
  /** 1-based file line where the YAML text starts (the line after the opening `---`). */
  yamlLine: number;
  /** 0-based offset of the body in the file. */
  bodyOffset: number;
  /** 1-based file line where the body starts. */
  bodyLine: number;
}

const fence = /^---[ \t]*\r?$/;
const closingFence = /^(?:---|\.\.\.)[ \t]*\r?$/;

/**
 * Splits a briefing into its front matter and body. Only a `---` fence opens front matter; an engine
 * tag such as `---js` is refused, never evaluated.
 */
export function splitFrontMatter(file: VFile, text: string): FrontMatterSplit | undefined {
  const firstLineEnd = text.indexOf('\n');
  const firstLine = firstLineEnd === -1 ? text : text.slice(0, firstLineEnd);
  if (!fence.test(firstLine)) {
    const engine = /^---\s*([A-Za-z][\w-]*)/.exec(firstLine)?.[1];
    if (engine) {
      error(
        file,
        `Unexpected front matter engine \`${engine}\`, expected YAML between two \`---\` lines; remove \`${engine}\` and write the header in YAML`,
        { ruleId: 'front-matter-engine', place: { line: 1, column: 4 } },
      );
    } else {
      error(
        file,
        'Unexpected briefing without front matter, expected a YAML header between two `---` lines at the top (`title`, `date`, `summary`)',
        { ruleId: 'missing-front-matter', place: { line: 1, column: 1 } },
      );
    }
    return undefined;
  }
  let offset = firstLineEnd + 1;
  let line = 2;
  while (offset <= text.length && firstLineEnd !== -1) {
    const end = text.indexOf('\n', offset);
    const current = end === -1 ? text.slice(offset) : text.slice(offset, end);
    if (closingFence.test(current)) {
      const yaml = text.slice(firstLineEnd + 1, offset);
      if (yaml.length > maxFrontMatterLength) {
        error(
          file,
          `Unexpected front matter of ${yaml.length} characters, expected at most ${maxFrontMatterLength}; move long text into the body`,
          { ruleId: 'front-matter-too-large', place: { line: 1, column: 1 } },
        );
        return undefined;
      }
      const bodyOffset = end === -1 ? text.length : end + 1;
      return { yaml, yamlLine: 2, bodyOffset, bodyLine: line + 1 };
    }
    if (end === -1) break;
    offset = end + 1;
    line++;
  }
  error(file, 'Unexpected front matter without an end, expected a closing `---` line after the header', {
    ruleId: 'unclosed-front-matter',
    place: { line: 1, column: 1 },
  });
  return undefined;
}
