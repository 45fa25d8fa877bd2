/**
 * Messages on files: the one way the pipeline tells an author about a problem in the source.
 *
 * Wording follows remark-lint and Astro: "Unexpected X, expected Y", literal values in backticks, what
 * happened and then what to do. Rule ids are permanent once released.
 */
import type { Point, Position } from 'unist';
import type { VFile } from 'vfile';
import type { VFileMessage } from 'vfile-message';

/** The origin every message of this tool carries. */
export const messageSource = 'briefing-pack';

/** Where and under which rule a message is reported. */
export interface MessagePlace {
  ruleId: string;
  place?: Point | Position | undefined;
}

/** A problem with a whole file is reported at its start: every message has a line and a column. */
const fileStart: Point = { line: 1, column: 1 };

/** Reports an error on a file: the build will exit 1 and write nothing. */
export function error(
  file: VFile,
  reason: string,
  { ruleId, place = fileStart }: MessagePlace,
): VFileMessage {
  const message = file.message(reason, { place, ruleId, source: messageSource });
  message.fatal = true;
  return message;
}

/** Reports a warning on a file: the build goes on. */
export function warning(
  file: VFile,
  reason: string,
  { ruleId, place = fileStart }: MessagePlace,
): VFileMessage {
  const message = file.message(reason, { place, ruleId, source: messageSource });
  message.fatal = false;
  return message;
}

/** Number of errors (not warnings) reported on the files. */
export function countErrors(files: Iterable<VFile>): number {
  let count = 0;
  for (const file of files) for (const message of file.messages) if (message.fatal === true) count++;
  return count;
}

/** At most this many messages are reported per file; one more says how many were left out. */
export const maxMessagesPerFile = 100;

/**
 * Keeps the first `max` messages of a file, errors before warnings, and adds one that counts the
 * rest: past a hundred, more lines only hide the ones to fix first.
 */
export function capMessages(file: VFile, max = maxMessagesPerFile): void {
  if (file.messages.length <= max) return;
  const ranked = [...file.messages].sort(
    (a, b) =>
      Number(b.fatal === true) - Number(a.fatal === true) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
  const kept = ranked.slice(0, max);
  const rest = ranked.length - kept.length;
  const first = ranked[max];
  file.messages.splice(0, file.messages.length, ...kept);
  error(file, `Unexpected ${rest} more problems in this file, not listed; fix the ones above first`, {
    ruleId: 'too-many-problems',
    place: { line: first?.line ?? 1, column: first?.column ?? 1 },
  });
}
