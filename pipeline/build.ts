/**
 * The orchestrator: runs the stages in order, wraps anything thrown with the stage's name (keeping the
 * cause), times each stage, and decides the exit code. `check` stops before the browser.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { VFile } from 'vfile';
import type { RememberedHeader } from './02-validate-source.ts';
import type { Manifest } from './08-write-output.ts';
import { type BrowserPool, BuildInterrupted } from './lib/browser-pool.ts';
import {
  lookUpDocuments,
  openCache,
  packPartCache,
  printable,
  recordBuild,
  storeDocument,
} from './lib/build-cache.ts';
import type { ConversionCache } from './lib/conversion-cache.ts';
import { epochFor, sourceDateEpoch } from './lib/epoch.ts';
import { ExitCode, type ExitCodeValue, exitCodeFor, SourceErrors, StageError } from './lib/errors.ts';
import { checkFontCoverage } from './lib/font-coverage.ts';
import { Memo } from './lib/memo.ts';
import { capMessages, countErrors } from './lib/messages.ts';
import type { BuildFiles } from './lib/model.ts';
import { lockOutputFolder } from './lib/output-folder.ts';
import type { ParallelBodyChecks } from './lib/parallel-check.ts';
import type { ProgressEvent } from './lib/progress.ts';

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
  /** Time budget of a document in the browser, in milliseconds (large documents get more). */
  timeoutMs?: number | undefined;
  /** Fetch remote images (off by default): once each, by the pipeline, from public addresses only. */
  allowRemoteImages?: boolean | undefined;
  /**
   * The build cache's folder (default `.cache/build/` in the project), or `false` for none: every
   * document printed, nothing reused, nothing recorded.
   */
  cacheDir?: string | false | undefined;
  /** Reports a line of progress. */
  log?: ((line: string) => void) | undefined;
  /** Told when each stage starts and ends, and of each document the print stage starts and finishes. */
  progress?: ((event: ProgressEvent) => void) | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Stop once the templates are applied, with the documents in the result: the preview of
   * `npm run dev`. No browser, no lock, nothing written.
   */
  stopAfterTemplates?: boolean | undefined;
}

/** What a build did, for the reporter and `--json`. */
export interface BuildResult {
  /** One of SPEC.md's codes, or 128 + a signal's number when the build was interrupted. */
  exitCode: ExitCodeValue | number;
  /** Every source file read, with its messages. */
  sources: VFile[];
  manifest?: Manifest;
  /** Milliseconds per stage, in order. */
  timings: Record<string, number>;
  /** The error that ended the build, when it was not the source's. */
  failure?: unknown;
  outDir: string;
  /**
   * What the cache saved: `upToDate` when nothing changed since the last build of the output folder
   * (nothing was read, printed or written), else how many PDFs were printed and how many reused, and
   * how many briefings were converted and how many conversions reused.
   */
  cache?: {
    upToDate: boolean;
    printed: number;
    reused: number;
    converted: number;
    conversionsReused: number;
  };
  /** With `stopAfterTemplates`: the validated, converted files and the documents made from them. */
  files?: BuildFiles;
}

/** Below this many briefings, a second thread costs more to start than it saves. */
const minBriefingsForWorker = 40;

/** The second thread of a check, or none if it cannot start: one thread does the same work. */
async function tryStartParallel(workerUrl: URL): Promise<ParallelBodyChecks | undefined> {
  try {
    const { startParallelBodyChecks } = await import('./lib/parallel-check.ts');
    return startParallelBodyChecks(workerUrl);
  } catch {
    return undefined;
  }
}

