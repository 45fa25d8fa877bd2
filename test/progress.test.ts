import { describe, expect, it } from 'vitest';
import {
  createProgress,
  liveProgress,
  type ProgressEvent,
  type ProgressStream,
  plainProgress,
} from '../pipeline/lib/progress.ts';

/** A stream that records what is written to it. */
function fakeStream(isTTY: boolean, columns?: number): ProgressStream & { text: string; writes: string[] } {
  const stream = {
    isTTY,
    columns,
    text: '',
    writes: [] as string[],
    write(chunk: string) {
      stream.text += chunk;
      stream.writes.push(chunk);
      return true;
    },
  };
  return stream;
}

/** What a terminal shows after the writes: `\r` returns to column 1, erase-line empties it. */
function screen(text: string): string[] {
  const lines: string[] = [''];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: reading terminal control sequences is the point.
  for (const part of text.split(/(\r\u001b\[2K|\r|\n)/)) {
    if (part === '\r\u001b[2K' || part === '\r') lines[lines.length - 1] = '';
    else if (part === '\n') lines.push('');
    else lines[lines.length - 1] += part;
  }
  return lines;
}

/** A small build as `build.ts` reports it: two quick stages, then four documents printed two at a time. */
const build: ProgressEvent[] = [
  { type: 'stage-start', stage: 'read' },
  { type: 'stage-end', stage: 'read', ms: 4, failed: false },
  { type: 'stage-start', stage: 'validate' },
  { type: 'stage-end', stage: 'validate', ms: 15, failed: false },
  { type: 'stage-start', stage: 'print' },
  { type: 'item', stage: 'print', item: 'pack.pdf', done: 0, total: 4, finished: false },
  { type: 'item', stage: 'print', item: 'brief.pdf', done: 0, total: 4, finished: false },
  { type: 'item', stage: 'print', item: 'brief.pdf', done: 1, total: 4, finished: true },
  { type: 'item', stage: 'print', item: 'briefings/a.pdf', done: 1, total: 4, finished: false },
  { type: 'item', stage: 'print', item: 'pack.pdf', done: 2, total: 4, finished: true },
  { type: 'item', stage: 'print', item: 'briefs/a.pdf', done: 2, total: 4, finished: false },
  { type: 'item', stage: 'print', item: 'briefings/a.pdf', done: 3, total: 4, finished: true },
  { type: 'item', stage: 'print', item: 'briefs/a.pdf', done: 4, total: 4, finished: true },
  { type: 'stage-end', stage: 'print', ms: 8694, failed: false },
  { type: 'stage-start', stage: 'post-process' },
  { type: 'stage-end', stage: 'post-process', ms: 2374, failed: true },
];

describe('progress off a terminal (CI)', () => {
  it('writes one line per stage with its time, and counts the documents printed', () => {
    const stream = fakeStream(false);
    const display = createProgress(stream);
    for (const event of build) display.update(event);
    display.finish();
    expect(stream.text).toBe(
      [
        'read              4 ms',
        'validate         15 ms',
        'print          8694 ms  4 documents',
        'post-process   2374 ms, failed',
        '',
      ].join('\n'),
    );
    expect(stream.text).not.toContain('\r');
    expect(stream.text).not.toContain('\u001b');
  });

  it('writes a note as a line of its own', () => {
    const stream = fakeStream(false);
    const display = plainProgress(stream);
    display.update({ type: 'stage-start', stage: 'browser' });
    display.note('Running as root: Chromium starts without its sandbox (--no-sandbox).');
    display.update({ type: 'stage-end', stage: 'browser', ms: 1506, failed: false });
    expect(stream.text).toBe(
      'Running as root: Chromium starts without its sandbox (--no-sandbox).\nbrowser        1506 ms\n',
    );
  });
});

describe('progress on a terminal', () => {
  it('keeps one line up to date: the stage, the count and the document in progress', () => {
    const stream = fakeStream(true, 80);
    const display = createProgress(stream);
    const seen: string[] = [];
    for (const event of build) {
      display.update(event);
      seen.push(screen(stream.text).at(-1) ?? '');
    }
    expect(seen).toEqual([
      'read…',
      '',
      'validate…',
      '',
      'print…',
      'print 0/4 · pack.pdf…',
      'print 0/4 · pack.pdf…',
      'print 1/4 · pack.pdf…',
      'print 1/4 · pack.pdf…',
      'print 2/4 · briefings/a.pdf…',
      'print 2/4 · briefings/a.pdf…',
      'print 3/4 · briefs/a.pdf…',
      'print 4/4…',
      '',
      'post-process…',
      '',
    ]);
    // Everything on one line: no line feed until the report.
    expect(stream.text).not.toContain('\n');
    expect(stream.text).toContain('\r\u001b[2K');
  });

  it('leaves a clean line for the report when the build ends mid-stage', () => {
    const stream = fakeStream(true, 80);
    const display = liveProgress(stream);
    display.update({ type: 'stage-start', stage: 'print' });
    display.update({ type: 'item', stage: 'print', item: 'pack.pdf', done: 0, total: 9, finished: false });
    display.finish();
    expect(screen(stream.text)).toEqual(['']);
    display.finish();
    expect(stream.writes.filter((chunk) => chunk === '\r\u001b[2K')).toHaveLength(1);
  });

  it('writes a note above the live line and draws the line again below it', () => {
    const stream = fakeStream(true, 80);
    const display = liveProgress(stream);
    display.update({ type: 'stage-start', stage: 'browser' });
    display.note('Running as root: Chromium starts without its sandbox (--no-sandbox).');
    expect(screen(stream.text)).toEqual([
      'Running as root: Chromium starts without its sandbox (--no-sandbox).',
      'browser…',
    ]);
  });

  it('never writes past the width of the terminal, so the line cannot wrap', () => {
    const stream = fakeStream(true, 40);
    const display = liveProgress(stream);
    display.update({ type: 'stage-start', stage: 'print' });
    const item = `briefings/${'a-very-long-briefing-id-'.repeat(4)}.pdf`;
    display.update({ type: 'item', stage: 'print', item, done: 37, total: 204, finished: false });
    const line = screen(stream.text).at(-1) ?? '';
    expect(line).toBe('print 37/204 · briefings/a-very-long-b…');
    expect(line.length).toBe(39);
  });

  it('shows control characters in a document name as text', () => {
    const stream = fakeStream(true, 80);
    const display = liveProgress(stream);
    display.update({ type: 'stage-start', stage: 'print' });
    display.update({
      type: 'item',
      stage: 'print',
      item: 'x\u001b]0;t\u0007.pdf',
      done: 0,
      total: 1,
      finished: false,
    });
    const drawn = stream.text.replaceAll('\r\u001b[2K', '');
    expect([...drawn].filter((character) => character < ' ')).toEqual([]);
    expect(screen(stream.text).at(-1)).toBe('print 0/1 · x\\u001B]0;t\\u0007.pdf…');
  });
});
