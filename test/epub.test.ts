/**
 * End to end, the EPUB: the real CLI builds the founding pack; a generated pack of 30 briefings with
 * tables, notes, images, Cyrillic and Hangul, and a small pack of every kind of Markdown a briefing may
 * hold (`test/fixtures/epub-features`), have their EPUB built by the same stages without printing their
 * PDFs (`test/support/build-epub.ts`; other tests cover those PDFs). Each EPUB goes through epubcheck;
 * every content document of the unzipped folder is opened in Chromium and checked by axe-core; the
 * links of the unzipped folder are followed in Chromium; and a second build, in another time zone and
 * locale, must give the same bytes.
 */
import { execFile } from 'node:child_process';
import { cp, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AxeResults } from 'axe-core';
import { unzipSync } from 'fflate';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietBrowserArgs, runningAsRoot } from '../pipeline/lib/browser.ts';
import { findBrowser } from '../pipeline/lib/find-browser.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { generatePack } from '../scripts/generate-pack.ts';
import { epubcheck, formatEpubcheckMessage, runCli, squash, temporaryFolder } from './helpers.ts';

const sourceDateEpoch = '1752364800';
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** A pack built for these tests: where its source and output are, and how many briefings it has. */
interface BuiltPack {
  name: string;
  sourceDir: string;
  outDir: string;
  briefings: number;
}

/** Builds take long on a busy machine; each waits up to this. */
const buildTimeout = 300_000;
/** Following every link of a pack clicks through a few hundred documents. */
const walkTimeout = 300_000;

let folder: { dir: string; remove: () => Promise<void> };
let browser: Browser;
const packs: Record<'founding' | 'generated' | 'features', BuiltPack> = {
  founding: { name: 'the founding pack', sourceDir: '', outDir: '', briefings: 1 },
  generated: { name: 'a generated pack of 30 briefings', sourceDir: '', outDir: '', briefings: 30 },
  features: { name: 'a pack of every kind of Markdown', sourceDir: '', outDir: '', briefings: 2 },
};

async function build(sourceDir: string, outDir: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const run = await runCli(['build', '--source', sourceDir, '--out', outDir, '--quiet'], {
    env: { SOURCE_DATE_EPOCH: sourceDateEpoch, ...env },
  });
  expect(run.stderr).not.toMatch(/\berror\b/i);
  expect(run.code, run.stderr).toBe(0);
}

/** Builds only the EPUB, by the pipeline's stages, in a process of its own (time zone, locale). */
function buildEpub(sourceDir: string, outDir: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'test', 'support', 'build-epub.ts'), sourceDir, outDir],
      { env: { ...process.env, SOURCE_DATE_EPOCH: sourceDateEpoch, ...env }, cwd: projectRoot },
      (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve()),
    );
  });
}

/** Writes the source of a pack into the temporary folder (or names a fixture) and builds it once. */
async function buildPack(key: keyof typeof packs): Promise<void> {
  const pack = packs[key];
  if (key === 'founding') {
    pack.sourceDir = path.join(folder.dir, 'founding');
    await cp(path.join(projectRoot, 'source'), pack.sourceDir, { recursive: true });
  } else if (key === 'generated') {
    pack.sourceDir = path.join(folder.dir, 'generated');
    await generatePack(pack.sourceDir, {
      count: 30,
      tables: true,
      footnotes: true,
      images: true,
      cyrillic: true,
      hangul: true,
    });
  } else {
    pack.sourceDir = path.join(projectRoot, 'test', 'fixtures', 'epub-features');
  }
  pack.outDir = path.join(folder.dir, `${key}-out`);
  if (key === 'founding') await build(pack.sourceDir, pack.outDir);
  else await buildEpub(pack.sourceDir, pack.outDir);
}

beforeAll(async () => {
  folder = await temporaryFolder('briefing-pack-epub-');
  // A browser of the test's own: JavaScript on, for axe, and file access for its style sheet reads.
  const args = [...quietBrowserArgs, '--allow-file-access-from-files'];
  if (runningAsRoot()) args.push('--no-sandbox');
  browser = await puppeteer.launch({
    executablePath: findBrowser().executablePath,
    headless: true,
    pipe: true,
    args,
  });
});

afterAll(async () => {
  await browser?.close();
  await folder?.remove();
});

/** The XHTML content documents of an unzipped EPUB, in file-name order. */
async function contentDocuments(pack: BuiltPack): Promise<string[]> {
  const dir = path.join(pack.outDir, 'epub', 'EPUB');
  return (await readdir(dir))
    .filter((name) => name.endsWith('.xhtml'))
    .sort()
    .map((name) => path.join(dir, name));
}