/** Runs a build or a check. Never throws: failures come back with their exit code. */
export async function runBuild(options: BuildOptions): Promise<BuildResult> {
  const log = options.log ?? (() => undefined);
  const progress = options.progress ?? (() => undefined);
  const timings: Record<string, number> = {};
  const outDir = path.resolve(options.outDir);
  const result: BuildResult = { exitCode: ExitCode.ok, sources: [], timings, outDir };

  const stage = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    if (options.signal?.aborted) throw new BuildInterrupted(`the build was interrupted before ${name}`);
    const started = performance.now();
    let failed = true;
    progress({ type: 'stage-start', stage: name });
    try {
      const value = await work();
      failed = false;
      return value;
    } catch (cause) {
      if (cause instanceof StageError || cause instanceof SourceErrors || cause instanceof BuildInterrupted)
        throw cause;
      throw new StageError(name, undefined, { cause });
    } finally {
      timings[name] = Math.round(performance.now() - started);
      progress({ type: 'stage-end', stage: name, ms: timings[name], failed });
    }
  };
  const stopOnSourceErrors = () => {
    const errors = countErrors(result.sources);
    if (errors > 0) throw new SourceErrors(errors);
  };

  let pool: BrowserPool | undefined;
  let release: (() => Promise<void>) | undefined;
  // SIGINT/SIGTERM: kill the browser at once; the stages then fail and clean up after themselves.
  const onAbort = () => {
    void pool?.kill();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let parallel: ParallelBodyChecks | undefined;
  let conversions: ConversionCache | undefined;
  let pruning: Promise<void> | undefined;
  // Each PDF goes into the cache once verified, while the rest print.
  const storing: Promise<void>[] = [];
  try {
    sourceDateEpoch();
    // The browser's code (puppeteer) loads while the cache is asked whether anything changed, which
    // mostly waits on files: a build that goes on then starts the browser at once (about 70 ms sooner).
    if (options.mode === 'build' && !options.stopAfterTemplates)
      import('./lib/browser.ts').catch(() => undefined);
    // A build whose inputs and output are as the last build left them stops here: no browser, no writes.
    const cache =
      options.mode === 'build' && !options.stopAfterTemplates && options.cacheDir !== false
        ? await stage('up-to-date', () => openCache(options))
        : undefined;
    if (cache?.upToDate !== undefined) {
      result.manifest = JSON.parse(cache.upToDate) as Manifest;
      result.cache = { upToDate: true, printed: 0, reused: 0, converted: 0, conversionsReused: 0 };
      return result;
    }
    const writing = options.mode === 'build' && !options.stopAfterTemplates;
    // A build that will print starts the browser now: it starts (and opens its first pages) while this
    // thread reads, validates and converts the source and lays out the documents, and is the last thing
    // a one-edit rebuild would otherwise wait for. That is any build whose inputs changed since the last
    // build of the output folder (or without a cache, or with an empty one). One with the same inputs
    // (its output was changed since) most likely finds every PDF in the cache: it starts the browser
    // only if the cache stage finds a PDF to print. A build that fails before printing kills it.
    if (writing && (!cache?.sameInputs || (await cache.store.isEmpty()))) {
      const early = await newBrowserPool(options, log);
      pool = early;
      // A browser that cannot start fails the build at the `browser` stage, as it would have there.
      early.prepare(options.concurrency).catch(() => undefined);
    }
    // Loaded after that check: a build with nothing to do never pays for the parsers and validators.
    const [
      { readSource },
      { validateSource },
      { convertMarkdown, startMarkdownParser },
      { RemoteImages },
      { ConversionCache: Conversions },
    ] = await Promise.all([
      import('./01-read-source.ts'),
      import('./02-validate-source.ts'),
      import('./03-convert-markdown.ts'),
      import('./lib/remote-images.ts'),
      import('./lib/conversion-cache.ts'),
    ]);
    // What earlier builds validated and rendered, read while the source is.
    const memos =
      cache && writing
        ? Promise.all([
            Memo.open<RememberedHeader>(cache.store.dir, 'headers', cache.tool),
            Memo.open<string>(cache.store.dir, 'renders', cache.tool),
          ])
        : undefined;
    let files: BuildFiles = await stage('read', () => readSource({ sourceDir: options.sourceDir }));
    // The Markdown parser's worker loads while the headers are validated and the browser starts.
    if (options.mode === 'build' && files.briefings.length > 0) startMarkdownParser();
    result.sources = [files.pack, ...files.briefings];
    // The worker loads while this thread validates the headers, then both check the bodies.
    if (options.mode === 'check' && options.checkWorker && files.briefings.length >= minBriefingsForWorker) {
      parallel = await tryStartParallel(options.checkWorker);
      parallel?.start(files.sourceDir, files.briefings);
      if (parallel) log(`Checking ${files.briefings.length} briefings on two threads`);
    }
    const [headers, renders] = (await memos) ?? [];
    files = await stage('validate', () => validateSource(files, { headers }));
    // A build that will write takes the output folder's lock before it starts anything costly: a
    // second build of the same folder is refused at once, not after converting the whole source.
    if (writing && countErrors(result.sources) === 0)
      release = (await stage('lock', () => lockOutputFolder(outDir))).release;
    const remoteImages = options.allowRemoteImages ? new RemoteImages() : undefined;
    // Bodies of briefings whose header has errors are checked too: one run reports every problem.
    const withHeaderErrors = result.sources.filter(
      (file) => file !== files.pack && file.data.bodyStart && !file.data.briefing,
    );
    // A Set: with no valid briefing, validation hands back every briefing read, these included.
    const toCheck = { ...files, briefings: [...new Set([...files.briefings, ...withHeaderErrors])] };
    const sharing = parallel;
    // The briefings converted by an earlier build are taken from the cache (a build with remote
    // images converts every one: an image can change behind its address).
    conversions =
      cache && writing && !remoteImages
        ? new Conversions(cache.store.dir, cache.tool, files.sourceDir)
        : undefined;
    const cachedConversions = conversions;
    await stage('convert', async () => {
      if (sharing) await sharing.finish(new Set(toCheck.briefings));
      else await convertMarkdown(toCheck, { mode: options.mode, remoteImages, cache: cachedConversions });
    });
    checkFontCoverage(files);
    for (const file of result.sources) capMessages(file);
    stopOnSourceErrors();
    // `check` stops here: the templates only lay out what was checked, and need no source.
    if (options.mode === 'check') return result;
    const epoch = epochFor(files.pack.data.pack?.date);
    // Loaded only when building, so `check` never pays for LiquidJS, puppeteer and pdf-lib.
    const [
      { applyTemplates },
      { printPdfs },
      { postProcessor },
      { packageEpub },
      { writeOutput },
      { defaultConcurrency },
    ] = await Promise.all([
      import('./04-apply-templates.ts'),
      import('./05-print-pdfs.ts'),
      import('./06-post-process-pdfs.ts'),
      import('./07-package-epub.ts'),
      import('./08-write-output.ts'),
      import('./lib/browser.ts'),
    ]);
    files = await stage('templates', () => applyTemplates(files, { renders }));
    if (options.stopAfterTemplates) {
      result.files = files;
      return result;
    }

    const rendered = files;
    const lookup = cache
      ? await stage('cache', () => lookUpDocuments(cache, rendered, epoch))
      : {
          keys: new Map<string, string>(),
          reused: [] as VFile[],
          fresh: printable(rendered),
          verified: Promise.resolve([] as VFile[]),
        };
    // The EPUB needs no PDF. Zipping it takes this thread for a moment (0.2 s at 100 briefings), which
    // would hold up the printing at any point before the last PDF is saved (the pack waits on this
    // thread to number its contents, and its checks start once it is saved). So it is packaged then,
    // while the last checks run (qpdf on the pack, on a thread of its own, the longest).
    let epubPackaging: Promise<BuildFiles> | undefined;
    const packagingEpub = () => {
      if (!epubPackaging) {
        epubPackaging = packageEpub({ ...rendered, outputs: [] }, { epochSeconds: epoch });
        epubPackaging.catch(() => undefined);
      }
      return epubPackaging;
    };
    let browserVersion = lookup.browserVersion ?? '';
    let printed: VFile[] = [];
    let checks: Promise<unknown> | undefined;
    let closing: Promise<void> | undefined;
    // The pages of the pack's cover and contents, as last recorded, and as printed by this build.
    let frontPages = await cache?.store.frontPages(outDir);
    // What each briefing's own PDF took in the last build of the output: the pack's parts start from it.
    const guessedPages = cache ? await lastBriefingPages(outDir) : undefined;
    // A build that found every PDF in the cache prints only those whose bytes proved damaged.
    const toPrint = lookup.fresh.length > 0 ? lookup.fresh : await lookup.verified;
    if (toPrint.length > 0) {
      const activePool = pool ?? (await newBrowserPool(options, log));
      pool = activePool;
      if (options.signal?.aborted) onAbort();
      browserVersion = await stage('browser', () => activePool.version());
      // Each PDF is post-processed as soon as it is printed, while the browser prints the next.
      const postProcess = postProcessor(rendered, {
        epochSeconds: epoch,
        browserVersion,
        verify: { log },
        log,
      });
      const postProcessing: Promise<void>[] = [];
      // Each settles once its PDF's bytes are final, before that PDF's last checks (qpdf) end.
      const saving: Promise<void>[] = [];
      const printing = (only: VFile[]) =>
        printPdfs(
          { ...rendered, outputs: [] },
          {
            pool: activePool,
            concurrency: options.concurrency ?? defaultConcurrency(),
            log,
            timeoutMs: options.timeoutMs,
            only: new Set(only),
            progress: (event) => progress({ type: 'item', stage: 'print', ...event }),
            knownPages: new Map(
              lookup.reused.flatMap(({ data: { artifact } }) =>
                artifact?.kind === 'briefing-pdf' && artifact.briefingId && artifact.pages
                  ? [[artifact.briefingId, artifact.pages] as const]
                  : [],
              ),
            ),
            frontPages,
            guessedPages,
            partCache: cache && lookup.fonts !== undefined ? packPartCache(cache, lookup.fonts) : undefined,
            onFrontPages: (pages) => {
              frontPages = pages;
            },
            onPrinted: (output) => {
              const saved = new Promise<void>((resolve, reject) => {
                const done = postProcess(output, resolve);
                done.then(resolve, reject);
                // Awaited below; a failure here must not go unhandled while printing goes on.
                done.catch(() => undefined);
                postProcessing.push(done);
                if (cache)
                  storing.push(
                    done.then(
                      () => storeDocument(cache, output, lookup.keys, browserVersion),
                      () => undefined,
                    ),
                  );
              });
              saved.catch(() => undefined);
              saving.push(saved);
            },
          },
        );
      const fresh = await stage('print', async () => {
        const first = await printing(toPrint);
        // Reused PDFs whose bytes proved damaged while these printed (seldom) are printed now.
        const damaged = toPrint === lookup.fresh ? await lookup.verified : [];
        if (damaged.length === 0) return first;
        return { ...first, outputs: [...first.outputs, ...(await printing(damaged)).outputs] };
      });
      // The browser closes while what is left of the post-processing finishes.
      closing = activePool.close();
      closing.catch(() => undefined);
      // Once every PDF is saved, the write stage starts: it writes the files while the last checks
      // finish (qpdf on the pack, the longest), and verifies nothing and swaps nothing in before they do.
      await stage('post-process', () => Promise.all(saving));
      packagingEpub();
      checks = Promise.all(postProcessing);
      checks.catch(() => undefined);
      printed = fresh.outputs;
    }
    // Entries unused for two weeks go while the checks run (every entry this build reads was touched).
    pruning = cache?.store.prune();
    result.cache = {
      upToDate: false,
      printed: printed.length,
      reused: lookup.reused.length,
      converted: conversions?.converted ?? files.briefings.length,
      conversionsReused: conversions?.reused ?? 0,
    };
    const epub = await stage('epub', packagingEpub);
    files = { ...files, outputs: [...files.outputs, ...lookup.reused, ...printed, ...epub.outputs] };
    result.manifest = await stage('write', () =>
      writeOutput(files, {
        outDir,
        epochSeconds: epoch,
        browserVersion,
        signal: options.signal,
        log,
        checks,
      }),
    );
    await closing;
    if (cache) {
      await stage('cache-store', async () => {
        await conversions?.flush();
        await Promise.all([...storing, headers?.save(), renders?.save()]);
        await recordBuild(cache, outDir, frontPages);
        await pruning;
      });
    }
    return result;
  } catch (error) {
    result.exitCode = options.signal?.aborted
      ? interruptedExitCode(options.signal.reason)
      : exitCodeFor(error);
    if (result.exitCode !== ExitCode.sourceErrors) result.failure = error;
    return result;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await parallel?.close();
    // A failed build's browser is killed (and one still starting stopped), not closed: it has nothing to save.
    await (result.exitCode === ExitCode.ok ? pool?.close() : pool?.kill());
    await pruning?.catch(() => undefined);
    // A failed build still keeps the PDFs it verified and the briefings it converted.
    await Promise.all(storing);
    await conversions?.flush();
    await release?.();
  }
}

