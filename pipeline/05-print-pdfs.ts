/**
 * Stage 5: print the documents to PDF in one browser, a bounded number of pages at a time.
 *
 * - The pack is printed, the page of each briefing is read back from the named destinations Chromium
 *   writes for linked anchors, the numbers are written into the contents, and it is printed again
 *   (until the numbers hold, at most three passes). A pack of more briefings than a part holds is
 *   printed in parts, each kept in the build cache, and joined (`lib/pack-parts.ts`).
 * - The one-page brief steps down its fit ladder until it prints on one page; if even the tightest
 *   step needs more, the build fails naming what to shorten.
 */
import type { PDFDocument } from 'pdf-lib';
import { VFile } from 'vfile';
import { briefingAnchor, templateAsset } from './04-apply-templates.ts';
import { briefFitLevels, briefTextBlockPx } from './lib/brief-layout.ts';
import {
  type BrowserSession,
  type LoadedPage,
  loadDocument,
  type PageEmulation,
  type Resource,
} from './lib/browser.ts';
import {
  type BrowserPool,
  BuildInterrupted,
  defaultDocumentBudgetMs,
  documentBudgetMs,
  type Phase,
  withWatchdog,
} from './lib/browser-pool.ts';
import { SourceErrors, StageError } from './lib/errors.ts';
import { facesForDocuments, fontFaceByFileName, fontFaceCss, readFontFile } from './lib/fonts.ts';
import { error, warning } from './lib/messages.ts';
import type { ArtifactKind, BuildFiles } from './lib/model.ts';
import { type PackParts, type PartCache, splitPack } from './lib/pack-parts.ts';
import { mergePrintedParts } from './lib/pdf-merge.ts';
import { adoptPdf, inOneGo, loadPdf, namedDestinationPages, readPdf } from './lib/pdf-read.ts';
import { mapWithConcurrency, turn } from './lib/pool.ts';

/** Options of {@link printPdfs}. */
export interface PrintOptions {
  /** The build's browser, replaced when it crashes or hangs. */
  pool: BrowserPool;
  concurrency: number;
  log: (line: string) => void;
  /** Time budget of a document of up to 100 KB of HTML (larger ones get more), in milliseconds. */
  timeoutMs?: number | undefined;
  /** Print only these documents (the rest came from the build cache); the fonts served stay the same. */
  only?: ReadonlySet<VFile> | undefined;
  /** Pages of the briefing PDFs not printed by this call (from the build cache), by briefing id. */
  knownPages?: ReadonlyMap<string, number> | undefined;
  /**
   * How many pages the pack's cover and contents took when it was last printed, if known: the pack's
   * contents are then numbered from it without counting them first. A wrong guess costs one more
   * print of the pack, never a wrong number: the numbers are checked against the printed PDF.
   */
  frontPages?: number | undefined;
  /** Told how many pages the printed pack's cover and contents take. */
  onFrontPages?: ((pages: number) => void) | undefined;
  /**
   * The pages of each briefing's own PDF in the last build of the output, by briefing id: the pack in
   * parts starts printing from them rather than wait for the briefings this build prints. A wrong
   * guess costs another print of the parts it moved, never a wrong number.
   */
  guessedPages?: ReadonlyMap<string, number> | undefined;
  /** The printed parts of the pack kept between builds (a pack of many briefings is printed in parts). */
  partCache?: PartCache | undefined;
  /** Called with each PDF as soon as it is printed (post-processing starts while the rest print). */
  onPrinted?: ((output: VFile) => void) | undefined;
  /** Told when a document starts and when it is printed, with how many of how many are done. */
  progress?: ((event: { item: string; done: number; total: number; finished: boolean }) => void) | undefined;
}

/** Passes allowed for the contents' page numbers to settle. */
const maxContentsPasses = 3;

