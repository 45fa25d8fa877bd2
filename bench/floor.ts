/**
 * The floor of a build: the least any build of this pack could take to print its PDFs. It launches
 * Chromium once, with the build's flags, and prints each final document of the build once, with the
 * build's page settings and concurrency — nothing else: no validation, no post-processing, no EPUB,
 * no writing, no second pass for the contents and no fitting ladder for the briefs.
 *
 *   npx tsx bench/floor.ts --source DIR [--built OUT] [--concurrency N] [--browser PATH] [--json]
 *
 * The documents are the build's own: stages 1–4 run first, untimed, in this process (read, validate,
 * convert, templates), and the documents to print are served from memory with the fonts, styles and
 * images of the print stage (`sharedResources` of `pipeline/05-print-pdfs.ts`), by a minimal request
 * handler, with the build's response headers (the browser keeps the fonts, styles and images from one
 * document to the next, as in the build). What the print stage changes in a document before its last
 * print is put into the HTML here, from the output of a build of the same source (`--built`): the page
 * numbers of the pack's contents (read back from the named destinations of the built `pack.pdf`) and
 * the fit step of each one-page brief (`fit.level` in `manifest.json`). Without `--built`, the documents are printed as
 * the templates make them (placeholder page numbers, briefs at `fit-0`), which prints the same pages
 * as long as the briefs fit at their first step. With `--built`, each PDF's page count is checked
 * against the manifest afterwards (untimed), and the page each briefing starts on in the pack against
 * the built pack, so a floor that printed something else is caught. A pack of more briefings than one
 * part holds is printed as the build prints it, in parts (`pipeline/lib/pack-parts.ts`), each with the
 * page numbers it has in the built pack; the floor does not join them (the build does, in Node).
 *
 * Timed: `puppeteer.launch`, opening the pages, printing every document, closing the browser.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer, { type Browser, type HTTPRequest, type Page } from 'puppeteer';
import { readSource } from '../pipeline/01-read-source.ts';
import { validateSource } from '../pipeline/02-validate-source.ts';
import { convertMarkdown } from '../pipeline/03-convert-markdown.ts';
import { applyTemplates, briefingAnchor } from '../pipeline/04-apply-templates.ts';
import { sharedResources } from '../pipeline/05-print-pdfs.ts';
import {
  defaultConcurrency,
  documentOrigin,
  quietBrowserArgs,
  type Resource,
  resourceHeaders,
  runningAsRoot,
} from '../pipeline/lib/browser.ts';
import { findBrowser, isHeadlessShell } from '../pipeline/lib/find-browser.ts';
import { countErrors } from '../pipeline/lib/messages.ts';
import { splitPack } from '../pipeline/lib/pack-parts.ts';
import { loadPdf, namedDestinationPages } from '../pipeline/lib/pdf-read.ts';
import { mapWithConcurrency } from '../pipeline/lib/pool.ts';

/** What the floor measured, printed as JSON with `--json`. */
export interface FloorResult {
  browser: string;
  executablePath: string;
  concurrency: number;
  documents: number;
  /** Whether the documents carry the build's final page numbers and fit steps (from `--built`). */
  finalDocuments: boolean;
  /** Untimed preparation: stages 1–4 and the final documents, in milliseconds. */
  prepareMs: number;
  launchMs: number;
  printMs: number;
  closeMs: number;
  /** launch + print + close. */
  totalMs: number;
  /** Pages printed in all. */
  pages: number;
  /**
   * With `--built`: documents whose page count differs from the build's manifest, and briefings that
   * start on another page of the pack than in the built pack (should be none).
   */
  pageMismatches?: string[];
}

interface ManifestArtifact {
  kind: string;
  path: string;
  pages?: number;
  fit?: { level?: number };
}

