/**
 * `check` on worker threads. Checking the bodies (stage 3 in check mode) is most of the work of a
 * check; two worker threads start on them as soon as the files are read, while the main thread
 * validates the headers (stage 2). Each worker takes the next briefing from one shared counter, parses
 * it on its own thread and sends back only the messages, never a tree.
 *
 * The main thread keeps the Markdown parse budget of `parse-markdown.ts` for them: it watches each
 * worker's processor time while it parses and stops a worker that goes over, refusing that body as
 * `parseMarkdown` would (`markdown-too-complex`); a new worker takes the rest. The workers check every
 * body; the main thread keeps the messages only for the briefings the one-thread path checks too
 * (those in the pack, and those whose header has errors), so the report is the same either way.
 */
import { Worker } from 'node:worker_threads';
import type { VFile } from 'vfile';
import { checkBriefing } from '../03-convert-markdown.ts';
import {
  markdownParseTimeoutMs,
  outOfMemory,
  overTimeBudget,
  stopped,
  threadCpuMs,
  tooComplex,
  wallClockBackstopMs,
  workerHeapMebibytes,
} from './markdown/parse-markdown.ts';
import { error, warning } from './messages.ts';

/** A message as it crosses between threads. */
export interface SerialisedMessage {
  reason: string;
  ruleId: string;
  fatal: boolean;
  start: { line: number; column: number };
  end?: { line: number; column: number };
}

/** The slots of a worker's `watch` array, written by the worker around each parse. */
export enum Watch {
  /** 1 while a body is parsed, else 0. */
  parsing = 0,
  /** The index (in the request) of the briefing being parsed. */
  index = 1,
  /** The line its body starts on, where a refusal is reported. */
  bodyLine = 2,
  /** The worker's processor time when the parse started, in milliseconds; -1 if unknown. */
  cpuAtStart = 3,
  /** Wall time when the parse started, in milliseconds after the request's `clockStart`. */
  wallAtStart = 4,
}

/** What the main thread sends a worker: the briefings to check, and the shared counter. */
export interface BodyCheckRequest {
  sourceDir: string;
  /** Each briefing, its text as bytes `start` to `end` of `text`. */
  briefings: Array<{ index: number; path: string; start: number; end: number }>;
  /**
   * The texts of the briefings in UTF-8, shared by every worker: copying 2 MB of strings to each
   * worker cost more than the whole decoding. Exact: a text read from a file (stage 1) has no lone
   * surrogate, the only thing UTF-8 cannot carry.
   */
  text: SharedArrayBuffer;
  /** One `Int32`: the position of the next briefing to take. */
  counter: SharedArrayBuffer;
  /** `Int32` slots, see {@link Watch}. */
  watch: SharedArrayBuffer;
  /** `Date.now()` when the request was made, so wall times fit in an `Int32`. */
  clockStart: number;
}

/** The messages of one briefing a worker checked. */
export interface BodyCheckResult {
  index: number;
  messages: SerialisedMessage[];
}

/** What a worker says: loaded (with its thread id), a briefing checked, all done, or why it failed. */
export type CheckWorkerMessage =
  | { ready: true; tid: number | null }
  | { results: BodyCheckResult[] }
  | { done: true }
  | { failure: string };

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

/** Body checks shared by worker threads; see the module comment. */
export interface ParallelBodyChecks {
  /** Hands the workers the briefings as read; they start at once. */
  start(sourceDir: string, briefings: readonly VFile[]): void;
  /** Waits until every body is checked; then adds the messages of `wanted` briefings to their files. */
  finish(wanted: ReadonlySet<VFile>): Promise<void>;
  /** Stops the workers (safe to call at any time, and more than once). */
  close(): Promise<void>;
}

/** How a worker ended: all its briefings checked, stopped over a body's limit, or failed otherwise. */
type Outcome = 'done' | 'stopped' | 'failed';

/**
 * Starts the workers of `check`: `workerUrl` is the bundled `check-worker.js`, `threads` how many
 * workers check bodies at once.
 */