/** The build's own files, served to every page: styles, fonts and checked images. */
export function sharedResources(files: BuildFiles): (path: string) => Resource | undefined {
  // Only the faces the build's text can use: hundreds of unused Hangul faces slow every layout down.
  // Each the same for every document: the browser keeps them from one document to the next.
  const fixed = new Map<string, Resource>([
    [
      'fonts.css',
      {
        contentType: 'text/css',
        body: fontFaceCss(facesForDocuments(files.documents), 'fonts/'),
        shared: true,
      },
    ],
    ['styles/print.css', { contentType: 'text/css', body: templateAsset('styles/print.css'), shared: true }],
    ['styles/brief.css', { contentType: 'text/css', body: templateAsset('styles/brief.css'), shared: true }],
  ]);
  for (const briefing of files.briefings) {
    for (const asset of briefing.data.content?.assets ?? []) {
      // Named by a digest of their bytes (`assets/<digest>.png`).
      fixed.set(asset.href, { contentType: asset.mediaType, body: asset.bytes, shared: true });
    }
  }
  return (path) => {
    const resource = fixed.get(path);
    if (resource) return resource;
    const face = path.startsWith('fonts/') ? fontFaceByFileName(path.slice('fonts/'.length)) : undefined;
    if (!face) return undefined;
    // Read once and kept: every document asks for the same fonts.
    const font: Resource = { contentType: 'font/woff2', body: readFontFile(face), shared: true };
    fixed.set(path, font);
    return font;
  };
}

const kinds: Record<string, ArtifactKind> = {
  pack: 'pack-pdf',
  briefing: 'briefing-pdf',
  brief: 'brief-pdf',
  'briefing-brief': 'briefing-brief-pdf',
};