/** Opens a page that records every request that failed, for the checks that follow. */
async function openPage(): Promise<{ page: Page; failures: string[] }> {
  const page = await browser.newPage();
  const failures: string[] = [];
  page.on('requestfailed', (request) => {
    failures.push(`${request.url()}: ${request.failure()?.errorText ?? 'failed'}`);
  });
  page.on('response', (response) => {
    if (!response.ok() && response.url().startsWith('file:'))
      failures.push(`${response.url()}: ${response.status()}`);
  });
  return { page, failures };
}

/** The axe-core violations of a loaded document, one line each. */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document): Promise<AxeResults> } }).axe;
    const results = await axe.run(document);
    return results.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact ?? 'unknown',
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
  });
  return violations.map(
    (violation) =>
      `${violation.id} (${violation.impact}): ${violation.help} at ${violation.targets.slice(0, 5).join(', ')}`,
  );
}

/** Follows a link of the page by clicking it, waiting for the navigation when it leaves the document. */
async function follow(page: Page, selector: string, index: number): Promise<void> {
  const before = new URL(page.url());
  const href = await page.$$eval(selector, (links, at) => links[at]?.getAttribute('href') ?? '', index);
  const target = new URL(href, before);
  const click = page.$$eval(selector, (links, at) => (links[at] as HTMLElement | undefined)?.click(), index);
  // Only a link to an anchor stays in the document; one to the document itself loads it again.
  if (target.pathname === before.pathname && target.hash !== '') await click;
  else await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), click]);
}

/** The element the current URL's fragment names, and its text; `null` when there is none. */
async function targetText(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const id = decodeURIComponent(location.hash.slice(1));
    return document.getElementById(id)?.textContent ?? null;
  });
}

const packKeys = Object.keys(packs) as Array<keyof typeof packs>;

