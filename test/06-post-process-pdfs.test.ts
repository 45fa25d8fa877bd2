import { PDFDict, PDFHexString, PDFName, PDFString } from 'pdf-lib';
import { VFile } from 'vfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postProcessPdfs } from '../pipeline/06-post-process-pdfs.ts';
import { type BrowserSession, openBrowser } from '../pipeline/lib/browser.ts';
import type { BuildFiles } from '../pipeline/lib/model.ts';
import { loadPdf } from '../pipeline/lib/pdf-read.ts';
import { printHtml } from './helpers.ts';

let session: BrowserSession;
beforeAll(async () => {
  session = await openBrowser({ log: () => undefined });
});
afterAll(async () => {
  await session?.close();
});

/** Prints HTML with the real browser, as stage 5 would. */
function print(body: string): Promise<Uint8Array> {
  return printHtml(
    session,
    `<!DOCTYPE html><html lang="en"><head><title>t</title><link rel="stylesheet" href="fonts.css"><style>html { font-family: 'Source Serif 4' } h2 { text-transform: uppercase }</style></head><body>${body}</body></html>`,
  );
}

const packBody = (paragraph: string) =>
  `<h1>The pack</h1><h1>Contents</h1><h1 style="break-before: page">One</h1><p>The summary.</p><h2>Unpacked</h2><h3>Why?</h3><p>${paragraph}</p><h1>About this pack</h1>`;

function build(pack: Uint8Array, briefing: Uint8Array): BuildFiles {
  const packFile = new VFile({ path: '/s/pack.yaml', value: '' });
  packFile.data.pack = {
    title: 'The pack',
    subtitle: 'Sub',
    date: '2025-07-13',
    organisation: 'Policy Unit',
    language: 'en-GB',
    paper: 'A4',
    markings: [],
    briefingIds: ['one'],
    brief: { title: 'The brief', briefingIds: ['one'] },
  };
  const briefingFile = new VFile({ path: '/s/briefings/one.md', value: '' });
  briefingFile.data.briefing = {
    id: 'one',
    title: 'One',
    date: '2025-07-13',
    summary: 'The summary.',
    keyPoints: [],
    tags: ['North Korea', 'Sanctions'],
    regions: [],
    authors: ['A. Author'],
    sources: [],
  };
  briefingFile.data.content = {
    html: '',
    xhtml: '',
    headings: [
      { depth: 2, text: 'Unpacked', id: 'c-one-unpacked', question: false },
      { depth: 3, text: 'Why?', id: 'c-one-why', question: true },
    ],
    blocks: [{ text: 'Because it matters.', line: 9, column: 1 }],
    assets: [],
    hasFootnotes: false,
  };
  const outputs = [
    new VFile({ path: 'pack.pdf', value: pack, data: { artifact: { kind: 'pack-pdf' } } }),
    new VFile({
      path: 'briefings/one.pdf',
      value: briefing,
      data: { artifact: { kind: 'briefing-pdf', briefingId: 'one' } },
    }),
  ];
  return { sourceDir: '/s', pack: packFile, briefings: [briefingFile], documents: [], outputs };
}

function bookmarks(document: Awaited<ReturnType<typeof loadPdf>>): string[] {
  const titles: string[] = [];
  const walk = (item: unknown, depth: number) => {
    let node = item;
    while (node instanceof PDFDict) {
      const title = node.lookup(PDFName.of('Title'));
      if (title instanceof PDFString || title instanceof PDFHexString)
        titles.push(`${'  '.repeat(depth)}${title.decodeText()}`);
      walk(node.lookup(PDFName.of('First')), depth + 1);
      node = node.lookup(PDFName.of('Next'));
    }
  };
  const root = document.catalog.lookup(PDFName.of('Outlines'));
  if (root instanceof PDFDict) walk(root.lookup(PDFName.of('First')), 0);
  return titles;
}

