/**
 * `npm run dev` end to end: the real command line on a copy of `source/`, a real Chromium on the
 * preview, files edited on disk. Logs how long an edit takes to show (the target is under 2 s for the
 * founding pack); the assertions only wait for it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFile, cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchTree } from '../pipeline/dev.ts';
import { quietBrowserArgs, runningAsRoot } from '../pipeline/lib/browser.ts';
import { devPolicy, injectClient } from '../pipeline/lib/dev-server.ts';
import { findBrowser } from '../pipeline/lib/find-browser.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { temporaryFolder } from './helpers.ts';

const briefingId = 'dprk-russia-unconditional-support';
const title = "North Korea Pledges 'Unconditional' Support for Russia's War in Ukraine";

let folder: Awaited<ReturnType<typeof temporaryFolder>>;
let sourceDir: string;
let briefingFile: string;
let child: ChildProcess | undefined;
let exited: Promise<number | null>;
let stderr = '';
let stdout = '';
let url = '';
let browser: Browser | undefined;
let page: Page;
const consoleLines: string[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the child's stderr matches (after `from` characters); returns the match. */
async function waitForOutput(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const match = stderr.slice(from).match(pattern);
    if (match) return match;
    if (child?.exitCode !== null) throw new Error(`npm run dev exited (${child?.exitCode}):\n${stderr}`);
    await sleep(20);
  }
  throw new Error(`npm run dev did not print ${pattern} in ${timeoutMs} ms:\n${stderr}`);
}

