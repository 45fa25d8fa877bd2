/**
 * A worker thread of `check`: checks briefing bodies, parse included, while the main thread validates
 * the headers. The workers take the next briefing from one shared counter and send each briefing's
 * messages as soon as it is checked; see `parallel-check.ts`. Runs only from the bundle
 * `scripts/run.mjs` makes.
 *
 * The Markdown is parsed on this thread, so no tree is copied between threads. The parse budget is
 * kept by the main thread, which watches this thread's processor time while it parses (the `watch`
 * array, written here around each parse) and stops the whole thread when a body goes over it.
 */
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { VFile } from 'vfile';
import { checkBriefing } from '../03-convert-markdown.ts';
import { splitFrontMatter } from './front-matter.ts';
import { parseMarkdownInThisThread } from './markdown/parse-markdown.ts';
import {
  type BodyCheckRequest,
  type BodyCheckResult,
  type CheckWorkerMessage,
  serialiseMessages,
  Watch,
} from './parallel-check.ts';

/** The `/proc` file of this thread (Linux), whose processor time the main thread reads. */
function threadId(): number | null {
  try {
    return Number(readFileSync('/proc/thread-self/stat', 'utf8').split(' ', 1)[0]) || null;
  } catch {
    return null;
  }
}

/** Processor time this thread has used, in milliseconds, or -1 where it cannot be read. */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks of 1/100 s (USER_HZ on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return -1;
  }
}

function post(message: CheckWorkerMessage): void {
  parentPort?.postMessage(message);
}

post({ ready: true, tid: threadId() });

parentPort?.once('message', async (request: BodyCheckRequest) => {
  try {
    const claimed = new Int32Array(request.counter);
    const watch = new Int32Array(request.watch);
    const text = Buffer.from(request.text);
    // Sent a few at a time: one message per briefing cost more than checking some of them. A
    // worker stopped over a body loses the results it had not sent; those bodies are checked again.
    const pending: BodyCheckResult[] = [];
    const report = (result: BodyCheckResult) => {
      pending.push(result);
      if (pending.length >= 25) post({ results: pending.splice(0) });
    };
    const takeNext = async (): Promise<void> => {
      for (;;) {
        const position = Atomics.add(claimed, 0, 1);
        const briefing = request.briefings[position];
        if (!briefing) return;
        const value = text.toString('utf8', briefing.start, briefing.end);
        // The split is the main thread's too (stage 2); its problems are reported there.
        const split = splitFrontMatter(new VFile(), value);
        if (!split) {
          report({ index: briefing.index, messages: [] });
          continue;
        }
        const file = new VFile({ path: briefing.path, value });
        file.data.bodyStart = { line: split.bodyLine, offset: split.bodyOffset };
        // Synchronous: no other briefing of this thread runs while one is parsed.
        const parse = (body: string) => {
          watch[Watch.index] = briefing.index;
          watch[Watch.bodyLine] = split.bodyLine;
          watch[Watch.cpuAtStart] = threadCpuMs();
          watch[Watch.wallAtStart] = Date.now() - request.clockStart;
          Atomics.store(watch, Watch.parsing, 1);
          try {
            return parseMarkdownInThisThread(body);
          } finally {
            Atomics.store(watch, Watch.parsing, 0);
          }
        };
        await checkBriefing(file, request.sourceDir, parse);
        report({ index: briefing.index, messages: serialiseMessages(file) });
      }
    };
    await Promise.all([takeNext(), takeNext(), takeNext(), takeNext()]);
    post({ results: pending.splice(0) });
    post({ done: true });
  } catch (cause) {
    post({ failure: cause instanceof Error ? (cause.stack ?? cause.message) : String(cause) });
  }
});
