/**
 * Printing on a browser that runs elsewhere (`--browser-endpoint`): a Chromium started here with
 * remote debugging on loopback stands in for a pool. The founding pack is built once locally and
 * once on it, and the artifacts must be the same; the request guard must hold on the remote browser
 * with nothing else in its way; the remote browser must outlive the build with none of the build's
 * pages left in it; and an endpoint that cannot be reached is exit 3, named without its secret.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../pipeline/08-write-output.ts';
import { loadDocument, openBrowser, renderingArgs, runningAsRoot } from '../pipeline/lib/browser.ts';
import { findBrowser } from '../pipeline/lib/find-browser.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { briefingText, pdfInfo, pdfText, runCli, temporaryFolder, writeSource } from './helpers.ts';
import { type Canary, startCanary } from './security/canary.ts';

let folder: { dir: string; remove: () => Promise<void> };
let chromium: ChildProcess;
let endpoint: string;
let port: number;
let canary: Canary;

/** Starts a headless Chromium with remote debugging on loopback; resolves with its WebSocket address. */
function startRemoteChromium(profile: string): Promise<string> {
  const args = [
    '--headless',
    '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1',
    `--user-data-dir=${profile}`,
    // What makes its PDFs the same as a launched browser's (README, "Printing on a browser pool").
    // None of the network switches: the build's own request guard is all that stands in the way.
    ...renderingArgs,
    ...(runningAsRoot() ? ['--no-sandbox'] : []),
    'about:blank',
  ];
  // A process group of its own, so afterAll takes down every Chromium process with it.
  chromium = spawn(findBrowser().executablePath, args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`Chromium printed no DevTools address:\n${stderr}`)),
      30_000,
    );
    chromium.stderr?.on('data', (chunk) => {
      stderr += chunk;
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    chromium.on('exit', (code) => reject(new Error(`Chromium exited (${code}):\n${stderr}`)));
  });
}