/** Prints every print document to a PDF output. */
export async function printPdfs(files: BuildFiles, options: PrintOptions): Promise<BuildFiles> {
  const shared = sharedResources(files);
  // The pack first when it can start from the last build's page counts (see `guessedPages`): it is the
  // longest job, and in a rebuild after an edit the last to finish (it is joined and checked after it
  // prints), so it takes the first page ready. Otherwise it waits for the briefings' page counts.
  const packFirst = options.guessedPages !== undefined;
  const jobs = files.documents
    .filter((document) => document.data.document?.target !== 'epub')
    .filter((document) => options.only?.has(document) ?? true)
    // The briefings first, then the pack (its contents' page numbers follow from theirs), then the
    // briefs; the longest first within each, so no long job is left alone at the end.
    .sort(
      (a, b) =>
        printOrder(a, packFirst) - printOrder(b, packFirst) ||
        String(b.value).length - String(a.value).length,
    );
  const briefingPages = new BriefingPages(files, jobs, options.knownPages, options.frontPages);
  const baseBudget = options.timeoutMs ?? defaultDocumentBudgetMs;
  // A brief is laid out in print media, in a viewport of its page's text block, to be measured.
  const block = briefTextBlockPx(files.pack.data.pack?.paper ?? 'A4');
  const briefEmulation: PageEmulation = {
    media: 'print',
    viewport: { width: Math.floor(block.width), height: Math.ceil(block.height) },
  };
  options.log(`Printing ${jobs.length} documents, ${options.concurrency} at a time`);
  let done = 0;
  const tell = (document: VFile, finished: boolean) =>
    options.progress?.({
      item: document.path.replace(/\.html$/, '.pdf'),
      done,
      total: jobs.length,
      finished,
    });

  const pdfs = await mapWithConcurrency(jobs, options.concurrency, async (document) => {
    const info = document.data.document;
    const started = performance.now();
    const html = String(document.value);
    tell(document, false);
    try {
      const emulation =
        info?.target === 'brief' || info?.target === 'briefing-brief' ? briefEmulation : undefined;
      // Loads a document into one of the session's pages and waits for its fonts.
      const open = async (
        session: BrowserSession,
        setPhase: (phase: Phase) => void,
        body: string,
        pageCss: string,
      ): Promise<LoadedPage> => {
        setPhase('load');
        const loaded = await loadDocument(session, {
          documentPath: 'document.html',
          resolve: (path) => {
            if (path === 'document.html') return { contentType: 'text/html; charset=utf-8', body };
            if (path === 'page.css') return { contentType: 'text/css', body: pageCss };
            return shared(path);
          },
          onBlocked: (url) => reportBlockedRequest(files, document, url),
          emulation,
        });
        try {
          setPhase('fonts');
          await loaded.page.evaluate(() => window.document.fonts.ready.then(() => undefined));
          setPhase('print');
          return loaded;
        } catch (cause) {
          await loaded.close();
          throw cause;
        }
      };
      const parts =
        info?.target === 'pack'
          ? splitPack(html, document.data.pageCss ?? '', briefingPages.anchors())
          : undefined;
      const result = await withWatchdog(
        options.pool,
        document.path,
        documentBudgetMs(baseBudget, html.length),
        async (session, setPhase) => {
          // The pack in parts, unless its parts cannot be joined: then whole, as below.
          const joined = parts
            ? await printPackInParts(parts, {
                open: (body, pageCss) => open(session, setPhase, body, pageCss),
                counts: () => briefingPages.counts(),
                guessed: () => briefingPages.guessed(options.guessedPages),
                frontPages: options.frontPages,
                onFrontPages: options.onFrontPages,
                cache: options.partCache,
                log: (line) => options.log(`${document.path}: ${line}`),
              })
            : undefined;
          if (joined) return joined;
          const loaded = await open(session, setPhase, html, document.data.pageCss ?? '');
          try {
            return info?.target === 'pack'
              ? await printWithPageNumbers(
                  loaded,
                  (knownFront) => briefingPages.predict(loaded, knownFront),
                  (line) => options.log(`${document.path}: ${line}`),
                  options.onFrontPages,
                )
              : info?.target === 'brief' || info?.target === 'briefing-brief'
                ? await printFitted(loaded, files, document)
                : { bytes: await loaded.print(), details: undefined };
          } finally {
            await loaded.close();
          }
        },
      );
      const output = new VFile({
        path: document.path.replace(/\.html$/, '.pdf'),
        value: result.bytes,
        data: { artifact: { kind: kinds[info?.target ?? 'pack'] ?? 'pack-pdf' } },
      });
      if (info?.briefingId && output.data.artifact) output.data.artifact.briefingId = info.briefingId;
      if (result.details && output.data.artifact) output.data.artifact.details = result.details;
      options.log(`Printed ${output.path} in ${Math.round(performance.now() - started)} ms`);
      // Read before it is handed on, so that the post-processing edits this parse.
      const pages = info?.target === 'briefing' ? (await readPdf(result.bytes)).getPageCount() : undefined;
      options.onPrinted?.(output);
      if (info?.target === 'briefing' && info.briefingId && pages !== undefined)
        briefingPages.printed(info.briefingId, pages);
      done++;
      tell(document, true);
      return output;
    } catch (cause) {
      if (info?.target === 'briefing' && info.briefingId) briefingPages.failed(info.briefingId, cause);
      if (cause instanceof SourceErrors || cause instanceof BuildInterrupted) throw cause;
      throw new StageError('print', document.path, { cause });
    }
  });
  return { ...files, outputs: [...files.outputs, ...pdfs] };
}

/**
 * Reports a request a page made for something outside the build's files. It was refused, so the
 * artifact is safe, but the author should hear of it: on the briefing whose document asked, or on
 * `pack.yaml` for the pack and the brief. Each address is reported once per source file.
 */
function reportBlockedRequest(files: BuildFiles, document: VFile, url: string): void {
  const briefingId = document.data.document?.briefingId;
  const source =
    (briefingId === undefined
      ? undefined
      : files.briefings.find((file) => file.data.briefing?.id === briefingId)) ?? files.pack;
  const shown = url.length > 80 ? `${url.slice(0, 79)}…` : url;
  const reason = `Unexpected request for \`${shown}\` while printing \`${document.path}\`, expected only the build's own files; it was refused and left out`;
  if (source.messages.some((message) => message.reason === reason)) return;
  warning(source, reason, { ruleId: 'blocked-request' });
}

