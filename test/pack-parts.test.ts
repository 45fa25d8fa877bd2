/**
 * The pack printed in parts (pipeline/lib/pack-parts.ts): how the pack's document is split, and, end to
 * end through the command line, that the joined pack reads as one (its pages numbered without a gap,
 * its contents right, tagged, checked by qpdf), that an edit reprints only the part that shows it,
 * and that what the cache serves is byte for byte what a build without it makes, also when an edit
 * moves every later briefing to another page.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../pipeline/08-write-output.ts';
import { briefingsPerPart, partMarker, splitPack } from '../pipeline/lib/pack-parts.ts';
import { loadPdf, namedDestinationPages } from '../pipeline/lib/pdf-read.ts';
import { generatedId, generatePack } from '../scripts/generate-pack.ts';
import { pdfInfo, pdfText, qpdfCheck, runCli, temporaryFolder } from './helpers.ts';

/** A pack's document as the template writes it, with `count` briefings. */
function packHtml(count: number): string {
  const articles = Array.from(
    { length: count },
    (_, index) =>
      `${partMarker}\n<article class="briefing" id="b${index + 1}"><h1>B${index + 1}</h1></article>\n`,
  );
  const contents = Array.from(
    { length: count },
    (_, index) => `<a class="contents-link" href="#b${index + 1}"><span class="contents-page">0</span></a>`,
  ).join('');
  return `<!DOCTYPE html><html><head><title>P</title></head>\n<body class="pack">\n<section class="cover">C</section><nav>${contents}</nav>${articles.join('')}${partMarker}\n<section class="colophon" id="colophon">End</section>\n</body>\n</html>\n`;
}

const pageCss = '@page { @bottom-right { content: "Page " counter(page) " of " counter(pages); } }';
const anchors = (count: number) => Array.from({ length: count }, (_, index) => `b${index + 1}`);

describe('splitting the pack', () => {
  it('prints a pack of no more briefings than a part holds whole', () => {
    const count = briefingsPerPart;
    expect(splitPack(packHtml(count), pageCss, anchors(count))).toBeUndefined();
  });

  it('holds each briefing once, the front first and the colophon last, with the whole numbering', () => {
    const count = 2 * briefingsPerPart + 3;
    const parts = splitPack(packHtml(count), pageCss, anchors(count));
    expect(parts?.parts.map((held) => held.length)).toEqual([briefingsPerPart, briefingsPerPart, 3]);
    const starts = anchors(count).map((_, index) => 3 + 2 * index);
    const html = (parts?.parts ?? []).map((_, index) => parts?.html(index, starts) ?? '');
    for (const [index, id] of anchors(count).entries()) {
      const holding = html.filter((part) => part.includes(`<article class="briefing" id="${id}">`));
      expect(holding, id).toHaveLength(1);
      // Elsewhere an empty anchor, so that links to it are written; in its own part, a link to it.
      const own = Math.floor(index / briefingsPerPart);
      expect(html[own]).toContain(`<a href="#${id}"`);
      for (const [other, part] of html.entries())
        if (other !== own) expect(part, `${id} in part ${other}`).toContain(`<span id="${id}"></span>`);
    }
    expect(html[0]).toContain('<section class="cover">');
    expect(html[0]).toContain('<span class="contents-page">3</span>');
    expect(html[0]).toContain(`<span class="contents-page">${3 + 2 * (count - 1)}</span>`);
    expect(html.slice(1).some((part) => part.includes('class="cover"'))).toBe(false);
    expect(html[2]).toContain('<section class="colophon" id="colophon">');
    expect(html[2]).toContain('<a href="#colophon"');
    expect(html.slice(0, 2).some((part) => part.includes('class="colophon"'))).toBe(false);
    for (const part of html) {
      expect(part.startsWith('<!DOCTYPE html><html><head><title>P</title></head>\n<body class="pack">')).toBe(
        true,
      );
      expect(part.trimEnd().endsWith('</body>\n</html>')).toBe(true);
    }
    expect(parts?.css(1, 57)).toBe(pageCss.replace('counter(pages)', '"57"'));
    expect(parts?.css(24, 57)).toContain('@page :first { counter-increment: page 24; }');
    expect(parts?.frontOnly).not.toContain('<article');
  });

  it('prints the pack whole when its document or page CSS is not as the templates write them', () => {
    const count = briefingsPerPart + 1;
    const html = packHtml(count);
    expect(splitPack(html.replace(partMarker, ''), pageCss, anchors(count))).toBeUndefined();
    expect(splitPack(html, pageCss.replace('counter(pages)', '"9"'), anchors(count))).toBeUndefined();
    expect(splitPack(html.replace('<body class="pack">', ''), pageCss, anchors(count))).toBeUndefined();
  });
});

interface Report {
  cache?: { printed: number; reused: number };
  manifest?: Manifest;
  failure?: string;
}

let tmp: { dir: string; remove: () => Promise<void> };
let sourceDir: string;
const count = 2 * briefingsPerPart + 3;