/** The ids of the pages open in the remote browser, as its HTTP endpoint lists them. */
async function remotePages(): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${port}/json/list`);
  const targets = (await response.json()) as Array<{ id: string; type: string }>;
  return targets
    .filter((target) => target.type === 'page')
    .map((target) => target.id)
    .sort();
}

/** Whether the remote Chromium is still running. */
function remoteAlive(): boolean {
  return chromium.exitCode === null && chromium.signalCode === null;
}

/** A port on loopback where nothing listens. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return free;
}

beforeAll(async () => {
  folder = await temporaryFolder('briefing-pack-remote-');
  await mkdir(path.join(folder.dir, 'profile'));
  endpoint = await startRemoteChromium(path.join(folder.dir, 'profile'));
  port = Number(new URL(endpoint).port);
  canary = await startCanary(path.join(folder.dir, 'canary'));
});

afterAll(async () => {
  if (chromium?.pid && remoteAlive()) {
    const exited = new Promise((resolve) => chromium.once('exit', resolve));
    try {
      process.kill(-chromium.pid, 'SIGKILL');
    } catch {
      chromium.kill('SIGKILL');
    }
    await exited;
  }
  await canary?.close();
  await folder?.remove();
});

describe('printing on a remote browser', () => {
  it('builds the founding pack with the same artifacts as a local browser, and leaves the remote browser running with none of its pages', async () => {
    const source = path.join(folder.dir, 'source');
    await cp(path.join(projectRoot, 'source'), source, { recursive: true });
    const pagesBefore = await remotePages();
    const env = { SOURCE_DATE_EPOCH: '1752364800' };
    // The endpoint comes from the environment here, from the flag in the last test.
    const [local, remote] = await Promise.all([
      runCli(['build', '--source', source, '--out', path.join(folder.dir, 'local'), '--json'], { env }),
      runCli(['build', '--source', source, '--out', path.join(folder.dir, 'remote'), '--json'], {
        env: { ...env, BRIEFING_PACK_BROWSER_ENDPOINT: endpoint },
      }),
    ]);
    expect(local.code, local.stderr).toBe(0);
    expect(remote.code, remote.stderr).toBe(0);
    // The remote build launched no browser of its own, and its Chromium had the rendering switches.
    expect(remote.stderr).not.toContain('Running as root');
    expect(remote.stderr).not.toContain('its PDFs may differ');

    const localManifest = JSON.parse(local.stdout ?? '').manifest as Manifest;
    const remoteManifest = JSON.parse(remote.stdout ?? '').manifest as Manifest;
    const pdfs = localManifest.artifacts.filter((artifact) => artifact.path.endsWith('.pdf'));
    expect(pdfs.map((artifact) => artifact.path).sort()).toEqual([
      'brief.pdf',
      'briefings/dprk-russia-unconditional-support.pdf',
      'briefs/dprk-russia-unconditional-support.pdf',
      'pack.pdf',
    ]);
    // Page by page, as a reader sees it: the same number of pages and the same text on each.
    for (const artifact of pdfs) {
      const [localPdf, remotePdf] = ['local', 'remote'].map((side) =>
        path.join(folder.dir, side, artifact.path),
      );
      const pages = Number((await pdfInfo(localPdf as string)).Pages);
      expect(pages, artifact.path).toBe(artifact.pages);
      expect(Number((await pdfInfo(remotePdf as string)).Pages), artifact.path).toBe(pages);
      for (let page = 1; page <= pages; page++) {
        const localText = await pdfText(localPdf as string, page, { layout: true });
        expect(localText.trim(), `${artifact.path} page ${page}`).not.toBe('');
        expect(
          await pdfText(remotePdf as string, page, { layout: true }),
          `${artifact.path} page ${page}`,
        ).toBe(localText);
      }
    }
    // And byte for byte: the same Chromium, the same switches and the pipeline's own normalisation
    // (dates, ids, metadata) give the same PDFs, EPUB and manifest, browser version included.
    expect(remoteManifest).toEqual(localManifest);
    expect(localManifest.generator.browser).toMatch(/^Chromium \d+\./);

    // The remote browser runs on, with only the pages it had before: the build closed its own.
    expect(remoteAlive()).toBe(true);
    expect(await remotePages()).toEqual(pagesBefore);
    // Two builds at once take about 25 s on an idle two-core machine; far longer on a busy one.
  }, 600_000);

  it('reads the WebSocket from an http:// address and keeps the request guard and JavaScript off on the remote pages', async () => {
    const pagesBefore = await remotePages();
    const session = await openBrowser({ endpoint: `http://127.0.0.1:${port}`, log: () => undefined });
    try {
      expect(session.context).toBeDefined();
      expect(session.version).toMatch(/^Chromium \d+\./);
      const remote = (name: string) => `http://127.0.0.1:${canary.port}/${name}`;
      const blocked: string[] = [];
      const loaded = await loadDocument(session, {
        documentPath: 'document.html',
        resolve: (name) =>
          name === 'document.html'
            ? {
                contentType: 'text/html',
                body: [
                  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title>',
                  `<link rel="stylesheet" href="${remote('stylesheet')}">`,
                  `<style>@import url(${remote('import')}); body { background: url(${remote('css-url')}); }</style>`,
                  `<meta http-equiv="refresh" content="0; url=${remote('refresh')}">`,
                  '</head><body><p id="text">static</p>',
                  `<img src="${remote('img')}" alt=""><iframe src="${remote('iframe')}"></iframe>`,
                  `<object data="${remote('object')}"></object><img src="file://${canary.secretSvg}" alt="">`,
                  `<script>fetch(${JSON.stringify(remote('script-fetch'))}); document.getElementById('text').textContent = ${JSON.stringify(canary.token)};</script>`,
                  '</body></html>',
                ].join(''),
              }
            : undefined,
        onBlocked: (url) => blocked.push(url),
      });
      try {
        const bytes = await loaded.print();
        expect(Buffer.from(bytes).subarray(0, 5).toString('latin1')).toBe('%PDF-');
        expect(await loaded.page.evaluate(() => document.getElementById('text')?.textContent)).toBe('static');
        expect(await loaded.page.evaluate(() => navigator.userAgent)).toContain('Chrome');
      } finally {
        await loaded.close();
      }
      // This Chromium has no dead proxy and resolves host names: only the build's guard stands here.
      expect(canary.requests).toEqual([]);
      for (const name of ['stylesheet', 'img', 'iframe', 'object', 'css-url'])
        expect(blocked, name).toContain(remote(name));
      expect((await remotePages()).length).toBeGreaterThan(pagesBefore.length);
    } finally {
      await session.close();
    }
    expect(remoteAlive()).toBe(true);
    expect(await remotePages()).toEqual(pagesBefore);
  });

  it('exits 3 naming the endpoint, without its token, when the browser cannot be reached', async () => {
    const dead = await closedPort();
    // The smallest pack: the endpoint is tried after the templates, and only that is under test.
    const source = await writeSource(path.join(folder.dir, 'small'), 'title: Pack\ndate: 2025-07-13\n', [
      { name: 'one', text: briefingText() },
    ]);
    const [websocket, address] = await Promise.all([
      runCli([
        'build',
        '--source',
        source,
        '--out',
        path.join(folder.dir, 'unreached-ws'),
        '--browser-endpoint',
        `ws://127.0.0.1:${dead}/devtools/browser/abc?token=s3cret`,
      ]),
      runCli(['build', '--source', source, '--out', path.join(folder.dir, 'unreached-http'), '--json'], {
        env: { BRIEFING_PACK_BROWSER_ENDPOINT: `http://127.0.0.1:${dead}` },
      }),
    ]);
    expect(websocket.code, websocket.stderr).toBe(3);
    expect(websocket.stderr).toContain(
      `The browser at \`ws://127.0.0.1:${dead}/devtools/browser/abc?token=***\` (--browser-endpoint or BRIEFING_PACK_BROWSER_ENDPOINT) could not be reached:`,
    );
    expect(websocket.stderr).toMatch(/browser +\d+ ms, failed/);
    expect(websocket.stderr).not.toContain('s3cret');
    expect(address.code, address.stderr).toBe(3);
    const report = JSON.parse(address.stdout) as { exitCode: number; failure: string };
    expect(report.exitCode).toBe(3);
    expect(report.failure).toContain(`The browser at \`http://127.0.0.1:${dead}/\``);
    expect(report.failure).toContain('could not be reached');
  });
});
