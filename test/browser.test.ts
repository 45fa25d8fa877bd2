/**
 * The render guard on its own: documents that were never sanitised, full of everything a page can use
 * to reach out, printed by the real browser. Nothing may reach the canary server on loopback, nothing
 * may be read from the disk, and every refused request must be reported.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrowserSession,
  documentOrigin,
  loadDocument,
  openBrowser,
  printOptions,
  printPage,
  quietBrowserArgs,
} from '../pipeline/lib/browser.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { temporaryFolder } from './helpers.ts';
import { type Canary, filesLeakingToken, startCanary } from './security/canary.ts';

let session: BrowserSession;
let canary: Canary;
let folder: { dir: string; remove: () => Promise<void> };

beforeAll(async () => {
  folder = await temporaryFolder();
  canary = await startCanary(path.join(folder.dir, 'canary'));
  session = await openBrowser({ log: () => undefined });
});
afterAll(async () => {
  await session?.close();
  await canary?.close();
  await folder?.remove();
});

const page = (head: string, body: string) =>
  `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>${head}</head><body>${body}</body></html>`;

/** A page that tries every way to load something from the canary server or the disk. */
function hostileDocument(): string {
  const remote = (name: string) => `http://127.0.0.1:${canary.port}/${name}`;
  const file = `file://${canary.secretSvg}`;
  return page(
    [
      `<link rel="stylesheet" href="${remote('stylesheet')}">`,
      `<link rel="preload" as="image" href="${remote('preload')}">`,
      `<link rel="prefetch" href="${remote('prefetch')}">`,
      `<link rel="icon" href="${remote('icon')}">`,
      `<style>@import url(${remote('import')}); body { background: url(${remote('css-url')}); }`,
      `@font-face { font-family: x; src: url(${remote('font')}); } p { font-family: x; }`,
      `.file { background: url(${file}); }</style>`,
      `<meta http-equiv="refresh" content="0; url=${remote('refresh')}">`,
    ].join(''),
    [
      '<p class="file">Text</p>',
      `<script>fetch(${JSON.stringify(remote('script-fetch'))}); document.write(atob(${JSON.stringify(Buffer.from(canary.token).toString('base64'))}));</script>`,
      `<noscript><img src="${remote('noscript')}" alt=""></noscript>`,
      `<img src="${remote('img')}" alt="">`,
      `<img src="${file}" alt="">`,
      `<img srcset="${remote('srcset')} 1x, ${remote('srcset-2x')} 2x" alt="">`,
      `<picture><source srcset="${remote('picture')}"><img src="x.png" alt=""></picture>`,
      `<iframe src="${remote('iframe')}"></iframe>`,
      `<iframe src="file://${canary.secretFile}"></iframe>`,
      `<iframe srcdoc="&lt;img src='${remote('srcdoc')}'&gt;"></iframe>`,
      `<object data="${remote('object')}"></object>`,
      `<object data="file://${canary.secretFile}" type="text/plain"></object>`,
      `<embed src="${remote('embed')}">`,
      `<video poster="${remote('poster')}" src="${remote('video')}"></video>`,
      `<audio src="${remote('audio')}" autoplay></audio>`,
      `<input type="image" src="${remote('input')}" alt="">`,
      `<svg xmlns="http://www.w3.org/2000/svg"><image href="${remote('svg-image')}" width="10" height="10"/></svg>`,
      `<p style="background-image: url(${remote('style-attribute')})">styled</p>`,
      `<form action="${remote('form')}"><button>go</button></form>`,
    ].join(''),
  );
}

