import { VFile } from 'vfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printPdfs } from '../pipeline/05-print-pdfs.ts';
import { type BrowserSession, loadDocument, openBrowser, openPages } from '../pipeline/lib/browser.ts';
import { BrowserPool } from '../pipeline/lib/browser-pool.ts';
import { loadPdf, namedDestinationPages } from '../pipeline/lib/pdf-read.ts';
import { briefingMeta } from './helpers.ts';

let session: BrowserSession;
beforeAll(async () => {
  session = await openBrowser({ log: () => undefined });
});
afterAll(async () => {
  await session?.close();
});

const page = (body: string) =>
  `<!DOCTYPE html><html lang="en"><head><title>t</title></head><body>${body}</body></html>`;

describe('printing a document', () => {
  it('never runs the page’s scripts', async () => {
    const html = page(
      '<p id="p">static</p><script>document.getElementById("p").textContent = "script ran"</script>',
    );
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: (path) => (path === 'document.html' ? { contentType: 'text/html', body: html } : undefined),
    });
    try {
      expect(await loaded.page.evaluate(() => document.getElementById('p')?.textContent)).toBe('static');
    } finally {
      await loaded.close();
    }
  });

  it('answers only from the build’s files and reports every other request', async () => {
    const blocked: string[] = [];
    const html = page(
      '<img src="https://example.org/tracker.png" alt=""><img src="http://127.0.0.1:9/x.png" alt=""><link rel="stylesheet" href="missing.css">',
    );
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: (path) => (path === 'document.html' ? { contentType: 'text/html', body: html } : undefined),
      onBlocked: (url) => blocked.push(url),
    });
    await loaded.close();
    expect(blocked.sort()).toEqual([
      'http://127.0.0.1:9/x.png',
      'https://briefing-pack.invalid/missing.css',
      'https://example.org/tracker.png',
    ]);
  });

  it('refuses a navigation the document asks for after it has loaded', async () => {
    const blocked: string[] = [];
    const html = page(
      '<meta http-equiv="refresh" content="0; url=https://briefing-pack.invalid/other.html"><p>first</p>',
    );
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: (path) => ({
        contentType: 'text/html',
        body: path === 'document.html' ? html : page('<p>second</p>'),
      }),
      onBlocked: (url) => blocked.push(url),
    });
    // The refresh is asked for at once after the load (later on a busy machine), and refused.
    await expect
      .poll(() => blocked, { timeout: 15_000, interval: 20 })
      .toContain('https://briefing-pack.invalid/other.html');
    expect(await loaded.page.evaluate(() => document.body.textContent)).toContain('first');
    await loaded.close();
  });

  it('loads the first documents in pages opened beforehand', async () => {
    const before = session.idlePages.length;
    openPages(session, before + 1);
    expect(session.openingPages).toHaveLength(1);
    const opening = session.openingPages?.[0];
    // Another call opens no more: one is ready or on its way.
    openPages(session, before + 1);
    expect(session.openingPages).toHaveLength(1);
    const pages = [];
    const loads = [];
    for (let index = 0; index <= before; index++) {
      loads.push(
        await loadDocument(session, {
          documentPath: 'document.html',
          resolve: () => ({ contentType: 'text/html', body: page(`<p>${index}</p>`) }),
        }),
      );
      pages.push(loads.at(-1)?.page);
    }
    expect(session.openingPages).toHaveLength(0);
    expect(pages).toContain((await opening)?.page);
    for (const loaded of loads) await loaded.close();
  });

  it('reads back on which page each linked anchor landed', async () => {
    const html = page(
      '<a href="#two">to two</a><h1 id="one">One</h1><h1 id="two" style="break-before: page">Two</h1><a href="#one">back</a>',
    );
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: () => ({ contentType: 'text/html', body: html }),
    });
    const bytes = await loaded.print();
    await loaded.close();
    expect(Object.fromEntries(namedDestinationPages(await loadPdf(bytes)))).toEqual({ one: 1, two: 2 });
  });

  it('reports a refused request as a warning on the briefing whose document asked', async () => {
    const pack = new VFile({ path: '/source/pack.yaml', value: '' });
    const briefing = new VFile({ path: '/source/briefings/one.md', value: '' });
    briefing.data.briefing = briefingMeta('one', 'One');
    const document = new VFile({
      path: 'briefings/one.html',
      value: page(
        '<p>text</p><img src="not-a-build-file.png" alt=""><img src="not-a-build-file.png" alt="">',
      ),
      data: { document: { target: 'briefing', briefingId: 'one' }, pageCss: '' },
    });
    const files = { sourceDir: '/source', pack, briefings: [briefing], documents: [document], outputs: [] };
    const pool = new BrowserPool(async () => session);
    const printed = await printPdfs(files, { pool, concurrency: 1, log: () => undefined });
    expect(printed.outputs.map((output) => output.path)).toEqual(['briefings/one.pdf']);
    expect(briefing.messages.map((message) => [message.ruleId, message.fatal, message.reason])).toEqual([
      [
        'blocked-request',
        false,
        "Unexpected request for `https://briefing-pack.invalid/not-a-build-file.png` while printing `briefings/one.html`, expected only the build's own files; it was refused and left out",
      ],
    ]);
    expect(pack.messages).toEqual([]);
  });
});
