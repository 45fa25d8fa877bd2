/**
 * What a build is doing, shown on stderr while it runs.
 *
 * - On a terminal: one line, rewritten in place (`\r` and erase-line), with the stage and, while
 *   printing, the document and the count: `print 3/6 · briefings/dprk-russia.pdf…`. The line is
 *   cleared when the build ends, so the report that follows starts on a clean line.
 * - Elsewhere (CI logs, pipes): one line per stage when it ends, with its time:
 *   `validate         15 ms`.
 *
 * `build.ts` reports {@link ProgressEvent}s; this file only draws them. No dependency.
 */
import { visibleControls } from './report.ts';

/** What a build reports as it goes. */
export type ProgressEvent =
  | { type: 'stage-start'; stage: string }
  | { type: 'stage-end'; stage: string; ms: number; failed: boolean }
  /** A document of a stage started (`done` of `total` finished so far) or finished. */
  | { type: 'item'; stage: string; item: string; done: number; total: number; finished: boolean };

/** The part of a stream progress writes to (`process.stderr`, or a fake in tests). */
export interface ProgressStream {
  isTTY?: boolean | undefined;
  columns?: number | undefined;
  write(chunk: string): unknown;
}

/** Draws a build's progress. */
export interface ProgressDisplay {
  /** Takes an event of the build. */
  update(event: ProgressEvent): void;
  /** Writes a line of its own (a notice, a `--verbose` line) without breaking the display. */
  note(line: string): void;
  /** Clears the live line; call before the final report. */
  finish(): void;
}

/** Width of the stage column of the plain lines (`post-process` and a space). */
const stageWidth = 13;

/** `\r` and "erase the whole line": the cursor back to column 1 of an empty line. */
const clearLine = '\r\u001b[2K';

/** A display that writes nothing (`--quiet`). */
export const silentProgress: ProgressDisplay = {
  update: () => undefined,
  note: () => undefined,
  finish: () => undefined,
};

/** The live display on a terminal, or the plain lines elsewhere, as the stream calls for. */
export function createProgress(
  stream: ProgressStream,
  options: { live?: boolean | undefined } = {},
): ProgressDisplay {
  return (options.live ?? stream.isTTY === true) ? liveProgress(stream) : plainProgress(stream);
}

/** One line per stage when it ends, with its time; documents are counted, not listed. */
export function plainProgress(stream: ProgressStream): ProgressDisplay {
  const items = new Map<string, number>();
  return {
    update(event) {
      if (event.type === 'item') {
        if (event.finished) items.set(event.stage, (items.get(event.stage) ?? 0) + 1);
        return;
      }
      if (event.type !== 'stage-end') return;
      const count = items.get(event.stage);
      const what = count === undefined ? '' : `  ${count} ${count === 1 ? 'document' : 'documents'}`;
      const time = `${String(event.ms).padStart(6)} ms${event.failed ? ', failed' : ''}`;
      stream.write(`${event.stage.padEnd(stageWidth)}${time}${what}\n`);
    },
    note(line) {
      stream.write(`${line}\n`);
    },
    finish: () => undefined,
  };
}

/** A single line rewritten in place: the running stage, and while printing the document and the count. */
export function liveProgress(stream: ProgressStream): ProgressDisplay {
  let shown = '';
  let stage = '';
  // Documents being worked on, in the order they started: the line names the oldest one.
  const active: string[] = [];
  let counts = { done: 0, total: 0 };
  const draw = (text: string) => {
    // One column short of the width: a line that wraps can no longer be erased with `\r`.
    const width = Math.max(20, (stream.columns || 80) - 1);
    const fitted = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    if (fitted === shown) return;
    stream.write(`${clearLine}${fitted}`);
    shown = fitted;
  };
  const redraw = () => {
    if (stage === '') return;
    const item = active[0];
    const count = counts.total > 0 ? ` ${counts.done}/${counts.total}` : '';
    draw(`${stage}${count}${item ? ` · ${item}` : ''}…`);
  };
  const clear = () => {
    if (shown === '') return;
    stream.write(clearLine);
    shown = '';
  };
  return {
    update(event) {
      if (event.type === 'stage-start') {
        stage = event.stage;
        active.length = 0;
        counts = { done: 0, total: 0 };
      } else if (event.type === 'stage-end') {
        if (event.stage === stage) stage = '';
        active.length = 0;
        counts = { done: 0, total: 0 };
        clear();
        return;
      } else {
        const item = visibleControls(event.item);
        const index = active.indexOf(item);
        if (event.finished && index >= 0) active.splice(index, 1);
        if (!event.finished && index < 0) active.push(item);
        counts = { done: event.done, total: event.total };
      }
      redraw();
    },
    note(line) {
      clear();
      stream.write(`${line}\n`);
      redraw();
    },
    finish: clear,
  };
}
