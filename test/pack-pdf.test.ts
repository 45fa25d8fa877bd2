/**
 * The print-grade pack (issue 4), end to end on a generated pack of 30 briefings with tables,
 * footnotes, images, Cyrillic and Hangul, plus a briefing with an 80-row table and text in every
 * script the fonts cover. Read back with poppler, qpdf and pdf-lib, as a reader would.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PDFDict, PDFHexString, PDFName, PDFString } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPdf } from '../pipeline/lib/pdf-read.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { generatePack } from '../scripts/generate-pack.ts';
import { pdfFonts, pdfInfo, pdfText, qpdfCheck, runCli, squash, temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
let sourceDir: string;
let outDir: string;
let titles: Map<string, string>;

const scripts = {
  latin: 'Zürich, Øresund, Łódź, São Tomé',
  cyrillic: 'Сергей Лавров и Мария Захарова',
  greek: 'Υπουργείο Εξωτερικών',
  vietnamese: 'Bộ Ngoại giao Việt Nam',
  hangul: '김정은 조선민주주의인민공화국 외무성',
};

const tableBriefing = `---
title: A long table and every script
date: 2025-12-31
summary: A briefing with an eighty-row table, and names in ${Object.values(scripts).join('; ')}.
---

${Object.values(scripts).join('\n\n')}

## Exports by country

| Country | Exports (bn) | Change | Note |
|---|---:|---:|---|
${Array.from({ length: 80 }, (_, row) => `| Land ${row + 1} | ${(row * 1.5 + 10).toFixed(1)} | ${(row % 7) - 3}.0% | Row ${row + 1} of 80 |`).join('\n')}

## Unpacked

### Why print a long table?

To see that its header repeats on every page and that no row is cut.
`;

beforeAll(async () => {
  folder = await temporaryFolder();
  sourceDir = path.join(folder.dir, 'source');
  outDir = path.join(folder.dir, 'out');
  const ids = await generatePack(sourceDir, {
    count: 30,
    tables: true,
    footnotes: true,
    images: true,
    cyrillic: true,
    hangul: true,
  });
  await writeFile(path.join(sourceDir, 'briefings', 'long-table.md'), tableBriefing);
  const pack = await readFile(path.join(sourceDir, 'pack.yaml'), 'utf8');
  await writeFile(
    path.join(sourceDir, 'pack.yaml'),
    pack.replace('briefings:\n', 'briefings:\n  - long-table\n'),
  );
  titles = new Map([['long-table', 'A long table and every script']]);
  for (const id of ids) {
    const text = await readFile(path.join(sourceDir, 'briefings', `${id}.md`), 'utf8');
    titles.set(id, JSON.parse(/^title: (.+)$/m.exec(text)?.[1] ?? '""'));
  }
  const run = await runCli(['build', '--source', sourceDir, '--out', outDir]);
  expect(run.stderr).toContain('Built');
  expect(run.code).toBe(0);
}, 600_000);

afterAll(async () => {
  await folder?.remove();
});

/** The page each briefing's contents entry names, read from the contents pages' text. */
async function contentsPages(pack: string): Promise<Map<string, number>> {
  const info = await pdfInfo(pack);
  const pages = Number(info.Pages);
  let contents = '';
  for (let page = 2; page <= Math.min(pages, 8); page++) {
    const text = await pdfText(pack, page);
    if (page > 2 && !/^\s*\d+\s/m.test(text)) break;
    contents += ` ${text}`;
  }
  const found = new Map<string, number>();
  const squashed = squash(contents);
  for (const [id, title] of titles) {
    const at = squashed.indexOf(squash(title));
    const page = /^\s*(\d+)/.exec(squashed.slice(at + squash(title).length))?.[1];
    if (at >= 0 && page) found.set(id, Number(page));
  }
  return found;
}