describe('postProcessPdfs', () => {
  it('writes metadata and the epoch dates in place, and counts the pages', async () => {
    const pdf = await print(packBody('Because it matters.'));
    const single = await print(
      '<h1>One</h1><p>The summary.</p><h2>Unpacked</h2><h3>Why?</h3><p>Because it matters.</p>',
    );
    const files = await postProcessPdfs(build(pdf, single), {
      epochSeconds: 1752364800,
      browserVersion: 'Chromium 1.0',
    });
    const [pack, briefing] = files.outputs;
    const packPdf = await loadPdf(pack?.value as Uint8Array);
    expect(packPdf.getTitle()).toBe('The pack');
    expect(packPdf.getAuthor()).toBe('Policy Unit');
    expect(packPdf.getSubject()).toBe('Sub');
    expect(packPdf.getKeywords()).toBe('North Korea; Sanctions');
    expect(packPdf.getCreationDate()?.toISOString()).toBe('2025-07-13T00:00:00.000Z');
    expect(packPdf.getModificationDate()?.toISOString()).toBe('2025-07-13T00:00:00.000Z');
    expect(String(packPdf.catalog.get(PDFName.of('Lang')))).toContain('en-GB');
    expect(pack?.data.artifact?.pages).toBe(2);
    const briefingPdf = await loadPdf(briefing?.value as Uint8Array);
    expect(briefingPdf.getTitle()).toBe('One');
    expect(briefingPdf.getAuthor()).toBe('A. Author');
  });

  it('rebuilds the bookmarks with the source’s titles at the printed headings', async () => {
    const files = await postProcessPdfs(
      build(
        await print(packBody('Because it matters.')),
        await print(
          '<h1>One</h1><h2>Unpacked</h2><h3>Why?</h3><p>Because it matters.</p><p>The summary.</p>',
        ),
      ),
      {
        epochSeconds: 1752364800,
        browserVersion: 'Chromium 1.0',
      },
    );
    expect(bookmarks(await loadPdf(files.outputs[0]?.value as Uint8Array))).toEqual([
      'The pack',
      'Contents',
      'One',
      '  Unpacked',
      '    Why?',
      'About this pack',
    ]);
  });

  it('fails, naming the briefing and the paragraph, when text of the source is missing from a PDF', async () => {
    const pack = await print(packBody('Because it matters.'));
    const incomplete = await print(
      '<h1>One</h1><p>The summary.</p><h2>Unpacked</h2><h3>Why?</h3><p>Something else.</p>',
    );
    await expect(
      postProcessPdfs(build(pack, incomplete), { epochSeconds: 1752364800, browserVersion: 'Chromium 1.0' }),
    ).rejects.toThrow(/briefings\/one\.pdf.*\n.*briefing `one` \(.*one\.md:9:1\): «Because it matters\.»/);
  });

  it('reads with pdf.js, and says so, a PDF its own reader does not cover; missing text is still found', async () => {
    const pack = await print(packBody('Because it matters.'));
    // Without its fonts' ToUnicode maps, the content streams do not say what text they show.
    const incomplete = await loadPdf(
      await print('<h1>One</h1><p>The summary.</p><h2>Unpacked</h2><h3>Why?</h3><p>Something else.</p>'),
    );
    for (const [, object] of incomplete.context.enumerateIndirectObjects()) {
      if (object instanceof PDFDict && object.get(PDFName.of('Type')) === PDFName.of('Font')) {
        object.delete(PDFName.of('ToUnicode'));
      }
    }
    const lines: string[] = [];
    await expect(
      postProcessPdfs(build(pack, await incomplete.save()), {
        epochSeconds: 1752364800,
        browserVersion: 'Chromium 1.0',
        log: (line) => lines.push(line),
      }),
    ).rejects.toThrow(/content-loss check \(briefings\/one\.pdf\)[\s\S]*«Because it matters\.»/);
    expect(lines).toEqual([
      'briefings/one.pdf: text read with pdf.js; its content is not what Chromium writes',
    ]);
  });

  it('gives the same bytes for the same input, whatever the clock', async () => {
    const pdf = await print(packBody('Because it matters.'));
    const first = await postProcessPdfs(build(pdf, pdf), {
      epochSeconds: 1752364800,
      browserVersion: 'Chromium 1.0',
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await postProcessPdfs(build(pdf, pdf), {
      epochSeconds: 1752364800,
      browserVersion: 'Chromium 1.0',
    });
    expect(
      Buffer.compare(first.outputs[0]?.value as Uint8Array, second.outputs[0]?.value as Uint8Array),
    ).toBe(0);
  });
});