function printOrder(document: VFile, packFirst: boolean): number {
  const target = document.data.document?.target;
  if (target === 'pack' && packFirst) return -1;
  return target === 'briefing' ? 0 : target === 'pack' ? 1 : 2;
}

/**
 * The pages of each briefing's own PDF, as they are printed (or known from the cache), from which the
 * pack's contents can be numbered before the pack is printed: a briefing starts the page after the
 * cover, the contents and the briefings before it, typeset the same way in the pack as alone.
 */
class BriefingPages {
  private readonly pages = new Map<string, Promise<number>>();
  private readonly settle = new Map<
    string,
    { resolve: (pages: number) => void; reject: (cause: unknown) => void }
  >();

  /** The pages known now: from the cache, or printed by this build. */
  private readonly known = new Map<string, number>();

  constructor(
    private readonly files: BuildFiles,
    jobs: readonly VFile[],
    known: ReadonlyMap<string, number> | undefined,
    private readonly frontHint: number | undefined,
  ) {
    for (const [id, pages] of known ?? []) {
      this.pages.set(id, Promise.resolve(pages));
      this.known.set(id, pages);
    }
    for (const job of jobs) {
      const id = job.data.document?.target === 'briefing' ? job.data.document.briefingId : undefined;
      if (!id) continue;
      const promise = new Promise<number>((resolve, reject) => this.settle.set(id, { resolve, reject }));
      // A failed briefing fails the build on its own; the pack waiting for it just stops waiting.
      promise.catch(() => undefined);
      this.pages.set(id, promise);
    }
  }

  printed(id: string, pages: number): void {
    this.known.set(id, pages);
    this.settle.get(id)?.resolve(pages);
  }

  /**
   * The pages of each briefing in pack order as far as known now, the rest as `guesses` say (the
   * last build's), or undefined when a briefing is neither known nor guessed.
   */
  guessed(guesses: ReadonlyMap<string, number> | undefined): number[] | undefined {
    const counts = (this.files.pack.data.pack?.briefingIds ?? []).map(
      (id) => this.known.get(id) ?? guesses?.get(id),
    );
    return counts.every((count) => count !== undefined) ? counts : undefined;
  }

  failed(id: string, cause: unknown): void {
    this.settle.get(id)?.reject(cause);
  }

  /** The anchor of each briefing of the pack, in pack order. */
  anchors(): string[] {
    return (this.files.pack.data.pack?.briefingIds ?? []).map(briefingAnchor);
  }

  /** The pages of each briefing's own PDF, in pack order, or undefined when one is unknown. */
  async counts(): Promise<number[] | undefined> {
    const ids = this.files.pack.data.pack?.briefingIds ?? [];
    if (ids.some((id) => !this.pages.has(id))) return undefined;
    return Promise.all(ids.map((id) => this.pages.get(id) as Promise<number>));
  }

  /**
   * The page of each briefing in the pack, in pack order, or undefined when a briefing's pages are
   * unknown. The cover and contents take the pages they took when the pack was last printed, if
   * known; otherwise the pack is printed once with the briefings hidden to count them.
   */
  async predict(loaded: LoadedPage, knownFront?: number): Promise<Prediction | undefined> {
    const ids = this.files.pack.data.pack?.briefingIds ?? [];
    if (ids.some((id) => !this.pages.has(id))) return undefined;
    const guessed = knownFront === undefined && this.frontHint !== undefined;
    // The cover and contents are counted first, while the last briefings may still be printing.
    const front = knownFront ?? this.frontHint ?? (await countFrontPages(loaded));
    const counts = (await this.counts()) ?? [];
    let next = front + 1;
    const pages = counts.map((count) => {
      const page = next;
      next += count;
      return page;
    });
    return { pages, front, guessed };
  }
}