describe('the pack PDF of 31 briefings', () => {
  it('prints in the contents the page on which each briefing’s title is printed', async () => {
    const pack = path.join(outDir, 'pack.pdf');
    const pages = await contentsPages(pack);
    expect(pages.size).toBe(31);
    for (const [id, page] of pages) {
      const text = squash(await pdfText(pack, page));
      expect(text, `briefing ${id} on page ${page}`).toContain(squash(titles.get(id) ?? ''));
    }
  });

  it('repeats the table header on every page the table spans and never cuts a row', async () => {
    const pdf = path.join(outDir, 'briefings', 'long-table.pdf');
    const pages = Number((await pdfInfo(pdf)).Pages);
    const rowsSeen = new Set<number>();
    let pagesWithRows = 0;
    for (let page = 1; page <= pages; page++) {
      const text = squash(await pdfText(pdf, page, { layout: true }));
      const rows = [...text.matchAll(/Land (\d+) ([\d.]+) (-?\d+\.0)% Row (\d+) of 80/g)];
      if (rows.length === 0) continue;
      pagesWithRows++;
      expect(text, `header on page ${page}`).toMatch(/Country Exports \(bn\) Change Note/);
      for (const row of rows) {
        expect(row[1]).toBe(row[4]);
        rowsSeen.add(Number(row[1]));
      }
    }
    expect(pagesWithRows).toBeGreaterThan(1);
    expect([...rowsSeen].sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, index) => index + 1));
  });

  it('prints text in every script with the bundled fonts only, all embedded', async () => {
    const text = squash(await pdfText(path.join(outDir, 'briefings', 'long-table.pdf')));
    for (const sample of Object.values(scripts)) expect(text).toContain(sample);
    for (const file of ['pack.pdf', 'brief.pdf', 'briefings/long-table.pdf', 'briefings/briefing-001.pdf']) {
      const fonts = await pdfFonts(path.join(outDir, file));
      expect(fonts.length).toBeGreaterThan(0);
      for (const font of fonts) {
        expect(font.embedded, `${font.name} in ${file}`).toBe(true);
        expect(font.name, file).toMatch(/^[A-Z]{6}\+(SourceSerif4|SourceSans3|NotoSerifKR|NotoSansKR)/);
      }
    }
  });

  it('is tagged, titled, in the pack’s language, with a bookmark for every briefing and question', async () => {
    const pack = path.join(outDir, 'pack.pdf');
    const info = await pdfInfo(pack);
    expect(info).toMatchObject({ Tagged: 'yes', Title: 'Generated pack of 30' });
    const document = await loadPdf(await readFile(pack));
    expect(String(document.catalog.get(PDFName.of('Lang')))).toContain('en-GB');
    const bookmarks: string[] = [];
    const walk = (item: unknown) => {
      let node = item;
      while (node instanceof PDFDict) {
        const title = node.lookup(PDFName.of('Title'));
        if (title instanceof PDFString || title instanceof PDFHexString)
          bookmarks.push(squash(title.decodeText()));
        walk(node.lookup(PDFName.of('First')));
        node = node.lookup(PDFName.of('Next'));
      }
    };
    const outlines = document.catalog.lookup(PDFName.of('Outlines'));
    if (outlines instanceof PDFDict) walk(outlines.lookup(PDFName.of('First')));
    for (const title of titles.values()) expect(bookmarks).toContain(squash(title));
    const sourceText = await readFile(path.join(sourceDir, 'briefings', 'briefing-007.md'), 'utf8');
    const questions = [...sourceText.matchAll(/^### (.+)$/gm)].map((match) => squash(match[1] ?? ''));
    expect(questions.length).toBeGreaterThan(1);
    for (const question of questions) expect(bookmarks).toContain(question);
  });

  it('passes qpdf --check for every PDF', async () => {
    const files = ['pack.pdf', 'brief.pdf', ...[...titles.keys()].map((id) => `briefings/${id}.pdf`)];
    for (const file of files)
      await expect(qpdfCheck(path.join(outDir, file))).resolves.toMatch(
        /No syntax or stream encoding errors/,
      );
  });
});

describe('paper size', () => {
  it('sets every PDF on Letter when pack.yaml asks for it', async () => {
    const letterSource = path.join(folder.dir, 'letter');
    await cp(path.join(projectRoot, 'source'), letterSource, { recursive: true });
    const packFile = path.join(letterSource, 'pack.yaml');
    await writeFile(packFile, (await readFile(packFile, 'utf8')).replace('paper: A4', 'paper: Letter'));
    const out = path.join(folder.dir, 'letter-out');
    const run = await runCli(['build', '--source', letterSource, '--out', out]);
    expect(run.code).toBe(0);
    for (const file of ['pack.pdf', 'brief.pdf']) {
      const info = await pdfInfo(path.join(out, file));
      expect(info['Page size']).toMatch(/^612 x 792 pts \(letter\)/);
    }
    expect(Number((await pdfInfo(path.join(out, 'brief.pdf'))).Pages)).toBe(1);
  });
});
