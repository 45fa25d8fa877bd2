/**
 * Parses a briefing's Markdown in a worker thread, under a time budget, a memory cap and a depth
 * limit, so no body — cmark's pathological inputs included (thousands of nested `*`, `[` or `>`) —
 * can stall a build or crash it with a stack overflow. A body over a limit is a message on the
 * briefing, not a failure of the tool.
 *
 * One worker serves the process, one body at a time (the budget starts when the worker gets the
 * body, not while it waits); a worker stopped at its budget is replaced for the next body.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Root } from 'mdast';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import { unified } from 'unified';
import type { Point } from 'unist';

/**
 * Processor time allowed to parse one briefing body, in milliseconds. Processor time, not wall time:
 * a busy machine must not turn an ordinary briefing into a refused one. Where the thread's processor
 * time cannot be read (not Linux), wall time is used.
 */
export const markdownParseTimeoutMs = 3000;
/** However busy the machine, a parse never runs longer than this, in milliseconds of wall time. */
export const wallClockBackstopMs = 30_000;
/** Deepest Markdown tree accepted (lists, quotes and emphasis nested inside each other). */
export const maxMarkdownDepth = 128;
/** Heap of the parsing worker, in MiB. */
export const workerHeapMebibytes = 256;

/** Why a body could not be parsed, as a message on the briefing. */
export interface ParseProblem {
  reason: string;
  ruleId: string;
  place?: Point | undefined;
}

/** A parsed body, or why it could not be parsed. */
export type ParseResult = { tree: Root } | { problem: ParseProblem };

/** Why a parse over the budget was stopped, for {@link tooComplex}. */
export const overTimeBudget = `takes more than ${markdownParseTimeoutMs / 1000} s of processor time to parse`;
/** Why a parse that ran out of heap was stopped, for {@link tooComplex}. */
export const outOfMemory = `needs more than ${workerHeapMebibytes} MiB to parse`;
/** Why a parse whose thread stopped was given up, for {@link tooComplex}. */
export const stopped = 'stopped the parser';

/** The problem of a body the parser could not finish within the limits, saying why. */
export function tooComplex(why: string): ParseProblem {
  return {
    reason: `Unexpected Markdown that ${why}, expected ordinary text; split the briefing or simplify its nesting of lists, quotes, links and emphasis`,
    ruleId: 'markdown-too-complex',
  };
}

/** The problem of a body nested deeper than {@link maxMarkdownDepth}, at its deepest node. */
function tooDeep(depth: number, place: Point | undefined): ParseProblem {
  return {
    reason: `Unexpected Markdown nested ${depth} levels deep, expected at most ${maxMarkdownDepth}; flatten the lists, quotes or emphasis here`,
    ruleId: 'markdown-depth',
    place,
  };
}

type WorkerReply = { tree: Root } | { tooDeep: { depth: number; place?: Point } } | { failed: string };

interface Request {
  text: string;
  resolve: (result: ParseResult) => void;
}

/** A parsing worker and whether it has loaded the parser (its `ready` message, with its thread id). */
interface ParserWorker {
  thread: Worker;
  ready: Promise<{ tid: number | null } | false>;
}