describe('the render guard', () => {
  it('lets a hostile page reach neither the network nor the disk, and reports what it refused', async () => {
    const blocked: string[] = [];
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: (name) =>
        name === 'document.html' ? { contentType: 'text/html', body: hostileDocument() } : undefined,
      onBlocked: (url) => blocked.push(url),
    });
    let bytes: Uint8Array;
    try {
      bytes = await loaded.print();
      expect(await loaded.page.evaluate(() => document.body.textContent)).not.toContain(canary.token);
    } finally {
      await loaded.close();
    }
    // The PDF is searched decompressed and as extracted text; `file:` loads never even reach the filter.
    const printed = path.join(folder.dir, 'printed');
    await mkdir(printed, { recursive: true });
    await writeFile(path.join(printed, 'hostile.pdf'), bytes);
    expect(await filesLeakingToken(printed, canary.token)).toEqual([]);
    expect(canary.requests).toEqual([]);
    const refusedFromCanary = blocked.filter((url) => url.startsWith(`http://127.0.0.1:${canary.port}/`));
    for (const name of ['stylesheet', 'img', 'srcset', 'iframe', 'object', 'embed', 'css-url', 'refresh'])
      expect(refusedFromCanary, name).toContain(`http://127.0.0.1:${canary.port}/${name}`);
  });

  it('refuses a late refresh of a released document, and reports it as that document’s', async () => {
    const blocked: string[] = [];
    const html = page(
      `<meta http-equiv="refresh" content="1; url=http://127.0.0.1:${canary.port}/late-refresh">`,
      '<p>first</p>',
    );
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: () => ({ contentType: 'text/html', body: html }),
      onBlocked: (url) => blocked.push(url),
    });
    await loaded.close();
    // The refresh comes a second after the load (later on a busy machine), and is refused.
    await expect
      .poll(() => blocked, { timeout: 15_000, interval: 50 })
      .toEqual([`http://127.0.0.1:${canary.port}/late-refresh`]);
    expect(canary.requests).toEqual([]);
    // The page serves the next job as if nothing had happened.
    const next = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: () => ({ contentType: 'text/html', body: page('', '<p>next</p>') }),
    });
    expect(next.page).toBe(loaded.page);
    expect(await next.page.evaluate(() => document.body.textContent)).toBe('next');
    await next.close();
  });

  it('serves a reused page only the files of its current job', async () => {
    const first = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: (name) =>
        name === 'document.html' ? { contentType: 'text/html', body: page('', '<p>one</p>') } : undefined,
    });
    await first.close();
    const blocked: string[] = [];
    const second = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: (name) =>
        name === 'document.html'
          ? { contentType: 'text/html', body: page('', '<p>two</p><img src="secret.png" alt="">') }
          : undefined,
      onBlocked: (url) => blocked.push(url),
    });
    expect(second.page).toBe(first.page);
    expect(await second.page.evaluate(() => document.body.textContent)).toBe('two');
    await second.close();
    expect(blocked).toEqual([`${documentOrigin}/secret.png`]);
  });

  it('lets the browser keep the shared files from one document to the next, and nothing else', async () => {
    const asked: string[][] = [];
    const job = (color: string) => {
      const seen: string[] = [];
      asked.push(seen);
      return {
        documentPath: 'document.html',
        resolve: (name: string) => {
          seen.push(name);
          if (name === 'document.html')
            return {
              contentType: 'text/html',
              body: page(
                '<link rel="stylesheet" href="shared.css"><link rel="stylesheet" href="page.css">',
                `<p>${color}</p>`,
              ),
            };
          if (name === 'page.css') return { contentType: 'text/css', body: `p { color: ${color}; }` };
          if (name === 'shared.css')
            return { contentType: 'text/css', body: 'p { margin: 3px; }', shared: true };
          return undefined;
        },
      };
    };
    const first = await loadDocument(session, job('red'));
    await first.close();
    const second = await loadDocument(session, job('blue'));
    expect(second.page).toBe(first.page);
    const style = await second.page.evaluate(() => {
      const paragraph = getComputedStyle(document.querySelector('p') as Element);
      return [paragraph.color, paragraph.marginTop];
    });
    await second.close();
    // The second document's own files were asked for again; the shared one came from the browser.
    expect(asked[0]?.filter((name) => name !== 'favicon.ico').sort()).toEqual([
      'document.html',
      'page.css',
      'shared.css',
    ]);
    expect(asked[1]?.filter((name) => name !== 'favicon.ico').sort()).toEqual(['document.html', 'page.css']);
    expect(style).toEqual(['rgb(0, 0, 255)', '3px']);
  });

  it('has the templates’ Content-Security-Policy stop what a breach of the request filter would let through', async () => {
    const layout = await readFile(path.join(projectRoot, 'templates', 'layouts', 'print.liquid'), 'utf8');
    const csp = /<meta http-equiv="Content-Security-Policy"[^>]*>/.exec(layout)?.[0] ?? '';
    expect(csp).toContain("default-src 'none'");
    const requested: string[] = [];
    const html = page(
      csp,
      `<img src="http://127.0.0.1:${canary.port}/csp-img" alt=""><p style="background: url(http://127.0.0.1:${canary.port}/csp-style)">x</p><img src="own.png" alt="">`,
    );
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      // A filter that answers everything, as if it were broken: only the policy stands in the way.
      resolve: (name) => {
        requested.push(name);
        return { contentType: 'text/html', body: html };
      },
      onBlocked: (url) => requested.push(url),
    });
    await loaded.close();
    expect(requested).toEqual(['document.html', 'own.png']);
    expect(canary.requests).toEqual([]);
  });

  it('starts Chromium with background networking off and no host name resolving', () => {
    expect(quietBrowserArgs).toContain('--disable-background-networking');
    expect(quietBrowserArgs).toContain('--host-resolver-rules=MAP * ~NOTFOUND');
  });
});

