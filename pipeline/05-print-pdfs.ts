/**
 * Stage 5: print the documents to PDF in one browser, a bounded number of pages at a time.
 *
 * - The pack is printed, the page of each briefing is read back from the named destinations Chromium
 *   writes for linked anchors, the numbers are written into the contents, and it is printed again
 *   (until the numbers hold, at most three passes).
 * - The one-page brief steps down its fit ladder until it prints on one page; if even the tightest
 *   step needs more, the build fails naming what to shorten.
 */
import { VFile } from 'vfile';
import { templateAsset } from './04-apply-templates.ts';
import { type BrowserSession, type LoadedPage, loadDocument, type Resource } from './lib/browser.ts';
import { SourceErrors, StageError } from './lib/errors.ts';
import { facesForText, fontFaceByFileName, fontFaceCss, readFontFile } from './lib/fonts.ts';
import { error, warning } from './lib/messages.ts';
import type { ArtifactKind, BuildFiles } from './lib/model.ts';
import { loadPdf, namedDestinationPages } from './lib/pdf-read.ts';
import { mapWithConcurrency } from './lib/pool.ts';

/** Options of {@link printPdfs}. */
export interface PrintOptions {
  session: BrowserSession;
  concurrency: number;
  log: (line: string) => void;
  timeoutMs?: number;
}

/** Number of steps of the brief's fit ladder (`fit-0` … in `templates/styles/brief.css`). */
export const briefFitLevels = 9;
/** Passes allowed for the contents' page numbers to settle. */
const maxContentsPasses = 3;

/** The build's own files, served to every page: styles, fonts and checked images. */
export function sharedResources(files: BuildFiles): (path: string) => Resource | undefined {
  // Only the faces the build's text can use: hundreds of unused Hangul faces slow every layout down.
  const text = files.documents
    .map((document) => `${String(document.value)}${document.data.pageCss ?? ''}`)
    .join('');
  const fixed = new Map<string, Resource>([
    ['fonts.css', { contentType: 'text/css', body: fontFaceCss(facesForText(text), 'fonts/') }],
    ['styles/print.css', { contentType: 'text/css', body: templateAsset('styles/print.css') }],
    ['styles/brief.css', { contentType: 'text/css', body: templateAsset('styles/brief.css') }],
  ]);
  for (const briefing of files.briefings) {
    for (const asset of briefing.data.content?.assets ?? []) {
      fixed.set(asset.href, { contentType: asset.mediaType, body: asset.bytes });
    }
  }
  return (path) => {
    const resource = fixed.get(path);
    if (resource) return resource;
    const face = path.startsWith('fonts/') ? fontFaceByFileName(path.slice('fonts/'.length)) : undefined;
    return face ? { contentType: 'font/woff2', body: readFontFile(face) } : undefined;
  };
}

const kinds: Record<string, ArtifactKind> = {
  pack: 'pack-pdf',
  briefing: 'briefing-pdf',
  brief: 'brief-pdf',
};