/** The predicted page of each briefing in the pack, from the pages of the front it assumes. */
interface Prediction {
  pages: number[];
  front: number;
  /** Whether the front's pages are those of the last build's pack (not counted in this one). */
  guessed: boolean;
}

/** The pages the pack's cover and contents take: the pack printed once with the briefings hidden. */
async function countFrontPages(loaded: LoadedPage): Promise<number> {
  const hide = (hidden: boolean) =>
    loaded.page.evaluate((hidden: boolean) => {
      for (const element of document.querySelectorAll<HTMLElement>('.briefing, .colophon'))
        element.style.display = hidden ? 'none' : '';
    }, hidden);
  await hide(true);
  try {
    return (await loadPdf(await loaded.print())).getPageCount();
  } finally {
    await hide(false);
  }
}

/** Writes page numbers into the contents, in order; returns each link's target and the number written. */
async function fillContents(loaded: LoadedPage, pages: Record<string, number> | number[]): Promise<void> {
  await loaded.page.evaluate((pages: Record<string, number> | number[]) => {
    const links = [...document.querySelectorAll<HTMLAnchorElement>('a.contents-link')];
    links.forEach((link, index) => {
      const target = decodeURIComponent(link.hash.slice(1));
      const cell = link.querySelector('.contents-page');
      const page = Array.isArray(pages) ? pages[index] : pages[target];
      if (cell) cell.textContent = String(page ?? '');
    });
  }, pages);
}

/** Whether the page numbers written in the contents are the pages the PDF puts the briefings on. */
async function contentsHold(loaded: LoadedPage, bytes: Uint8Array): Promise<boolean> {
  const pages = namedDestinationPages(await readPdf(bytes));
  const written = await loaded.page.evaluate(() =>
    [...document.querySelectorAll<HTMLAnchorElement>('a.contents-link')].map((link) => [
      decodeURIComponent(link.hash.slice(1)),
      link.querySelector('.contents-page')?.textContent ?? '',
    ]),
  );
  return written.every(([target, text]) => text !== '' && String(pages.get(target ?? '')) === text);
}

/**
 * Prints the pack with its contents' page numbers. When every briefing's own PDF is known, the numbers
 * are predicted from them (and from the pages the cover and contents took last time, when recorded)
 * and the pack printed once, then verified against the pages the PDF puts the briefings on; if the
 * cover and contents changed length, predicted again from the print and printed a second time.
 * Otherwise (or if the prediction does not hold) each briefing's real page is read from the printed
 * PDF, written in, and the pack printed again until the numbers hold.
 */
async function printWithPageNumbers(
  loaded: LoadedPage,
  predict: (knownFront?: number) => Promise<Prediction | undefined>,
  log: (line: string) => void,
  onFrontPages?: (pages: number) => void,
): Promise<{ bytes: Uint8Array; details: undefined }> {
  let prediction = await predict();
  if (prediction) await fillContents(loaded, prediction.pages);
  let bytes = await loaded.print();
  let holds = prediction !== undefined && (await contentsHold(loaded, bytes));
  if (prediction?.guessed && !holds) {
    // The cover and contents take more or fewer pages than last time: predict again from the pages
    // this print gives them.
    const front = (await contentsTargetPage(loaded, bytes)) - 1;
    log(`the cover and contents take ${front} pages, not ${prediction.front} as last time`);
    prediction = front > 0 ? await predict(front) : undefined;
    if (prediction) {
      await fillContents(loaded, prediction.pages);
      bytes = await loaded.print();
      holds = await contentsHold(loaded, bytes);
    }
  }
  if (prediction && holds) {
    log('contents numbered from the briefings’ own PDFs');
    onFrontPages?.(prediction.front);
    return { bytes, details: undefined };
  }
  log(
    prediction
      ? 'the predicted contents numbers did not hold; numbering from the pack itself'
      : 'numbering the contents from the pack itself',
  );
  let previous = '';
  for (let pass = 1; pass <= maxContentsPasses; pass++) {
    const pages = Object.fromEntries(namedDestinationPages(await readPdf(bytes)));
    const key = JSON.stringify(pages);
    if (key === previous) {
      log(`contents numbered in ${pass} passes`);
      const front = (await contentsTargetPage(loaded, bytes)) - 1;
      if (front > 0) onFrontPages?.(front);
      return { bytes, details: undefined };
    }
    previous = key;
    await fillContents(loaded, pages);
    bytes = await loaded.print();
  }
  throw new Error(`the contents' page numbers did not settle after ${maxContentsPasses} passes`);
}

