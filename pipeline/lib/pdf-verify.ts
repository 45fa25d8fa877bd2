/**
 * The verification of a finished PDF: parsed strictly by pdf-lib with the expected page count (one
 * for a brief), and `qpdf --check` when qpdf is installed. The build runs it on each PDF as soon as it
 * is post-processed (while the browser prints the next); the write stage then only has to confirm that
 * each file as written has the digest of the bytes verified.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ArtifactKind } from './model.ts';
import { loadPdf } from './pdf-read.ts';

const execFileAsync = promisify(execFile);

let qpdfNotice = false;

/** Whether qpdf is installed; says once, through `log`, when it is not. */
export function qpdfAvailable(log?: (line: string) => void): boolean {
  const found = (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((folder) => folder && existsSync(path.join(folder, 'qpdf')));
  if (!found && !qpdfNotice) {
    qpdfNotice = true;
    log?.(
      'qpdf is not installed: PDFs are verified with pdf-lib only (sudo apt-get install -y qpdf for the full check).',
    );
  }
  return found;
}

/**
 * What is wrong with the PDF in `file` (its bytes `bytes`), or undefined when nothing is: it must
 * parse, have `pages` pages (one for a brief) and pass `qpdf --check`. qpdf starts first and checks
 * in its own process while this thread parses.
 */
export async function pdfProblem(
  file: string,
  bytes: Uint8Array,
  expected: { kind: ArtifactKind; pages?: number | undefined },
  log?: (line: string) => void,
): Promise<string | undefined> {
  const qpdf = qpdfAvailable(log) ? qpdfCheck(file) : Promise.resolve(undefined);
  // Not awaited when the PDF fails first: its answer is then not needed.
  qpdf.catch(() => undefined);
  let pages: number;
  try {
    pages = (await loadPdf(bytes)).getPageCount();
  } catch (cause) {
    return `does not parse as a PDF: ${(cause as Error).message}`;
  }
  if (expected.pages !== undefined && pages !== expected.pages)
    return `has ${pages} pages, not ${expected.pages}`;
  if ((expected.kind === 'brief-pdf' || expected.kind === 'briefing-brief-pdf') && pages !== 1)
    return `has ${pages} pages; a brief has one`;
  const output = await qpdf;
  return output === undefined ? undefined : `fails qpdf --check: ${output}`;
}

/**
 * Runs `qpdf --check` on `file`: undefined when it passes, else the last two lines qpdf said. The
 * check runs in this process when qpdf's library loads ({@link qpdfLibrary}); otherwise it goes to one
 * shell started for the checks, which runs qpdf for each file in turn: starting a process from Node
 * copies its page tables, tens of milliseconds with a build's heap; the shell starts qpdf in one or two.
 */
async function qpdfCheck(file: string): Promise<string | undefined> {
  // Once loaded, the library is taken at once: the check then starts before this call returns, not
  // after whatever the caller does next on this thread (reading the PDF's text takes a few hundred ms).
  const library = loadedQpdfLibrary() ?? (await qpdfLibrary());
  const status = await library?.check(file).catch(() => undefined);
  if (status === 0) return undefined;
  // What qpdf says is wrong comes from the program itself: the library ran with its output discarded.
  if (status !== undefined) return (await qpdfCheckAlone(file)) ?? `qpdf --check exited with ${status}`;
  if (qpdfChecker === undefined) qpdfChecker = startQpdfChecker();
  const checker = qpdfChecker;
  if (!checker || file.includes('\n')) return qpdfCheckAlone(file);
  let answer: string;
  try {
    answer = await new Promise<string>((resolve, reject) => {
      checker.waiting.push({ resolve, reject });
      checker.keepAlive(true);
      checker.process.stdin.write(`${file}\n`);
    });
  } catch {
    // The shell stopped before it answered: this check runs on its own; the next starts a new shell.
    return qpdfCheckAlone(file);
  }
  return answer === '0' ? undefined : answer.replace(/^\d+ /, '').trim();
}

/** `qpdf --check` in a process of its own: what {@link qpdfCheck} says, without the shell. */
async function qpdfCheckAlone(file: string): Promise<string | undefined> {
  try {
    await execFileAsync('qpdf', ['--check', file]);
    return undefined;
  } catch (cause) {
    // As the shell reports it: the last two lines qpdf wrote, to either stream.
    const { stdout = '', stderr = '' } = cause as { stdout?: string; stderr?: string };
    const output = `${stdout}\n${stderr}`.trim() || (cause as Error).message;
    return output.split('\n').slice(-2).join(' ');
  }
}

interface QpdfChecker {
  process: ChildProcessWithoutNullStreams;
  /** The checks sent, in order; the shell answers each with a line, in the same order. */
  waiting: Array<{ resolve: (answer: string) => void; reject: (cause: Error) => void }>;
  /** Whether the shell keeps Node running: while checks are waiting, not when idle. */
  keepAlive(alive: boolean): void;
}

/** The shell of {@link qpdfCheck}: undefined until started, null where it cannot start. */
let qpdfChecker: QpdfChecker | undefined | null;

/**
 * The shell that runs the checks: it reads a file name per line, runs qpdf on it, and answers on one
 * line, `0` when it passes, else qpdf's exit status and the last two lines of its output. It ends
 * when Node does (its input closes).
 */
function startQpdfChecker(): QpdfChecker | null {
  const script = [
    'while IFS= read -r f; do',
    '  out=$(qpdf --check "$f" 2>&1); status=$?',
    '  if [ "$status" = 0 ]; then echo 0;',
    "  else printf '%s %s\\n' \"$status\" \"$(printf '%s\\n' \"$out\" | tail -n 2 | tr '\\n' ' ')\"; fi",
    'done',
  ].join('\n');
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn('sh', ['-c', script], { stdio: 'pipe' });
  } catch {
    return null;
  }
  const streams = [child.stdin, child.stdout, child.stderr] as unknown as Array<{
    ref?: () => void;
    unref?: () => void;
  }>;
  const checker: QpdfChecker = {
    process: child,
    waiting: [],
    keepAlive: (alive) => {
      if (alive) child.ref();
      else child.unref();
      for (const stream of streams) (alive ? stream.ref : stream.unref)?.call(stream);
    },
  };
  const fail = (cause: Error) => {
    if (qpdfChecker === checker) qpdfChecker = undefined;
    for (const waiting of checker.waiting.splice(0)) waiting.reject(cause);
  };
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) checker.waiting.shift()?.resolve(line.trim());
    if (checker.waiting.length === 0) checker.keepAlive(false);
  });
  child.on('error', fail);
  child.on('exit', () => fail(new Error('the qpdf checker stopped')));
  child.stdin.on('error', () => undefined);
  checker.keepAlive(false);
  return checker;
}