export function startParallelBodyChecks(workerUrl: URL, threads = 2): ParallelBodyChecks {
  const results = new Map<number, SerialisedMessage[]>();
  const live = new Set<Worker>();
  let briefings: VFile[] = [];
  let sourceDir = '';
  let failed = false;
  let closed = false;
  let checked: Promise<void> = Promise.resolve();

  /** Runs one worker on `request` until it is done, stopped or failed; keeps the watch on its parses. */
  const runWorker = (request: BodyCheckRequest): Promise<Outcome> =>
    new Promise((resolve) => {
      let worker: Worker;
      try {
        worker = new Worker(workerUrl, {
          // The limits of the parsing worker (`parse-markdown.ts`), as this thread parses too; a larger
          // young generation, as parsing Markdown makes many short-lived objects.
          resourceLimits: {
            maxOldGenerationSizeMb: workerHeapMebibytes,
            maxYoungGenerationSizeMb: 64,
            stackSizeMb: 8,
          },
        });
      } catch {
        resolve('failed');
        return;
      }
      live.add(worker);
      const watch = new Int32Array(request.watch);
      // Unknown until the worker is ready; null where it cannot be read (then wall time counts).
      let tid: number | null | undefined;
      let settled = false;
      const end = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        live.delete(worker);
        if (outcome !== 'done') void worker.terminate();
        resolve(outcome);
      };
      /** Refuses the body being parsed, if one is, saying why; false if none is. */
      const refuse = (why: string): boolean => {
        if (Atomics.load(watch, Watch.parsing) !== 1) return false;
        const problem = tooComplex(why);
        results.set(watch[Watch.index] ?? 0, [
          {
            reason: problem.reason,
            ruleId: problem.ruleId,
            fatal: true,
            start: { line: watch[Watch.bodyLine] ?? 1, column: 1 },
          },
        ]);
        return true;
      };
      worker.on('message', (message: CheckWorkerMessage) => {
        if ('ready' in message) tid = message.tid;
        else if ('results' in message) {
          // A body refused over its budget keeps its refusal, even if its parse ended meanwhile.
          for (const result of message.results)
            if (!results.has(result.index)) results.set(result.index, result.messages);
        } else if ('done' in message) end('done');
        else {
          failed = true;
          end('failed');
        }
      });
      worker.on('error', (error: Error) => {
        if (settled || closed) return end('failed');
        const code = (error as NodeJS.ErrnoException).code;
        const why =
          code === 'ERR_WORKER_OUT_OF_MEMORY' ? outOfMemory : `the parser could not read (${error.message})`;
        if (refuse(why)) end('stopped');
        else {
          failed = true;
          end('failed');
        }
      });
      worker.on('exit', () => {
        if (settled || closed) return end('failed');
        if (refuse(stopped)) end('stopped');
        else {
          failed = true;
          end('failed');
        }
      });
      const timer = setInterval(() => {
        if (Atomics.load(watch, Watch.parsing) !== 1) return;
        const cpuAtStart = watch[Watch.cpuAtStart] ?? -1;
        const wall = Date.now() - request.clockStart - (watch[Watch.wallAtStart] ?? 0);
        if (tid === undefined && wall <= wallClockBackstopMs) return;
        const cpu = tid === null || tid === undefined || cpuAtStart < 0 ? undefined : threadCpuMs(tid);
        const used = cpu === undefined ? wall : cpu - cpuAtStart;
        if ((used > markdownParseTimeoutMs || wall > wallClockBackstopMs) && refuse(overTimeBudget))
          end('stopped');
      }, 50);
      // The worker keeps the process alive while it works; the watch alone must not.
      timer.unref();
      worker.postMessage(request);
    });

  /** Checks `indexes` on up to `count` workers; a worker stopped over a body is replaced. */
  const runRound = (indexes: number[], count: number): Promise<void> => {
    const counter = new SharedArrayBuffer(4);
    const claimed = new Int32Array(counter);
    const values = indexes.map((index) => String((briefings[index] as VFile).value));
    const text = new SharedArrayBuffer(values.reduce((sum, value) => sum + Buffer.byteLength(value), 0));
    const bytes = Buffer.from(text);
    let end = 0;
    const items = indexes.map((index, position) => {
      const start = end;
      end += bytes.write(values[position] ?? '', start);
      return { index, path: (briefings[index] as VFile).path, start, end };
    });
    const request = (): BodyCheckRequest => ({
      sourceDir,
      briefings: items,
      text,
      counter,
      watch: new SharedArrayBuffer(5 * Int32Array.BYTES_PER_ELEMENT),
      clockStart: Date.now(),
    });
    return new Promise((resolve) => {
      let running = 0;
      const launch = () => {
        running++;
        void runWorker(request()).then((outcome) => {
          running--;
          if (outcome === 'stopped' && !closed && Atomics.load(claimed, 0) < items.length) launch();
          if (running === 0) resolve();
        });
      };
      for (let started = 0; started < Math.min(count, items.length); started++) launch();
      if (running === 0) resolve();
    });
  };

  return {
    start(folder, read) {
      sourceDir = folder;
      briefings = read.filter((file) => file.messages.length === 0);
      checked = (async () => {
        let pending = briefings.map((_, index) => index);
        // A worker stopped over a body loses the briefings it had started beside it: check those again.
        while (pending.length > 0 && !failed && !closed) {
          await runRound(pending, threads);
          pending = pending.filter((index) => !results.has(index));
        }
      })();
    },
    async finish(wanted) {
      await checked;
      for (const [index, file] of briefings.entries()) {
        if (!wanted.has(file)) continue;
        const messages = results.get(index);
        if (messages) addMessages(file, messages);
        // A worker could not start or finish (its bundle went away, or a check threw): this thread
        // checks what it did not. A check that throws throws here too, with its cause.
        else await checkBriefing(file, sourceDir);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...live].map((worker) => worker.terminate()));
    },
  };
}