/** The processes of a process group that are still running (zombies are dead: left out). */
async function runningInGroup(group: number): Promise<number[]> {
  const running: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid pgrp …: the command may hold spaces and parentheses, so split after it.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z') running.push(Number(name));
  }
  return running;
}

describe('closing the browser', () => {
  it('leaves no Chromium process behind, not even a renderer that stopped answering', async () => {
    const own = await openBrowser({ log: () => undefined });
    const group = own.browser.process()?.pid ?? 0;
    expect(group).toBeGreaterThan(0);
    const loaded = await loadDocument(own, {
      documentPath: 'document.html',
      resolve: (name) =>
        name === 'document.html' ? { contentType: 'text/html', body: page('', '<p>one</p>') } : undefined,
    });
    await loaded.close();
    // A renderer stopped (as a hung one is): Chromium's main process exits without it. Left running,
    // it would hold Chromium's stderr open, and with it the build's process, for ever.
    for (const pid of await runningInGroup(group)) {
      const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (command.includes('--type=renderer')) process.kill(pid, 'SIGSTOP');
    }
    await own.close();
    const deadline = Date.now() + 5_000;
    while ((await runningInGroup(group)).length > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await runningInGroup(group)).toEqual([]);
  });
});

describe('printPage', () => {
  /** A PDF's bytes without the time Chromium printed it at (the only part two prints differ in). */
  const undated = (bytes: Uint8Array) =>
    Buffer.from(bytes)
      .toString('latin1')
      .replace(/\/(CreationDate|ModDate) \(D:[^)]*\)/g, '/$1 ()');

  it('prints the same PDF as puppeteer’s page.pdf with the same settings, in one call', async () => {
    const css = '@page { size: A5; margin: 12mm } h1 { font-size: 20pt } p { background: #eee }';
    const html = page(
      `<style>${css}</style>`,
      `<h1>A heading</h1><p>${'Some text to lay out. '.repeat(400)}</p><h2 id="later">Later</h2>`,
    );
    const loaded = await loadDocument(session, {
      documentPath: 'document.html',
      resolve: (name) => (name === 'document.html' ? { contentType: 'text/html', body: html } : undefined),
    });
    try {
      const direct = await loaded.print();
      const viaPuppeteer = await loaded.page.pdf({ ...printOptions, timeout: 30_000 });
      expect(direct).toBeInstanceOf(Uint8Array);
      expect(undated(direct)).toBe(undated(viaPuppeteer));
      // Several pages of A5 (the CSS's size, not the default Letter), tagged, with an outline.
      expect(undated(direct)).toContain('/MediaBox [0 0 420 594.95996]');
      expect(undated(direct)).toContain('/StructTreeRoot');
      expect(undated(direct)).toContain('/Outlines');
    } finally {
      await loaded.close();
    }
  });

  it('gives up on a print that does not finish within its time', async () => {
    const hung = { _client: () => ({ send: () => new Promise(() => undefined) }) };
    await expect(printPage(hung as unknown as Parameters<typeof printPage>[0], 50)).rejects.toThrow(
      'Printing did not finish within 50 ms',
    );
  });

  it('prints through page.pdf where puppeteer does not expose the page’s session', async () => {
    const asked: unknown[] = [];
    const fake = {
      pdf: async (options: unknown) => {
        asked.push(options);
        return new Uint8Array([37, 80, 68, 70]);
      },
    };
    const bytes = await printPage(fake as unknown as Parameters<typeof printPage>[0], 5_000);
    expect([...bytes]).toEqual([37, 80, 68, 70]);
    expect(asked).toEqual([{ ...printOptions, timeout: 5_000 }]);
  });
});
