/**
 * `check` on two threads. Checking the bodies (stage 3 in check mode) is most of the work of a check;
 * a worker thread starts on them as soon as the files are read, while the main thread validates the
 * headers (stage 2), then joins in. Each thread takes the next briefing from one shared counter.
 *
 * The worker checks every body it takes; the main thread keeps its messages only for the briefings
 * the one-thread path checks too (those in the pack, and those whose header has errors), so the
 * report is the same either way.
 */
import { Worker } from 'node:worker_threads';
import type { VFile } from 'vfile';
import { checkBriefing } from '../03-convert-markdown.ts';
import { error, warning } from './messages.ts';

/** A message as it crosses between threads. */
export interface SerialisedMessage {
  reason: string;
  ruleId: string;
  fatal: boolean;
  start: { line: number; column: number };
  end?: { line: number; column: number };
}

/** What the main thread sends the worker: every readable briefing, and the shared counter. */
export interface BodyCheckRequest {
  sourceDir: string;
  briefings: Array<{ path: string; value: string }>;
  /** One `Int32`: the index of the next briefing to take. */
  counter: SharedArrayBuffer;
}

/** The messages of one briefing the worker checked. */
export interface BodyCheckResult {
  index: number;
  messages: SerialisedMessage[];
}

/** The messages of a file, as plain data. */
export function serialiseMessages(file: VFile): SerialisedMessage[] {
  return file.messages.map((message) => {
    const serialised: SerialisedMessage = {
      reason: message.reason,
      ruleId: message.ruleId ?? 'unknown',
      fatal: message.fatal === true,
      start: { line: message.line ?? 1, column: message.column ?? 1 },
    };
    const end = message.place && 'end' in message.place ? message.place.end : undefined;
    if (end) serialised.end = { line: end.line, column: end.column };
    return serialised;
  });
}

function addMessages(file: VFile, messages: readonly SerialisedMessage[]): void {
  for (const message of messages) {
    const report = message.fatal ? error : warning;
    const place = message.end ? { start: message.start, end: message.end } : message.start;
    report(file, message.reason, { ruleId: message.ruleId, place });
  }
}

/** What the worker answers: the messages of each briefing it took, or why it could not. */
interface Answer {
  results?: BodyCheckResult[];
  failure?: string;
}

/** Body checks shared with a worker thread; see the module comment. */
export interface ParallelBodyChecks {
  /** Hands the worker the briefings as read; it starts at once. */
  start(sourceDir: string, briefings: readonly VFile[]): void;
  /**
   * Checks, on this thread too, until every body is taken; then adds the messages of `wanted`
   * briefings to their files.
   */
  finish(wanted: ReadonlySet<VFile>): Promise<void>;
  /** Stops the worker (safe to call at any time, and more than once). */
  close(): Promise<void>;
}

/** Starts the worker of `check`: `workerUrl` is the bundled `check-worker.js`. */
export function startParallelBodyChecks(workerUrl: URL): ParallelBodyChecks {
  const worker = new Worker(workerUrl, {
    // A larger young generation: parsing Markdown makes many short-lived objects.
    resourceLimits: { maxYoungGenerationSizeMb: 64 },
  });
  worker.unref();
  const reply = new Promise<Answer>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`The check worker stopped (exit code ${code})`)));
  });
  // Keeps an early `close()` from leaving an unhandled rejection behind.
  reply.catch(() => undefined);
  const counter = new SharedArrayBuffer(4);
  const claimed = new Int32Array(counter);
  let briefings: VFile[] = [];
  let sourceDir = '';
  let closed = false;

  return {
    start(folder, read) {
      sourceDir = folder;
      briefings = read.filter((file) => file.messages.length === 0);
      const request: BodyCheckRequest = {
        sourceDir,
        briefings: briefings.map((file) => ({ path: file.path, value: String(file.value) })),
        counter,
      };
      worker.postMessage(request);
    },
    async finish(wanted) {
      const checkedHere = new Set<VFile>();
      const takeNext = async (): Promise<void> => {
        for (;;) {
          const index = Atomics.add(claimed, 0, 1);
          const file = briefings[index];
          if (!file) return;
          checkedHere.add(file);
          if (wanted.has(file)) await checkBriefing(file, sourceDir);
        }
      };
      await Promise.all([takeNext(), takeNext(), takeNext(), takeNext()]);
      const answer: Answer = await reply.catch((cause: unknown) => ({ failure: String(cause) }));
      if (answer.failure === undefined) {
        for (const result of answer.results ?? []) {
          const file = briefings[result.index];
          if (file && wanted.has(file)) addMessages(file, result.messages);
        }
        return;
      }
      // The worker could not finish (it failed to start, its bundle went away, or a check threw):
      // this thread checks what it did not. A check that throws throws here too, with its cause.
      for (const file of briefings) {
        if (wanted.has(file) && !checkedHere.has(file)) await checkBriefing(file, sourceDir);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await worker.terminate();
    },
  };
}