/** What {@link printPackInParts} needs of the print stage. */
interface PartPrinting {
  /** Loads a document (its fonts ready) into one of the session's pages. */
  open(html: string, pageCss: string): Promise<LoadedPage>;
  /** The pages of each briefing's own PDF, in pack order, once known. */
  counts(): Promise<number[] | undefined>;
  /** The same, known or guessed now, if every one is. */
  guessed(): number[] | undefined;
  /** How many pages the cover and contents took when the pack was last printed, if known. */
  frontPages: number | undefined;
  onFrontPages: ((pages: number) => void) | undefined;
  cache: PartCache | undefined;
  log(line: string): void;
}

/**
 * Prints the pack in parts (`lib/pack-parts.ts`) and joins them. Each part is numbered as in the whole:
 * the briefings start where their own PDFs predict (after the cover and contents, counted once or as
 * last time), the colophon takes one page. The joined PDF's destinations then say where each
 * briefing really starts; if any number did not hold, the parts are numbered again from it and
 * printed again (those whose document did not change come from the cache), at most three passes.
 * Undefined when the parts cannot be joined (what Chromium printed holds what the join does not
 * cover): the pack is then printed whole.
 */
async function printPackInParts(
  parts: PackParts,
  printing: PartPrinting,
): Promise<{ bytes: Uint8Array; details: undefined } | undefined> {
  let printed = 0;
  const print = async (
    html: string,
    pageCss: string,
    key: string | undefined,
    onLoaded: () => void,
  ): Promise<Uint8Array> => {
    const loaded = await printing.open(html, pageCss);
    try {
      onLoaded();
      const bytes = await loaded.print();
      printed++;
      if (key !== undefined) await printing.cache?.put(key, bytes);
      return bytes;
    } finally {
      await loaded.close();
    }
  };
  let front = printing.frontPages;
  if (front === undefined) {
    const loaded = await printing.open(parts.frontOnly, parts.css(1, 0));
    try {
      front = (await loadPdf(await loaded.print())).getPageCount();
    } finally {
      await loaded.close();
    }
  }
  // Unknown only where a briefing's PDF is neither printed by this build nor cached: one page each,
  // corrected by the next pass.
  let counts = printing.guessed() ?? (await printing.counts()) ?? parts.anchors.map(() => 1);
  let colophon = 1;
  // The part that holds each briefing, and the colophon: the others hold placeholders for them.
  const owners = new Map<string, number>([['colophon', parts.parts.length - 1]]);
  for (const [index, held] of parts.parts.entries())
    for (const briefing of held) owners.set(parts.anchors[briefing] ?? '', index);
  for (let pass = 1; pass <= maxContentsPasses; pass++) {
    const starts: number[] = [];
    let next = front + 1;
    for (const count of counts) {
      starts.push(next);
      next += count;
    }
    const total = next - 1 + colophon;
    const printedBefore = printed;
    const documents = parts.parts.map((held, index) => {
      const html = parts.html(index, starts);
      const pageCss = parts.css(index === 0 ? 1 : (starts[held[0] ?? 0] ?? 1), total);
      return { html, pageCss, key: printing.cache?.key(html, pageCss) };
    });
    const kept = await Promise.all(
      documents.map(({ key }) => (key === undefined ? undefined : printing.cache?.get(key))),
    );
    // The parts in the cache are parsed (each is changed by the join) while the others print, once
    // the first of those is loaded, one at a time: a parse holds this thread, which answers the
    // requests of a page as it loads (in a rebuild after an edit, parsing nine parts at once held
    // up the page's first document by about 0.2 s).
    const parsed: Array<Promise<PDFDocument> | undefined> = documents.map(() => undefined);
    let parsing: Promise<void> | undefined;
    const parseKept = () => {
      parsing ??= (async () => {
        for (const [index, bytes] of kept.entries()) {
          if (!bytes) continue;
          const parse = loadPdf(bytes);
          parsed[index] = parse;
          await parse.catch(() => undefined);
          await turn();
        }
      })();
    };
    if (kept.every((bytes) => bytes !== undefined)) parseKept();
    for (const [index, { html, pageCss, key }] of documents.entries()) {
      if (!kept[index]) parsed[index] = loadPdf(await print(html, pageCss, key, parseKept));
    }
    parseKept();
    await parsing;
    let joined: PDFDocument;
    try {
      joined = await mergePrintedParts(await Promise.all(parsed as Promise<PDFDocument>[]), { owners });
    } catch (cause) {
      printing.log(`${(cause as Error).message} Printing the pack whole.`);
      return undefined;
    }
    const destinations = namedDestinationPages(joined);
    const actual = parts.anchors.map((anchor) => destinations.get(anchor));
    const colophonStart = destinations.get('colophon');
    const pages = joined.getPageCount();
    if (pages === total && actual.every((page, index) => page === starts[index])) {
      const fresh = printed - printedBefore;
      printing.log(
        `printed in ${parts.parts.length} parts: ${fresh} printed, ${parts.parts.length - fresh} from the build cache`,
      );
      printing.onFrontPages?.(front);
      const bytes = await joined.save({
        useObjectStreams: false,
        updateFieldAppearances: false,
        objectsPerTick: inOneGo,
      });
      // Post-processing edits this document rather than parsing the bytes again.
      adoptPdf(bytes, joined);
      return { bytes, details: undefined };
    }
    const known = actual.filter((page): page is number => page !== undefined);
    if (known.length !== actual.length || colophonStart === undefined) {
      throw new Error('the parts of the pack do not show where each briefing starts');
    }
    printing.log(`the page numbers of pass ${pass} did not hold; numbering again from the joined parts`);
    front = (known[0] ?? 1) - 1;
    counts = known.map((start, index) => (known[index + 1] ?? colophonStart) - start);
    colophon = pages - colophonStart + 1;
  }
  throw new Error(`the contents' page numbers did not settle after ${maxContentsPasses} passes`);
}

