/**
 * Characters the bundled fonts cannot print are reported where the author wrote them, before any
 * printing: otherwise Chromium would quietly take the glyph from a system font (and the build would
 * then fail its font check with no position to point at).
 */
import type { VFile } from 'vfile';
import { fontFaces } from './fonts.ts';
import { error } from './messages.ts';

/** At most this many unsupported characters are reported per file. */
const maxReportsPerFile = 10;

function coveredRanges(): Array<[number, number]> {
  const ranges = fontFaces.flatMap((face) => face.ranges).sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const last = merged.at(-1);
    if (last && start <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

const ranges = coveredRanges();

/**
 * A character the loop below would report: covered by no face and not a control character (those
 * have a rule of their own). Most files have none, and one regular expression scan finds that out
 * far faster than the loop over every character.
 */
const possiblyUncovered = new RegExp(
  `[^\\u{0}-\\u{1f}${ranges.map(([start, end]) => `\\u{${start.toString(16)}}-\\u{${end.toString(16)}}`).join('')}]`,
  'u',
);

/** Whether some bundled face covers a code point. */
export function isCovered(codePoint: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [start, end] = ranges[middle] ?? [0, -1];
    if (codePoint < start) high = middle - 1;
    else if (codePoint > end) low = middle + 1;
    else return true;
  }
  return false;
}

/**
 * Reports every character of a source file that no bundled font covers, at its line and column.
 * YAML comment lines of the first `headerLines` lines (`# …`) are not printed and are skipped.
 */
export function reportUncoveredCharacters(file: VFile, headerLines = 0): void {
  const text = String(file.value ?? '');
  if (!possiblyUncovered.test(text)) return;
  let reported = 0;
  let line = 1;
  let column = 1;
  let skipLine = false;
  let atLineStart = true;
  let run: { characters: string; line: number; column: number } | undefined;
  const flush = () => {
    if (!run || reported >= maxReportsPerFile) return;
    reported++;
    run.characters = run.characters.trimEnd();
    const codes = [...run.characters].map(
      (character) => `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
    );
    const what = codes.length === 1 ? 'character' : 'characters';
    const shown = codes.length > 4 ? `${codes.slice(0, 4).join(' ')} …` : codes.join(' ');
    error(
      file,
      `Unexpected ${what} \`${run.characters}\` (${shown}) that the bundled fonts cannot print; remove ${codes.length === 1 ? 'it' : 'them'} or write ${codes.length === 1 ? 'it' : 'them'} another way`,
      { ruleId: 'unsupported-character', place: { line: run.line, column: run.column } },
    );
    run = undefined;
  };
  for (const character of text) {
    if (character === '\n') {
      flush();
      line++;
      column = 1;
      skipLine = false;
      atLineStart = true;
      continue;
    }
    if (atLineStart && character !== ' ' && character !== '\t') {
      skipLine = line <= headerLines && character === '#';
      atLineStart = false;
    }
    const codePoint = character.codePointAt(0) ?? 0;
    if (!skipLine && codePoint >= 0x20 && !isCovered(codePoint)) {
      if (run) run.characters += character;
      else run = { characters: character, line, column };
    } else if (run && !/\s/.test(character)) {
      flush();
    } else if (run) {
      run.characters += character;
    }
    // Columns count UTF-16 units, as every other position of the pipeline does.
    column += character.length;
  }
  flush();
}

/** Checks the pack and every briefing of a build; messages go on the files. */
export function checkFontCoverage(files: { pack: VFile; briefings: readonly VFile[] }): void {
  const packLines = String(files.pack.value ?? '').split('\n').length;
  reportUncoveredCharacters(files.pack, packLines);
  for (const briefing of files.briefings) {
    reportUncoveredCharacters(briefing, (briefing.data.bodyStart?.line ?? 1) - 1);
  }
}
