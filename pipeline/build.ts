/**
 * The orchestrator: runs the stages in order, wraps anything thrown with the stage's name (keeping the
 * cause), times each stage, and decides the exit code. `check` stops before the browser.
 */
import path from 'node:path';
import type { VFile } from 'vfile';
import { readSource } from './01-read-source.ts';
import { validateSource } from './02-validate-source.ts';
import { convertMarkdown } from './03-convert-markdown.ts';
import type { Manifest } from './08-write-output.ts';
import type { BrowserSession } from './lib/browser.ts';
import { epochFor, sourceDateEpoch } from './lib/epoch.ts';
import { ExitCode, type ExitCodeValue, exitCodeFor, SourceErrors, StageError } from './lib/errors.ts';
import { capMessages, countErrors } from './lib/messages.ts';
import type { BuildFiles } from './lib/model.ts';
import { lockOutputFolder } from './lib/output-folder.ts';
import { type ParallelBodyChecks, startParallelBodyChecks } from './lib/parallel-check.ts';

/** Options of {@link runBuild}. */
export interface BuildOptions {
  sourceDir: string;
  outDir: string;
  /** `check` validates and checks the bodies only: no templates, no browser, no output. */
  mode: 'build' | 'check';
  browser?: string | undefined;
  browserEndpoint?: string | undefined;
  /**
   * The bundled worker that shares a check's body checks (`check-worker.js`); without it, or for a
   * small pack, a check runs on one thread.
   */
  checkWorker?: URL | undefined;
  concurrency?: number | undefined;
  /** Reports a line of progress. */
  log?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** What a build did, for the reporter and `--json`. */
export interface BuildResult {
  exitCode: ExitCodeValue;
  /** Every source file read, with its messages. */
  sources: VFile[];
  manifest?: Manifest;
  /** Milliseconds per stage, in order. */
  timings: Record<string, number>;
  /** The error that ended the build, when it was not the source's. */
  failure?: unknown;
  outDir: string;
}

/** Below this many briefings, a second thread costs more to start than it saves. */
const minBriefingsForWorker = 40;

/** The second thread of a check, or none if it cannot start: one thread does the same work. */
function tryStartParallel(workerUrl: URL): ParallelBodyChecks | undefined {
  try {
    return startParallelBodyChecks(workerUrl);
  } catch {
    return undefined;
  }
}

/** Runs a build or a check. Never throws: failures come back with their exit code. */
export async function runBuild(options: BuildOptions): Promise<BuildResult> {
  const log = options.log ?? (() => undefined);
  const timings: Record<string, number> = {};
  const outDir = path.resolve(options.outDir);
  const result: BuildResult = { exitCode: ExitCode.ok, sources: [], timings, outDir };

  const stage = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } catch (cause) {
      if (cause instanceof StageError || cause instanceof SourceErrors) throw cause;
      throw new StageError(name, undefined, { cause });
    } finally {
      timings[name] = Math.round(performance.now() - started);
    }
  };
  const stopOnSourceErrors = () => {
    const errors = countErrors(result.sources);
    if (errors > 0) throw new SourceErrors(errors);
  };

  let session: BrowserSession | undefined;
  let release: (() => Promise<void>) | undefined;
  let parallel: ParallelBodyChecks | undefined;
  try {
    sourceDateEpoch();
    let files: BuildFiles = await stage('read', () => readSource({ sourceDir: options.sourceDir }));
    result.sources = [files.pack, ...files.briefings];
    // The worker loads while this thread validates the headers, then both check the bodies.
    if (options.mode === 'check' && options.checkWorker && files.briefings.length >= minBriefingsForWorker) {
      parallel = tryStartParallel(options.checkWorker);
      parallel?.start(files.sourceDir, files.briefings);
      if (parallel) log(`Checking ${files.briefings.length} briefings on two threads`);
    }
    files = await stage('validate', () => validateSource(files));
    // Bodies of briefings whose header has errors are checked too: one run reports every problem.
    const withHeaderErrors = result.sources.filter(
      (file) => file !== files.pack && file.data.bodyStart && !file.data.briefing,
    );
    // A Set: with no valid briefing, validation hands back every briefing read, these included.
    const toCheck = { ...files, briefings: [...new Set([...files.briefings, ...withHeaderErrors])] };
    const sharing = parallel;
    await stage('convert', async () => {
      if (sharing) await sharing.finish(new Set(toCheck.briefings));
      else await convertMarkdown(toCheck, { mode: options.mode });
    });
    for (const file of result.sources) capMessages(file);
    stopOnSourceErrors();
    // `check` stops here: the templates only lay out what was checked, and need no source.
    if (options.mode === 'check') return result;
    const epoch = epochFor(files.pack.data.pack?.date);
    // Loaded only when building, so `check` never pays for LiquidJS, puppeteer and pdf-lib.
    const [
      { applyTemplates },
      { printPdfs },
      { postProcessPdfs },
      { packageEpub },
      { writeOutput },
      { defaultConcurrency, openBrowser },
    ] = await Promise.all([
      import('./04-apply-templates.ts'),
      import('./05-print-pdfs.ts'),
      import('./06-post-process-pdfs.ts'),
      import('./07-package-epub.ts'),
      import('./08-write-output.ts'),
      import('./lib/browser.ts'),
    ]);
    files = await stage('templates', () => applyTemplates(files));

    release = (await stage('lock', () => lockOutputFolder(outDir))).release;
    session = await stage('browser', () =>
      openBrowser({
        executablePath: options.browser,
        endpoint: options.browserEndpoint,
        log,
        signal: options.signal,
      }),
    );
    const browserVersion = session.version;
    const activeSession = session;
    files = await stage('print', () =>
      printPdfs(files, {
        session: activeSession,
        concurrency: options.concurrency ?? defaultConcurrency(),
        log,
      }),
    );
    await session.close();
    session = undefined;
    files = await stage('post-process', () =>
      postProcessPdfs(files, { epochSeconds: epoch, browserVersion }),
    );
    files = await stage('epub', () => packageEpub(files, { epochSeconds: epoch }));
    result.manifest = await stage('write', () =>
      writeOutput(files, { outDir, epochSeconds: epoch, browserVersion }),
    );
    return result;
  } catch (error) {
    result.exitCode = exitCodeFor(error);
    if (result.exitCode !== ExitCode.sourceErrors) result.failure = error;
    return result;
  } finally {
    await parallel?.close();
    await session?.close();
    await release?.();
  }
}