/** qpdf's library in this process: `check` runs `qpdf --check` on a file and answers its exit status. */
interface QpdfLibrary {
  check(file: string): Promise<number>;
  /** How many checks qpdf is running now: none or one. */
  running(): number;
}

let qpdfLibraryLoading: Promise<QpdfLibrary | undefined> | undefined;
/** The library once {@link qpdfLibrary} has loaded it; undefined before, or where it does not load. */
let qpdfLibraryLoaded: QpdfLibrary | undefined;

function loadedQpdfLibrary(): QpdfLibrary | undefined {
  return process.env.BRIEFING_PACK_QPDF_LIBRARY === 'off' ? undefined : qpdfLibraryLoaded;
}

/**
 * How many checks qpdf's library is running in this process now (none or one): a check asked for
 * while none runs is under way when {@link pdfBytesProblem} returns.
 */
export function qpdfChecksRunning(): number {
  return loadedQpdfLibrary()?.running() ?? 0;
}

/**
 * qpdf's own library (`libqpdf`, installed with qpdf), loaded into this process through koffi, or
 * undefined where it does not load or `BRIEFING_PACK_QPDF_LIBRARY=off`. It runs the same job as the
 * program (`qpdfjob_run_from_argv` with `qpdf --check FILE`), on a thread of Node's pool, one check at
 * a time, with qpdf's output discarded: without a process to start for each PDF, a check costs about
 * half the processor time (4.8 s instead of 8.7 s for the 202 PDFs of 100 briefings).
 */
export function qpdfLibrary(): Promise<QpdfLibrary | undefined> {
  if (process.env.BRIEFING_PACK_QPDF_LIBRARY === 'off') return Promise.resolve(undefined);
  qpdfLibraryLoading ??= loadQpdfLibrary().then((library) => {
    qpdfLibraryLoaded = library;
    return library;
  });
  return qpdfLibraryLoading;
}

/** Library names of qpdf 11 and later (soname 29 on), then any a loader finds. */
const qpdfLibraryNames = ['libqpdf.so.29', 'libqpdf.so.30', 'libqpdf.so', 'libqpdf.dylib', 'qpdf29.dll'];