describe.each(packKeys.map((key) => ({ key, name: packs[key].name })))('the EPUB of $name', ({ key }) => {
  const pack = packs[key];
  let epubDir: string;
  let contentsUrl: string;
  let entries: Array<{ href: string; text: string }>;

  beforeAll(async () => {
    await buildPack(key);
    epubDir = path.join(pack.outDir, 'epub', 'EPUB');
    contentsUrl = pathToFileURL(path.join(epubDir, 'nav.xhtml')).href;
    const { page } = await openPage();
    try {
      await page.goto(contentsUrl, { waitUntil: 'load' });
      entries = await page.$$eval('nav#toc a', (links) =>
        links.map((link) => ({ href: link.getAttribute('href') ?? '', text: link.textContent ?? '' })),
      );
    } finally {
      await page.close();
    }
  }, buildTimeout);

  it('passes epubcheck with no fatal error, error or warning', async () => {
    const report = await epubcheck(path.join(pack.outDir, 'pack.epub'));
    const problems = report.messages
      .filter((message) => ['FATAL', 'ERROR', 'WARNING'].includes(message.severity))
      .map(formatEpubcheckMessage);
    expect(problems).toEqual([]);
    expect(report.checker).toMatchObject({ nFatal: 0, nError: 0, nWarning: 0 });
    expect(report.exitCode, report.stderr).toBe(0);
    // A report of nothing also comes back for a file epubcheck could not open: check it read the book.
    expect(report.publication.nSpines).toBe(pack.briefings + 2);
  });

  it('opens each content document in Chromium with all it refers to, and axe-core finds no violations', async () => {
    const documents = await contentDocuments(pack);
    expect(documents).toHaveLength(pack.briefings + 2);
    const { page, failures } = await openPage();
    try {
      const violations: string[] = [];
      for (const file of documents) {
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
        const broken = await page.evaluate(async () => {
          await document.fonts.ready;
          const fonts = [...document.fonts].filter((face) => face.status === 'error');
          const images = [...document.images].filter((image) => image.naturalWidth === 0);
          return [...fonts.map((face) => face.family), ...images.map((image) => image.src)];
        });
        for (const line of broken) failures.push(`${path.basename(file)}: ${line} did not load`);
        for (const line of await axeViolations(page)) violations.push(`${path.basename(file)}: ${line}`);
      }
      expect(violations).toEqual([]);
      expect(failures).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it(
    'leads from the title page to the contents, and from the contents to every briefing and back',
    async () => {
      const { page, failures } = await openPage();
      try {
        await page.goto(pathToFileURL(path.join(epubDir, 'index.xhtml')).href, { waitUntil: 'load' });
        await follow(page, 'a[href="nav.xhtml"]', 0);
        expect(page.url()).toBe(contentsUrl);
        const briefings = entries.filter((entry) => !entry.href.includes('#'));
        expect(briefings).toHaveLength(pack.briefings);
        for (const [index, entry] of entries.entries()) {
          if (entry.href.includes('#')) continue;
          await follow(page, 'nav#toc a', index);
          expect(page.url()).toBe(new URL(entry.href, contentsUrl).href);
          // The briefing's title is the document's heading.
          expect(squash(await page.$eval('h1', (heading) => heading.textContent ?? ''))).toBe(
            squash(entry.text),
          );
          await page.goBack({ waitUntil: 'load' });
          expect(page.url()).toBe(contentsUrl);
        }
        // The landmarks lead to documents of the folder (one of them to the contents themselves, which a
        // browser loads again in place of the current history entry: so no going back here).
        const landmarks = await page.$$eval('nav#landmarks a', (links) =>
          links.map((link) => link.getAttribute('href') ?? ''),
        );
        expect(landmarks.length).toBeGreaterThan(0);
        for (const [index, href] of landmarks.entries()) {
          await page.goto(contentsUrl, { waitUntil: 'load' });
          await follow(page, 'nav#landmarks a', index);
          expect(page.url()).toBe(new URL(href, contentsUrl).href);
          expect(await page.$('main h1'), href).not.toBeNull();
        }
        expect(failures).toEqual([]);
      } finally {
        await page.close();
      }
    },
    walkTimeout,
  );

  it(
    'leads from the contents to every question of every briefing and back',
    async () => {
      const { page, failures } = await openPage();
      try {
        await page.goto(contentsUrl, { waitUntil: 'load' });
        const questions = entries.filter((entry) => entry.href.includes('#'));
        expect(questions.length).toBeGreaterThanOrEqual(pack.briefings);
        for (const [index, entry] of entries.entries()) {
          if (!entry.href.includes('#')) continue;
          await follow(page, 'nav#toc a', index);
          expect(page.url()).toBe(new URL(entry.href, contentsUrl).href);
          // The anchor exists and is the question's heading.
          expect(squash((await targetText(page)) ?? `no element for ${entry.href}`)).toBe(squash(entry.text));
          await page.goBack({ waitUntil: 'load' });
          expect(page.url()).toBe(contentsUrl);
        }
        expect(failures).toEqual([]);
      } finally {
        await page.close();
      }
    },
    walkTimeout,
  );

  it(
    'leads from every link to an anchor inside a briefing (notes, back from notes, headings) to its target',
    async () => {
      const { page, failures } = await openPage();
      try {
        let followed = 0;
        for (const entry of entries.filter((candidate) => !candidate.href.includes('#'))) {
          await page.goto(new URL(entry.href, contentsUrl).href, { waitUntil: 'load' });
          const anchors = await page.$$eval('a[href^="#"]', (links) =>
            links.map((link) => link.getAttribute('href')),
          );
          for (const [index, href] of anchors.entries()) {
            await follow(page, 'a[href^="#"]', index);
            expect(await targetText(page), `${entry.href} ${href}`).not.toBeNull();
            followed++;
          }
        }
        if (key !== 'founding') expect(followed).toBeGreaterThan(0);
        expect(failures).toEqual([]);
      } finally {
        await page.close();
      }
    },
    walkTimeout,
  );

  it('holds in the .epub the same files as the unzipped folder, `mimetype` first', async () => {
    const zipped = unzipSync(new Uint8Array(await readFile(path.join(pack.outDir, 'pack.epub'))));
    const names = Object.keys(zipped);
    expect(names[0]).toBe('mimetype');
    for (const name of names) {
      const onDisk = await readFile(path.join(pack.outDir, 'epub', name));
      expect(Buffer.compare(onDisk, Buffer.from(zipped[name] ?? [])), name).toBe(0);
    }
  });

  it(
    'gives the same bytes when built again with the same SOURCE_DATE_EPOCH, in another time zone and locale',
    async () => {
      const again = path.join(folder.dir, `${key}-again`);
      // Santiago: a time zone behind UTC, whose summer time starts at midnight.
      await buildEpub(pack.sourceDir, again, {
        TZ: 'America/Santiago',
        LANG: 'ko_KR.UTF-8',
        LC_ALL: 'ko_KR.UTF-8',
      });
      const first = await readFile(path.join(pack.outDir, 'pack.epub'));
      const second = await readFile(path.join(again, 'pack.epub'));
      expect(Buffer.compare(first, second)).toBe(0);
    },
    buildTimeout,
  );
});