/**
 * The browser of a build (launched, or reached at `--browser-endpoint`), opened on first use. puppeteer
 * is loaded then, not here: the build goes on while it loads and the browser starts.
 */
async function newBrowserPool(options: BuildOptions, log: (line: string) => void): Promise<BrowserPool> {
  const { BrowserPool: Pool } = await import('./lib/browser-pool.ts');
  return new Pool(async (signal) => {
    const { openBrowser } = await import('./lib/browser.ts');
    return openBrowser({ executablePath: options.browser, endpoint: options.browserEndpoint, log, signal });
  });
}

/** 128 + the signal's number, as shells report a process ended by a signal. */
function interruptedExitCode(reason: unknown): number {
  return reason === 'SIGINT' ? 130 : reason === 'SIGTERM' ? 143 : 129;
}

/**
 * The pages of each briefing's own PDF as the output folder's `manifest.json` lists them, by briefing
 * id; none when there is no readable manifest. Only ever a guess, checked against what is printed.
 */
async function lastBriefingPages(outDir: string): Promise<Map<string, number> | undefined> {
  try {
    const manifest = JSON.parse(await readFile(path.join(outDir, 'manifest.json'), 'utf8')) as Manifest;
    return new Map(
      manifest.artifacts.flatMap((artifact) =>
        artifact.kind === 'briefing-pdf' &&
        typeof artifact.id === 'string' &&
        Number.isInteger(artifact.pages)
          ? [[artifact.id, artifact.pages as number] as const]
          : [],
      ),
    );
  } catch {
    return undefined;
  }
}