/** Processor time a thread of this process has used, in milliseconds (Linux), if it can be read. */
export function threadCpuMs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in clock ticks of 1/100 s (USER_HZ on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

const queue: Request[] = [];
let worker: ParserWorker | undefined;
let busy = false;

function startWorker(): ParserWorker {
  const thread = new Worker(new URL('./parse-worker.mjs', import.meta.url), {
    workerData: { maxDepth: maxMarkdownDepth },
    resourceLimits: { maxOldGenerationSizeMb: workerHeapMebibytes, stackSizeMb: 8 },
  });
  // An idle worker must not keep the process alive.
  thread.unref();
  const ready = new Promise<{ tid: number | null } | false>((resolve) => {
    thread.once('message', (message: { tid?: number | null }) => resolve({ tid: message.tid ?? null }));
    thread.once('error', () => resolve(false));
    thread.once('exit', () => resolve(false));
  });
  return { thread, ready };
}

async function next(): Promise<void> {
  if (busy) return;
  const request = queue.shift();
  if (!request) return;
  busy = true;
  const started = worker ?? startWorker();
  worker = started;
  // Held while it works; loading the parser can take a while on a busy machine and does not count
  // against the body's budget.
  started.thread.ref();
  const ready = await started.ready;
  const current = started.thread;
  if (!ready) {
    worker = undefined;
    busy = false;
    request.resolve({
      problem: { reason: 'Unexpected failure to start the Markdown parser', ruleId: 'markdown-too-complex' },
    });
    void next();
    return;
  }
  let settled = false;
  const finish = (result: ParseResult, replaceWorker: boolean) => {
    if (settled) return;
    settled = true;
    clearInterval(timer);
    current.off('message', onMessage);
    current.off('error', onError);
    current.off('exit', onExit);
    current.unref();
    if (replaceWorker) {
      void current.terminate();
      if (worker === started) worker = undefined;
    }
    busy = false;
    request.resolve(result);
    void next();
  };
  const onMessage = (reply: WorkerReply) => {
    if ('tree' in reply) finish({ tree: reply.tree }, false);
    else if ('tooDeep' in reply)
      finish({ problem: tooDeep(reply.tooDeep.depth, reply.tooDeep.place) }, false);
    else finish({ problem: tooComplex(`the parser could not read (${reply.failed})`) }, true);
  };
  const onError = (error: Error) => {
    const code = (error as NodeJS.ErrnoException).code;
    finish(
      {
        problem: tooComplex(
          code === 'ERR_WORKER_OUT_OF_MEMORY' ? outOfMemory : `the parser could not read (${error.message})`,
        ),
      },
      true,
    );
  };
  const onExit = () => finish({ problem: tooComplex(stopped) }, true);
  const overBudget = () => finish({ problem: tooComplex(overTimeBudget) }, true);
  const tid = ready.tid;
  const cpuAtStart = tid === null ? undefined : threadCpuMs(tid);
  const startedAt = performance.now();
  const timer = setInterval(() => {
    const wall = performance.now() - startedAt;
    const cpu = tid === null || cpuAtStart === undefined ? undefined : threadCpuMs(tid);
    const used = cpu === undefined || cpuAtStart === undefined ? wall : cpu - cpuAtStart;
    if (used > markdownParseTimeoutMs || wall > wallClockBackstopMs) overBudget();
  }, 50);
  current.on('message', onMessage);
  current.on('error', onError);
  current.on('exit', onExit);
  current.postMessage({ text: request.text });
}

/**
 * Starts the parsing worker before the first body is sent, so that it loads the parser while this
 * thread does other work: a build reads and validates its source and starts the browser meanwhile
 * (a build of one edited briefing waited 0.3-0.4 s for the worker otherwise).
 */
export function startMarkdownParser(): void {
  worker ??= startWorker();
}

/** Parses a Markdown body (remark-parse and remark-gfm) within the limits above. */
export function parseMarkdown(text: string): Promise<ParseResult> {
  return new Promise((resolve) => {
    queue.push({ text, resolve });
    void next();
  });
}

/** The parser of `parse-worker.mjs`, for {@link parseMarkdownInThisThread}. */
const parser = unified().use(remarkParse).use(remarkGfm).freeze();

/** The depth of the tree and its deepest node, found without recursion (the tree may be very deep). */
function deepest(tree: Root): { depth: number; place: Point | undefined } {
  let best: { depth: number; node: { position?: { start: Point } | undefined } } = { depth: 0, node: tree };
  const stack: Array<[{ children?: unknown[]; position?: { start: Point } | undefined }, number]> = [
    [tree, 0],
  ];
  for (let entry = stack.pop(); entry; entry = stack.pop()) {
    const [node, depth] = entry;
    if (depth > best.depth) best = { depth, node };
    for (const child of (node.children ?? []) as Array<(typeof entry)[0]>) stack.push([child, depth + 1]);
  }
  return { depth: best.depth, place: best.node.position?.start };
}

/**
 * Parses a body on the calling thread, with the depth limit and the same answers as
 * {@link parseMarkdown} but no time or memory budget of its own: only for a worker thread whose
 * parent enforces the budget by stopping the whole thread (`parallel-check.ts`), so no tree has to be
 * copied between threads.
 */
export function parseMarkdownInThisThread(text: string): ParseResult {
  let tree: Root;
  try {
    tree = parser.parse(text);
  } catch (error) {
    return {
      problem: tooComplex(
        `the parser could not read (${error instanceof Error ? error.message : String(error)})`,
      ),
    };
  }
  const { depth, place } = deepest(tree);
  return depth > maxMarkdownDepth ? { problem: tooDeep(depth, place) } : { tree };
}