/**
 * The page of the pack's PDF the first entry of its contents leads to (the first briefing's first
 * page: the pages before it are the cover and contents), or 0 when there is none.
 */
async function contentsTargetPage(loaded: LoadedPage, bytes: Uint8Array): Promise<number> {
  const target = await loaded.page.evaluate(() => {
    const link = document.querySelector<HTMLAnchorElement>('a.contents-link');
    return link ? decodeURIComponent(link.hash.slice(1)) : '';
  });
  return namedDestinationPages(await readPdf(bytes)).get(target) ?? 0;
}

/** What the layout of a brief measures at one step of the ladder. */
interface BriefMeasure {
  /** The step measured. */
  level: number;
  /** Height of everything on the page, in CSS pixels. */
  height: number;
  /** Each briefing's item and how far below the top its bottom edge sits. */
  items: Array<{ id: string; bottom: number; top: number }>;
  /** The font size of the briefings' text (the step's size), in points. */
  bodyPt: number;
  /** The smallest font size of any text, in points. */
  smallestPt: number;
  columns: number;
}

/** Lays the brief out at a step of the ladder, continuously (not paged), and measures it. */
async function measureBrief(loaded: LoadedPage, level: number): Promise<BriefMeasure> {
  const measure = await loaded.page.evaluate((className: string) => {
    document.body.className = className;
    const body = document.body.getBoundingClientRect();
    const items = [...document.querySelectorAll<HTMLElement>('.brief-item')].map((item) => {
      const box = item.getBoundingClientRect();
      return { id: item.dataset.briefing ?? '', top: box.top - body.top, bottom: box.bottom - body.top };
    });
    const texts = [...document.body.querySelectorAll('*')].filter((element) =>
      [...element.childNodes].some((node) => node.nodeType === 3 && (node.textContent ?? '').trim() !== ''),
    );
    const smallestPt = Math.min(
      ...texts.map((element) => Number.parseFloat(getComputedStyle(element).fontSize) * 0.75),
    );
    const grid = document.querySelector('.brief-items');
    const summary = document.querySelector('.brief-item-summary');
    return {
      height: document.body.scrollHeight,
      items,
      bodyPt: summary ? Number.parseFloat(getComputedStyle(summary).fontSize) * 0.75 : smallestPt,
      smallestPt,
      columns: grid ? Number(getComputedStyle(grid).columnCount) || 1 : 1,
    };
  }, `brief fit-${level}`);
  return { level, ...measure };
}