beforeAll(async () => {
  tmp = await temporaryFolder('parts');
  sourceDir = path.join(tmp.dir, 'source');
  await generatePack(sourceDir, { count });
});

afterAll(async () => {
  await tmp?.remove();
});

/** Builds the source into `out` (with the test's cache, or none); the report and what was logged. */
async function build(out: string, cache = true): Promise<{ report: Report; log: string }> {
  const caching = cache ? ['--cache', path.join(tmp.dir, 'cache')] : ['--no-cache'];
  const run = await runCli(
    ['build', '--source', sourceDir, '--out', path.join(tmp.dir, out), ...caching, '--json', '--verbose'],
    { env: { BRIEFING_PACK_CACHE: '' } },
  );
  const report = JSON.parse(run.stdout) as Report;
  expect(report.failure, run.stderr).toBeUndefined();
  expect(run.code, run.stderr).toBe(0);
  return { report, log: run.stderr };
}

function digests(manifest: Manifest | undefined): Record<string, string> {
  return Object.fromEntries((manifest?.artifacts ?? []).map((artifact) => [artifact.path, artifact.sha256]));
}

/** How many parts the pack was printed in, and how many of them this build printed. */
function partsPrinted(log: string): { parts: number; printed: number } | undefined {
  const found = /printed in (\d+) parts: (\d+) printed/.exec(log);
  return found ? { parts: Number(found[1]), printed: Number(found[2]) } : undefined;
}

/** Edits a briefing's body: `extra` paragraphs added at its end. */
async function editBriefing(index: number, extra: string): Promise<void> {
  const file = path.join(sourceDir, 'briefings', `${generatedId(index)}.md`);
  await writeFile(file, `${(await readFile(file, 'utf8')).trimEnd()}\n\n${extra}\n`);
}

describe(`the pack of ${count} briefings, printed in parts`, () => {
  let first: { report: Report; log: string };

  beforeAll(async () => {
    first = await build('dist');
  }, 240_000);

  it('reads as one document: pages numbered without a gap, the contents right, tagged, checked', async () => {
    expect(partsPrinted(first.log)).toEqual({ parts: 3, printed: 3 });
    const file = path.join(tmp.dir, 'dist', 'pack.pdf');
    const pdf = await loadPdf(new Uint8Array(await readFile(file)));
    const total = pdf.getPageCount();
    const text = await pdfText(file);
    const pages = text.split('\f').slice(0, total);
    // The cover has no footer; every other page says where it is in the whole.
    for (const [index, page] of pages.entries()) {
      if (index === 0) continue;
      expect(page.replace(/\s+/g, ' '), `page ${index + 1}`).toContain(`Page ${index + 1} of ${total}`);
    }
    const starts = namedDestinationPages(pdf);
    const contents = pages.slice(1, (starts.get(`briefing-${generatedId(0)}`) ?? 2) - 1).join(' ');
    for (let index = 0; index < count; index++) {
      const start = starts.get(`briefing-${generatedId(index)}`);
      expect(start, generatedId(index)).toBeGreaterThan(1);
      expect(pages[(start ?? 1) - 1], generatedId(index)).toContain(`(${index + 1})`);
    }
    expect(contents.length).toBeGreaterThan(0);
    expect(await qpdfCheck(file)).toContain('No syntax or stream encoding errors');
    expect((await pdfInfo(file)).Tagged).toBe('yes');
  });

  it('an edited briefing reprints only the part that holds it, and matches a build without the cache', async () => {
    await editBriefing(briefingsPerPart + 2, 'A sentence added by the parts test.');
    const edited = await build('dist');
    expect(partsPrinted(edited.log)).toEqual({ parts: 3, printed: 1 });
    const full = await build('dist-full', false);
    expect(partsPrinted(full.log)).toEqual({ parts: 3, printed: 3 });
    expect(digests(edited.report.manifest)).toEqual(digests(full.report.manifest));
  }, 240_000);

  it('an edit that moves every later briefing renumbers the later parts, and still matches', async () => {
    const before = namedDestinationPages(
      await loadPdf(new Uint8Array(await readFile(path.join(tmp.dir, 'dist', 'pack.pdf')))),
    );
    const paragraph =
      'Another long paragraph added by the parts test, to push the briefing onto more pages. '.repeat(12);
    await editBriefing(1, Array.from({ length: 8 }, () => paragraph).join('\n\n'));
    const edited = await build('dist');
    expect(partsPrinted(edited.log)).toEqual({ parts: 3, printed: 3 });
    const after = namedDestinationPages(
      await loadPdf(new Uint8Array(await readFile(path.join(tmp.dir, 'dist', 'pack.pdf')))),
    );
    const last = `briefing-${generatedId(count - 1)}`;
    expect(after.get(last)).toBeGreaterThan(before.get(last) ?? 0);
    const full = await build('dist-moved', false);
    expect(digests(edited.report.manifest)).toEqual(digests(full.report.manifest));
  }, 240_000);
});