const { values } = parseArgs({
  options: {
    source: { type: 'string' },
    built: { type: 'string' },
    concurrency: { type: 'string' },
    browser: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.source) {
  process.stderr.write(
    'Usage: npx tsx bench/floor.ts --source DIR [--built OUT] [--concurrency N] [--json]\n',
  );
  process.exit(2);
}
const concurrency = values.concurrency ? Number(values.concurrency) : defaultConcurrency();

// Untimed: the build's stages 1–4, as `pipeline/build.ts` runs them.
const prepareStarted = performance.now();
let files = await readSource({ sourceDir: values.source });
files = await validateSource(files);
files = await convertMarkdown(files, { mode: 'build' });
const errors = countErrors([files.pack, ...files.briefings]);
if (errors > 0) throw new Error(`the source has ${errors} errors; the floor prints only a valid pack`);
files = await applyTemplates(files);
const shared = sharedResources(files);

// The final state of each document, as the print stage leaves it before its last print.
const manifest: ManifestArtifact[] = values.built
  ? (
      JSON.parse(await readFile(path.join(values.built, 'manifest.json'), 'utf8')) as {
        artifacts: ManifestArtifact[];
      }
    ).artifacts
  : [];
const builtPdf = new Map(manifest.map((artifact) => [artifact.path, artifact]));
const packPages = values.built
  ? namedDestinationPages(await loadPdf(await readFile(path.join(values.built, 'pack.pdf'))))
  : undefined;

interface FloorDocument {
  path: string;
  html: string;
  pageCss: string;
}

function finalHtml(target: string | undefined, documentPath: string, html: string): string {
  if (target === 'pack' && packPages) {
    return html.replace(
      /(<a class="contents-link" href="#([^"]*)">[\s\S]*?<span class="contents-page">)[^<]*(<\/span>)/g,
      (_, start: string, anchor: string, end: string) =>
        `${start}${packPages.get(decodeURIComponent(anchor)) ?? ''}${end}`,
    );
  }
  if (target === 'brief' || target === 'briefing-brief') {
    const level = builtPdf.get(documentPath.replace(/\.html$/, '.pdf'))?.fit?.level ?? 0;
    return html.replace('<body class="brief fit-0">', `<body class="brief fit-${level}">`);
  }
  return html;
}

/** Each part of the pack (where it is printed in parts): its first page in the whole, its briefings. */
const partFirstPages = new Map<string, { first: number; anchors: Set<string> }>();

/**
 * The documents the build prints for a document: the pack of many briefings in parts
 * (`pipeline/lib/pack-parts.ts`), each numbered as in the built pack; any other, as it is.
 */
function finalDocuments(document: (typeof files.documents)[number]): FloorDocument[] {
  const target = document.data.document?.target;
  const html = String(document.value);
  const pageCss = document.data.pageCss ?? '';
  const anchors = (files.pack.data.pack?.briefingIds ?? []).map(briefingAnchor);
  const parts = target === 'pack' ? splitPack(html, pageCss, anchors) : undefined;
  if (!parts) return [{ path: document.path, html: finalHtml(target, document.path, html), pageCss }];
  const starts = anchors.map((anchor) => packPages?.get(anchor) ?? 0);
  const total = builtPdf.get('pack.pdf')?.pages ?? 0;
  return parts.parts.map((held, index) => {
    const first = index === 0 ? 1 : (starts[held[0] ?? 0] ?? 1);
    const path = `pack.part-${index + 1}.html`;
    partFirstPages.set(path.replace(/\.html$/, '.pdf'), {
      first,
      anchors: new Set(held.map((briefing) => anchors[briefing] ?? '')),
    });
    return { path, html: parts.html(index, starts), pageCss: parts.css(first || 1, total) };
  });
}

const documents: FloorDocument[] = files.documents
  .filter((document) => document.data.document?.target !== 'epub')
  .flatMap(finalDocuments)
  // The build's order: the longest first.
  .sort((a, b) => b.html.length - a.html.length);
const prepareMs = performance.now() - prepareStarted;

// Timed from here: launch, print each document once, close.
const found = findBrowser(values.browser);
const profile = await mkdtemp(path.join(os.tmpdir(), 'briefing-pack-floor-'));
const pdfs = new Map<string, Uint8Array>();
let browser: Browser | undefined;
let version = '';
const launchStarted = performance.now();
let launchMs = 0;
let printMs = 0;
let closeMs = 0;
try {
  browser = await puppeteer.launch({
    executablePath: found.executablePath,
    headless: isHeadlessShell(found.executablePath) ? 'shell' : true,
    pipe: true,
    userDataDir: profile,
    args: runningAsRoot() ? [...quietBrowserArgs, '--no-sandbox'] : quietBrowserArgs,
    // The build's limit on one protocol call (a print included).
    protocolTimeout: 120_000,
  });
  launchMs = performance.now() - launchStarted;
  version = await browser.version();
  const printStarted = performance.now();
  const live = browser;
  // One page per lane, reused from one document to the next, as the build does.
  const idle: Array<{ page: Page; current: FloorDocument | undefined }> = [];
  const openPage = async () => {
    const page = await live.newPage();
    const lane = { page, current: undefined as FloorDocument | undefined };
    await page.setJavaScriptEnabled(false);
    await page.setRequestInterception(true);
    page.on('request', (request: HTTPRequest) => {
      const url = request.url();
      const document = lane.current;
      let resource: Resource | undefined;
      if (document && url.startsWith(`${documentOrigin}/`)) {
        const file = decodeURIComponent(new URL(url).pathname.slice(1));
        resource =
          file === 'document.html'
            ? { contentType: 'text/html; charset=utf-8', body: document.html }
            : file === 'page.css'
              ? { contentType: 'text/css', body: document.pageCss }
              : shared(file);
      }
      if (!resource) {
        void request.abort('blockedbyclient');
        return;
      }
      // With the build's headers: the fonts, styles and images it marks as shared may be kept by the
      // browser from one document to the next, as in the build.
      void request.respond({
        status: 200,
        headers: resourceHeaders(resource),
        body: typeof resource.body === 'string' ? resource.body : Buffer.from(resource.body),
      });
    });
    return lane;
  };
  await mapWithConcurrency(documents, concurrency, async (document) => {
    const lane = idle.pop() ?? (await openPage());
    lane.current = document;
    await lane.page.goto(`${documentOrigin}/document.html`, { waitUntil: 'load', timeout: 0 });
    const bytes = await lane.page.pdf({
      preferCSSPageSize: true,
      printBackground: true,
      tagged: true,
      outline: true,
      timeout: 0,
    });
    pdfs.set(document.path.replace(/\.html$/, '.pdf'), bytes);
    lane.current = undefined;
    idle.push(lane);
  });
  printMs = performance.now() - printStarted;
  const closeStarted = performance.now();
  await browser.close();
  closeMs = performance.now() - closeStarted;
  browser = undefined;
} finally {
  await browser?.close().catch(() => undefined);
  await rm(profile, { recursive: true, force: true, maxRetries: 3 });
}

// Untimed: count the pages and compare them with the build's; in the pack, where each briefing starts too.
let pages = 0;
let partPages = 0;
const pageMismatches: string[] = [];
for (const [pdfPath, bytes] of pdfs) {
  const pdf = await loadPdf(bytes);
  const count = pdf.getPageCount();
  pages += count;
  const part = partFirstPages.get(pdfPath);
  if (part) {
    // A part of the pack: its briefings must start where they do in the built pack.
    partPages += count;
    if (!packPages) continue;
    const starts = namedDestinationPages(pdf);
    for (const anchor of part.anchors) {
      const page = (starts.get(anchor) ?? 0) - 1 + part.first;
      if (page !== packPages.get(anchor))
        pageMismatches.push(`${pdfPath}: #${anchor} on page ${page}, built ${packPages.get(anchor)}`);
    }
    continue;
  }
  const expected = builtPdf.get(pdfPath)?.pages;
  if (values.built && expected !== count)
    pageMismatches.push(`${pdfPath}: ${count} pages, built ${expected}`);
  if (pdfPath === 'pack.pdf' && packPages) {
    const starts = namedDestinationPages(pdf);
    for (const [anchor, page] of packPages) {
      if (starts.get(anchor) !== page)
        pageMismatches.push(`pack.pdf: #${anchor} on page ${starts.get(anchor)}, built ${page}`);
    }
  }
}
const builtPack = builtPdf.get('pack.pdf')?.pages;
if (values.built && partFirstPages.size > 0 && partPages !== builtPack)
  pageMismatches.push(`pack.pdf in ${partFirstPages.size} parts: ${partPages} pages, built ${builtPack}`);

const result: FloorResult = {
  browser: version,
  executablePath: found.executablePath,
  concurrency,
  documents: documents.length,
  finalDocuments: values.built !== undefined,
  prepareMs: Math.round(prepareMs),
  launchMs: Math.round(launchMs),
  printMs: Math.round(printMs),
  closeMs: Math.round(closeMs),
  totalMs: Math.round(launchMs + printMs + closeMs),
  pages,
  ...(values.built ? { pageMismatches } : {}),
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  process.stdout.write(
    `${[
      `${result.documents} documents, ${result.pages} pages, ${concurrency} at a time, ${version}`,
      `launch ${result.launchMs} ms, print ${result.printMs} ms, close ${result.closeMs} ms: floor ${result.totalMs} ms`,
      `(untimed preparation, stages 1–4: ${result.prepareMs} ms)`,
      ...(values.built && pageMismatches.length === 0 ? ['page counts: the same as the build'] : []),
      ...pageMismatches.map((line) => `page count differs: ${line}`),
    ].join('\n')}\n`,
  );
}