/** Prints every print document to a PDF output. */
export async function printPdfs(files: BuildFiles, options: PrintOptions): Promise<BuildFiles> {
  const shared = sharedResources(files);
  const jobs = files.documents
    .filter((document) => document.data.document?.target !== 'epub')
    // The longest documents start first, so no long job is left alone at the end.
    .sort((a, b) => String(b.value).length - String(a.value).length);

  const pdfs = await mapWithConcurrency(jobs, options.concurrency, async (document) => {
    const info = document.data.document;
    const started = performance.now();
    let loaded: LoadedPage | undefined;
    try {
      loaded = await loadDocument(options.session, {
        documentPath: 'document.html',
        resolve: (path) => {
          if (path === 'document.html')
            return { contentType: 'text/html; charset=utf-8', body: String(document.value) };
          if (path === 'page.css') return { contentType: 'text/css', body: document.data.pageCss ?? '' };
          return shared(path);
        },
        onBlocked: (url) => reportBlockedRequest(files, document, url),
        ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      });
      const result =
        info?.target === 'pack'
          ? await printWithPageNumbers(loaded)
          : info?.target === 'brief'
            ? await printFitted(loaded, files)
            : { bytes: await loaded.print(), details: undefined };
      const output = new VFile({
        path: document.path.replace(/\.html$/, '.pdf'),
        value: result.bytes,
        data: { artifact: { kind: kinds[info?.target ?? 'pack'] ?? 'pack-pdf' } },
      });
      if (info?.briefingId && output.data.artifact) output.data.artifact.briefingId = info.briefingId;
      if (result.details && output.data.artifact) output.data.artifact.details = result.details;
      options.log(`Printed ${output.path} in ${Math.round(performance.now() - started)} ms`);
      return output;
    } catch (cause) {
      if (cause instanceof SourceErrors) throw cause;
      throw new StageError('print', document.path, { cause });
    } finally {
      await loaded?.close();
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

/** Prints the pack, writes each briefing's real page into the contents, and prints again until it holds. */
async function printWithPageNumbers(loaded: LoadedPage): Promise<{ bytes: Uint8Array; details: undefined }> {
  let bytes = await loaded.print();
  let previous = '';
  for (let pass = 1; pass <= maxContentsPasses; pass++) {
    const pages = Object.fromEntries(namedDestinationPages(await loadPdf(bytes)));
    const key = JSON.stringify(pages);
    if (key === previous) return { bytes, details: undefined };
    previous = key;
    await loaded.page.evaluate((pageOf: Record<string, number>) => {
      for (const link of document.querySelectorAll<HTMLAnchorElement>('a.contents-link')) {
        const target = decodeURIComponent(link.hash.slice(1));
        const cell = link.querySelector('.contents-page');
        if (cell) cell.textContent = String(pageOf[target] ?? '');
      }
    }, pages);
    bytes = await loaded.print();
  }
  throw new Error(`the contents' page numbers did not settle after ${maxContentsPasses} passes`);
}

/** Steps down the brief's fit ladder until it prints on exactly one page. */
async function printFitted(
  loaded: LoadedPage,
  files: BuildFiles,
): Promise<{ bytes: Uint8Array; details: Record<string, unknown> }> {
  const printAt = async (level: number) => {
    await loaded.page.evaluate((className: string) => {
      document.body.className = className;
    }, `brief fit-${level}`);
    const bytes = await loaded.print();
    return { bytes, pages: (await loadPdf(bytes)).getPageCount() };
  };
  // Binary search for the most generous step that fits; page count falls as the step rises.
  let low = 0;
  let high = briefFitLevels - 1;
  let best: { level: number; bytes: Uint8Array } | undefined;
  while (low <= high) {
    const level = Math.floor((low + high) / 2);
    const attempt = await printAt(level);
    if (attempt.pages === 1) {
      best = { level, bytes: attempt.bytes };
      high = level - 1;
    } else {
      low = level + 1;
    }
  }
  if (!best) {
    error(
      files.pack,
      'Unexpected one-page brief that does not fit on one page even at the smallest type (8.5 pt, two columns); shorten the summaries and key points, or list fewer briefings in `brief.briefings`',
      { ruleId: 'brief-overflow', place: { line: 1, column: 1 } },
    );
    throw new SourceErrors(1);
  }
  const final = await printAt(best.level);
  const fontSizePt = await loaded.page.evaluate(() => {
    const sizes = [...document.querySelectorAll('.brief-items *')].map(
      (element) => Number.parseFloat(getComputedStyle(element).fontSize) * 0.75,
    );
    return sizes.length > 0 ? Math.min(...sizes) : 0;
  });
  const columns = await loaded.page.evaluate(() => {
    const items = document.querySelector('.brief-items');
    return items ? Number(getComputedStyle(items).columnCount) || 1 : 1;
  });
  return { bytes: final.bytes, details: { fit: { level: best.level, fontSizePt, columns } } };
}