/** Polls the page (through reloads) until `read` gives something `accept` takes; returns it. */
async function waitForPage<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < end) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch {
      // The page is reloading.
    }
    await sleep(10);
  }
  throw new Error(`the page did not change in ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}

const heading = () => page.$eval('h1.briefing-title', (element) => element.textContent ?? '');
const overlay = () =>
  page.evaluate(() => document.getElementById('briefing-pack-dev-overlay')?.textContent ?? null);

async function setTitle(text: string): Promise<void> {
  const source = await readFile(briefingFile, 'utf8');
  await writeFile(briefingFile, source.replace(/^title: .*$/m, `title: ${text}`));
}

/** A GET with any Host header (fetch does not let a test set it). */
function get(
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(target, { headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  folder = await temporaryFolder('briefing-pack-dev-');
  sourceDir = path.join(folder.dir, 'source');
  await cp(path.join(projectRoot, 'source'), sourceDir, { recursive: true });
  briefingFile = path.join(sourceDir, 'briefings', `${briefingId}.md`);
  const started = Date.now();
  child = spawn(
    process.execPath,
    [
      path.join(projectRoot, 'scripts', 'run.mjs'),
      'dev',
      '--source',
      sourceDir,
      '--port',
      '0',
      '--json',
      '--verbose',
    ],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const running = child;
  exited = new Promise((resolve) => running.on('exit', (code) => resolve(code)));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
  });
  url = (await waitForOutput(/Preview at (http:\/\/127\.0\.0\.1:\d+\/)/))[1] ?? '';
  // Everything but the switches that send every request to a dead proxy: the preview is on loopback.
  const args = quietBrowserArgs.filter(
    (arg) => !/^--(proxy-server|proxy-bypass-list|host-resolver-rules)=/.test(arg),
  );
  if (runningAsRoot()) args.push('--no-sandbox');
  const launching = puppeteer.launch({
    executablePath: findBrowser().executablePath,
    headless: true,
    pipe: true,
    args,
  });
  await waitForOutput(/Built the preview in (\d+) ms/);
  console.log(
    `dev: first build ready ${Date.now() - started} ms after start (${stderr.match(/Built the preview in \d+ ms/)?.[0]})`,
  );
  // The build after the first, unseen, that makes the first edit as quick as the next ones.
  await waitForOutput(/Warmed up in \d+ ms/);
  browser = await launching;
  page = await browser.newPage();
  page.on('console', (message) => {
    consoleLines.push(message.text());
  });
});

afterAll(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  await folder?.remove();
});

describe('npm run dev', () => {
  it('shows an edit of a briefing in the open page, and logs how long it took', async () => {
    await page.goto(`${url}briefings/${briefingId}/`, { waitUntil: 'load' });
    expect(await heading()).toBe(title);
    const latencies: number[] = [];
    for (let edit = 1; edit <= 3; edit++) {
      const edited = `${title} (edit ${edit})`;
      const from = stderr.length;
      const started = Date.now();
      await setTitle(edited);
      const rebuilt = waitForOutput(/Rebuilt the preview in (\d+) ms/, from).then((match) => ({
        buildMs: match[1],
        atMs: Date.now() - started,
      }));
      await waitForPage(heading, (text) => text === edited);
      latencies.push(Date.now() - started);
      const { buildMs, atMs } = await rebuilt;
      console.log(
        `dev: edit ${edit} shown in the page after ${latencies.at(-1)} ms (rebuilt after ${atMs} ms, of which the build ${buildMs} ms)`,
      );
    }
    console.log(`dev: edit to page, founding pack: ${latencies.join(', ')} ms (target under 2000 ms)`);
    // Saves in quick succession: one build at a time, the changes coalesced, the last one shown.
    const from = stderr.length;
    for (let save = 1; save <= 6; save++) {
      await setTitle(`${title} (save ${save})`);
      await sleep(15);
    }
    await waitForPage(heading, (text) => text === `${title} (save 6)`);
    const rebuilds = stderr.slice(from).match(/Rebuilt the preview/g)?.length ?? 0;
    console.log(`dev: 6 saves 15 ms apart made ${rebuilds} rebuilds`);
    expect(rebuilds).toBeLessThan(6);
    await setTitle(`${title} (edit 3)`);
    await waitForPage(heading, (text) => text === `${title} (edit 3)`);
    // The pack shows it too: every document is rebuilt. (Read through reloads: a rebuild still under
    // way when the page is opened reloads it under the reader.)
    await page.goto(`${url}pack/`, { waitUntil: 'load' });
    const contentsTitle = () => page.$eval('.contents-title', (element) => element.textContent ?? '');
    expect(await waitForPage(contentsTitle, (text) => text === `${title} (edit 3)`)).toBe(
      `${title} (edit 3)`,
    );
    // The page's policy let the preview's own script run and nothing else complained.
    expect(consoleLines.filter((line) => /Content Security Policy|Refused/.test(line))).toEqual([]);
  });

  it('shows source errors over the last good page and in the terminal, and reloads once they are fixed', async () => {
    await page.goto(`${url}briefings/${briefingId}/`, { waitUntil: 'load' });
    const good = await heading();
    const source = await readFile(briefingFile, 'utf8');
    const from = stderr.length;
    const started = Date.now();
    await writeFile(briefingFile, source.replace(/^date: 2025-07-13$/m, 'date: 13 July 2025'));
    const shown = await waitForPage(overlay, (text) => text?.includes('date-format') === true);
    console.log(`dev: error shown over the page after ${Date.now() - started} ms`);
    expect(shown).toContain(`briefings/${briefingId}.md:4:7`);
    expect(shown).toContain('Unexpected `13 July 2025` for `date`');
    expect(shown).toContain('last good build');
    // The last good build is still there under the overlay.
    expect(await heading()).toBe(good);
    const terminal = await waitForOutput(/^(\S+:4:7 +error +Unexpected `13 July 2025`.*date-format)$/m, from);
    expect(terminal[1]).toContain(`briefings/${briefingId}.md`);
    // `--json`: a report per rebuild on stdout, a line each.
    const reports = await waitForPage(
      async () =>
        stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line)),
      (lines) => lines.at(-1)?.ok === false,
      5_000,
    );
    expect(reports.at(-1)).toMatchObject({ command: 'dev', exitCode: 1 });
    expect(reports.at(-1).messages).toContainEqual(
      expect.objectContaining({ line: 4, column: 7, ruleId: 'date-format' }),
    );
    // (A build may also have caught a file half written: the next change rebuilds it.)
    expect(reports.every((report) => report.command === 'dev' && !('outDir' in report))).toBe(true);
    // The index and other documents still serve the last good build.
    expect((await get(`${url}pack/`)).status).toBe(200);

    await writeFile(briefingFile, source.replace(/^title: .*$/m, `title: ${title} (fixed)`));
    await waitForPage(heading, (text) => text === `${title} (fixed)`);
    expect(await overlay()).toBeNull();
  });

  it('serves pages under their own policy: only its nonced script, from loopback names only', async () => {
    const first = await get(`${url}briefings/${briefingId}/`);
    const second = await get(`${url}briefings/${briefingId}/`);
    const policy = String(first.headers['content-security-policy']);
    expect(policy).toMatch(/^default-src 'none'; /);
    expect(policy).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]{24}'; connect-src 'self'$/);
    expect(second.headers['content-security-policy']).not.toBe(policy);
    // The page's own policy says the same, so it does not block the client.
    expect(first.body).toContain(`content="${policy}"`);
    expect(first.body.match(/<script/g)).toHaveLength(1);
    const styles = await get(`${url}pack/styles/print.css`);
    expect([styles.status, styles.headers['content-type']]).toEqual([200, 'text/css']);
    expect(styles.headers['content-security-policy']).toMatch(/sandbox$/);
    expect((await get(`${url}pack/`, { Host: 'attacker.example' })).status).toBe(403);
    expect((await get(`${url}pack`)).headers.location).toBe('/pack/');
    expect((await get(`${url}epub/`)).headers.location).toBe('/epub/EPUB/index.xhtml');
    expect((await get(`${url}../etc/passwd`)).status).toBe(404);
    expect((await get(`${url}pack/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
  });

  it('links every document from the index, the EPUB included', async () => {
    const index = await get(url);
    const links = [...index.body.matchAll(/href="(\/[^"]*)"/g)].map((match) => match[1] ?? '');
    expect(links).toEqual(
      expect.arrayContaining([
        '/pack/',
        '/brief/',
        `/briefings/${briefingId}/`,
        `/briefs/${briefingId}/`,
        '/epub/EPUB/index.xhtml',
        '/epub/EPUB/nav.xhtml',
      ]),
    );
    for (const link of links)
      expect([link, (await get(`${url}${link.slice(1)}`)).status]).toEqual([link, 200]);
    await page.goto(`${url}epub/EPUB/nav.xhtml`, { waitUntil: 'load' });
    expect(await page.$eval('nav', (element) => element.textContent)).toContain(`${title} (fixed)`);
  });

  it('reloads every open page, more of them than a browser opens connections to one server', async () => {
    // Chromium opens at most six connections to a server, and an event stream holds one for good.
    const pages = await Promise.all(Array.from({ length: 8 }, () => browser?.newPage() as Promise<Page>));
    try {
      for (const open of pages) {
        await open.goto(`${url}briefings/${briefingId}/`, { waitUntil: 'load', timeout: 10_000 });
      }
      const started = Date.now();
      await setTitle(`${title} (eight pages)`);
      const shown = await Promise.all(
        pages.map(async (open) => {
          await waitForPage(
            () => open.$eval('h1.briefing-title', (element) => element.textContent ?? ''),
            (text) => text === `${title} (eight pages)`,
          );
          return Date.now() - started;
        }),
      );
      console.log(`dev: an edit shown in 8 open pages after ${shown.join(', ')} ms`);
    } finally {
      await Promise.all(pages.map((open) => open.close()));
    }
  });

  it('stops on SIGTERM with exit 0', async () => {
    child?.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('the preview’s policy', () => {
  it('keeps the page’s policy and adds only the nonce and the event stream', () => {
    expect(devPolicy("default-src 'none'; script-src 'self'; img-src 'self'", 'abc')).toBe(
      "default-src 'none'; img-src 'self'; script-src 'nonce-abc'; connect-src 'self'",
    );
    const { page: injected, policy } = injectClient(
      '<html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'"></head><body></body></html>',
      3,
      'xyz',
    );
    expect(policy).toBe("default-src 'none'; script-src 'nonce-xyz'; connect-src 'self'");
    expect(injected).toContain(`<meta http-equiv="Content-Security-Policy" content="${policy}"/>`);
    expect(injected).toContain(
      '<script nonce="xyz" src="/__dev/client.js" data-build="3" defer="defer"></script></head>',
    );
    // Two policies in a page: both are kept, each opened to the client alone.
    const twice = injectClient(
      '<html><head><meta http-equiv="Content-Security-Policy" content="default-src \'none\'"><meta http-equiv="Content-Security-Policy" content="img-src \'self\'; script-src-attr \'unsafe-inline\'"></head></html>',
      1,
      'n',
    ).page;
    expect(twice).toContain("content=\"default-src 'none'; script-src 'nonce-n'; connect-src 'self'\"/>");
    expect(twice).toContain("content=\"img-src 'self'; script-src 'nonce-n'; connect-src 'self'\"/>");
  });
});

describe('watchTree', () => {
  it('keeps seeing a file an editor saved by renaming a new copy over it', async () => {
    const root = path.join(folder.dir, 'watch-atomic');
    await mkdir(path.join(root, 'briefings'), { recursive: true });
    const file = path.join(root, 'briefings', 'a.md');
    await writeFile(file, 'a');
    const seen: string[] = [];
    const watcher = watchTree(root, (changed) => seen.push(changed));
    try {
      const saved = async (write: () => Promise<void>) => {
        seen.length = 0;
        await write();
        await waitForPage(
          async () => seen,
          (files) => files.includes(file),
          5_000,
        );
      };
      await saved(async () => {
        await writeFile(`${file}.tmp`, 'b');
        await rename(`${file}.tmp`, file);
      });
      await saved(() => writeFile(file, 'c'));
      await saved(() => appendFile(file, 'd'));
    } finally {
      watcher.close();
    }
  });

  for (const recursive of [true, false]) {
    it(`reports changes anywhere below the folder, new folders included (${recursive ? 'recursive' : 'a watcher per folder'})`, async () => {
      const root = path.join(folder.dir, `watch-${recursive}`);
      await mkdir(path.join(root, 'briefings'), { recursive: true });
      const seen: string[] = [];
      const watcher = watchTree(root, (file) => seen.push(file), recursive);
      try {
        const expectSeen = async (file: string) => {
          await waitForPage(
            async () => seen,
            (files) => files.includes(file),
            5_000,
          );
        };
        await writeFile(path.join(root, 'briefings', 'a.md'), 'a');
        await expectSeen(path.join(root, 'briefings', 'a.md'));
        await mkdir(path.join(root, 'assets', 'maps'), { recursive: true });
        await sleep(100);
        await writeFile(path.join(root, 'assets', 'maps', 'b.svg'), 'b');
        await expectSeen(path.join(root, 'assets', 'maps', 'b.svg'));
      } finally {
        watcher.close();
      }
    });
  }
});