async function loadQpdfLibrary(): Promise<QpdfLibrary | undefined> {
  try {
    const { default: koffi } = await import('koffi');
    let library: ReturnType<typeof koffi.load> | undefined;
    for (const name of qpdfLibraryNames) {
      try {
        library = koffi.load(name);
        break;
      } catch {
        // Not under this name.
      }
    }
    if (!library) return undefined;
    const defaultLogger = library.func('void *qpdflogger_default_logger()');
    const releaseLogger = library.func('void qpdflogger_cleanup(_Inout_ void **logger)');
    // `qpdf_log_dest_discard` (qpdflogger-c.h): what qpdf says goes nowhere; the exit status is the answer.
    const discard = 3;
    const logger = defaultLogger();
    for (const stream of ['info', 'warn', 'error'])
      library.func(`void qpdflogger_set_${stream}(void *logger, int dest, void *handler, void *data)`)(
        logger,
        discard,
        null,
        null,
      );
    releaseLogger([logger]);
    const run = library.func('int qpdfjob_run_from_argv(const char **argv)');
    let queue: Promise<unknown> = Promise.resolve();
    // Checks asked for and not yet answered; the first starts at once, the others after it, in turn.
    let asked = 0;
    let running = 0;
    const start = (file: string) =>
      new Promise<number>((resolve, reject) => {
        running += 1;
        run.async(['qpdf', '--check', file, null], (error: unknown, status: number) => {
          running -= 1;
          if (error) reject(error);
          else resolve(status);
        });
      });
    return {
      check: (file) => {
        const checked = asked === 0 ? start(file) : queue.then(() => start(file));
        asked += 1;
        queue = checked
          .catch(() => undefined)
          .finally(() => {
            asked -= 1;
          });
        return checked;
      },
      running: () => running,
    };
  } catch {
    return undefined;
  }
}

/** The folder of this process's files for qpdf (made on first use, removed when the process exits). */
let verifyFolder: string | undefined;
let verifyFiles = 0;
/** Whether the folder is in the temporary folder because shared memory could not take a file. */
let verifyOnDisk = false;

/**
 * Where the folder for qpdf's files is made: shared memory (`/dev/shm`, a file system in memory on
 * Linux) where there is one, else the system's temporary folder. Each PDF of a build is written there
 * once for its check: on this machine's disk, creating the 202 files of a build of 100 briefings took
 * this thread about 0.3 s (65 ms with nothing else running), against 7 ms in memory. The files are
 * removed once checked; where shared memory is small (a container's 64 MiB) and a file does not fit,
 * the folder moves to the temporary folder.
 */
function scratchParent(): string {
  return !verifyOnDisk && process.platform === 'linux' && existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
}

/**
 * A new file in this process's folder for qpdf, holding `bytes`. One folder for every check: making
 * and removing a folder per PDF cost 4 system calls more each (over 800 for the 202 PDFs of 100
 * briefings), and system calls are dear on a virtual machine. A folder removed under a running build
 * is made again.
 */
function writeForQpdf(bytes: Uint8Array): string {
  for (let attempt = 0; ; attempt++) {
    if (verifyFolder === undefined) {
      let folder: string;
      try {
        folder = mkdtempSync(path.join(scratchParent(), 'briefing-pack-verify-'));
      } catch (cause) {
        if (verifyOnDisk) throw cause;
        verifyOnDisk = true;
        continue;
      }
      verifyFolder = folder;
      process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
    }
    const file = path.join(verifyFolder, `${++verifyFiles}.pdf`);
    try {
      writeFileSync(file, bytes);
      return file;
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      rmSync(file, { force: true });
      if (attempt > 1) throw cause;
      // Shared memory full: from now on, the temporary folder. A folder removed under the build: again.
      if (code !== 'ENOENT') {
        if (verifyOnDisk) throw cause;
        verifyOnDisk = true;
      }
      verifyFolder = undefined;
    }
  }
}

/** This process's folder of files for qpdf, once made: each file is removed once checked. */
export function qpdfScratchFolder(): string | undefined {
  return verifyFolder;
}

/**
 * {@link pdfProblem} for bytes in memory, written for qpdf to a temporary file of their own. The file
 * is written before this returns, and qpdf's check started when its library is loaded and idle, so
 * that the check runs while the caller goes on with work of its own on this thread.
 */
export async function pdfBytesProblem(
  bytes: Uint8Array,
  expected: { kind: ArtifactKind; pages?: number | undefined },
  log?: (line: string) => void,
): Promise<string | undefined> {
  const file = writeForQpdf(bytes);
  try {
    return await pdfProblem(file, bytes, expected, log);
  } finally {
    await rm(file, { force: true });
  }
}