/**
 * Fits a brief on one page: measures each step of the ladder in the print layout's text block (the
 * page was loaded in print media with that viewport), prints the most generous step that fits, and
 * verifies the PDF has one page (stepping down if it has not). If even the tightest step overflows,
 * reports which briefings do not fit and by how much.
 */
async function printFitted(
  loaded: LoadedPage,
  files: BuildFiles,
  document: VFile,
): Promise<{ bytes: Uint8Array; details: Record<string, unknown> }> {
  const pack = files.pack.data.pack;
  const block = briefTextBlockPx(pack?.paper ?? 'A4');
  let level = 0;
  let measure = await measureBrief(loaded, level);
  while (level < briefFitLevels - 1 && measure.height > block.height)
    measure = await measureBrief(loaded, ++level);
  for (; level < briefFitLevels; level++) {
    if (measure.level !== level) measure = await measureBrief(loaded, level);
    const bytes = await loaded.print();
    if ((await readPdf(bytes)).getPageCount() === 1) {
      return {
        bytes,
        details: {
          fit: {
            level,
            fontSizePt: roundPt(measure.bodyPt),
            smallestTextPt: roundPt(measure.smallestPt),
            columns: measure.columns,
          },
        },
      };
    }
  }
  const tightest = await measureBrief(loaded, briefFitLevels - 1);
  reportOverflow(files, document, tightest, block.height);
  throw new SourceErrors(1);
}

function roundPt(points: number): number {
  return Math.round(points * 100) / 100;
}

/** Names the briefings that do not fit on the brief at its tightest, and by how much. */
function reportOverflow(files: BuildFiles, document: VFile, measure: BriefMeasure, available: number): void {
  const over = Math.max(0, measure.height - available);
  const percent = Math.max(1, Math.round((over / available) * 100));
  const overflowing = measure.items.filter((item) => item.bottom > available + 0.5).map((item) => item.id);
  const names = overflowing.map((id) => `\`${id}\``).join(', ');
  const info = document.data.document;
  if (info?.target === 'briefing-brief' && info.briefingId) {
    const file = files.briefings.find((candidate) => candidate.data.briefing?.id === info.briefingId);
    if (file) {
      error(
        file,
        `Unexpected brief of \`${info.briefingId}\` longer than one page by about ${percent}% of a page, even at 8.5 pt in two columns; shorten its summary or key points by that much`,
        { ruleId: 'brief-overflow' },
      );
      return;
    }
  }
  error(
    files.pack,
    `Unexpected one-page brief longer than one page by about ${percent}% of a page, even at 8.5 pt in two columns; ${overflowing.length > 0 ? `${names} ${overflowing.length === 1 ? 'does' : 'do'} not fit: ` : ''}shorten the summaries and key points by that much, or list fewer briefings in \`brief.briefings\``,
    { ruleId: 'brief-overflow' },
  );
}
