/**
 * One browser per build, and the page that prints a document without ever touching the network.
 *
 * Each document is loaded from a made-up origin, `https://briefing-pack.invalid/`; every request the
 * page makes is answered from an in-memory map of the build's own files (the document, its styles,
 * the bundled fonts, checked images). Anything else is aborted and recorded. JavaScript is off in
 * every page, and navigations after the first are refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import puppeteer, {
  type Browser,
  type BrowserContext,
  type HTTPRequest,
  type Page,
  type PDFOptions,
} from 'puppeteer';
import { endpointKind, shownEndpoint } from './browser-endpoint.ts';
import { EnvironmentError } from './errors.ts';
import { type FoundBrowser, findBrowser } from './find-browser.ts';

/** The origin documents are served from. `.invalid` can never resolve to a real host (RFC 2606). */
export const documentOrigin = 'https://briefing-pack.invalid';

/** A file served to the browser. */
export interface Resource {
  contentType: string;
  body: string | Uint8Array;
}

/** Looks up a file by its path relative to the origin (`styles/print.css`). */
export type ResourceResolver = (path: string) => Resource | undefined;

/** Options of {@link openBrowser}. */
export interface BrowserOptions {
  /** An explicit browser executable (`--browser`). */
  executablePath?: string | undefined;
  /**
   * An existing browser to print on instead of launching one (`--browser-endpoint`): its DevTools
   * WebSocket (`ws://host:port/devtools/browser/…`, `wss://…`) or its HTTP address
   * (`http://host:port`), from which the WebSocket is read.
   */
  endpoint?: string | undefined;
  /** Reports a line of progress or a notice. */
  log: (line: string) => void;
  signal?: AbortSignal | undefined;
}

/** A browser opened for one build. */
export interface BrowserSession {
  browser: Browser;
  /** `Chromium 156.0.…` or `Chrome 148.0.…`, for the manifest. */
  version: string;
  found: FoundBrowser | undefined;
  /**
   * Where this build opens its pages: on a remote browser, a browser context of the build's own
   * (nothing shared with other users of the pool, and closed with every page in it at the end); on a
   * launched browser, none (the browser is the build's own).
   */
  context?: BrowserContext | undefined;
  /** Pages ready for the next document (opening a page costs more than loading one). */
  idlePages: PooledPage[];
  /**
   * Closes a launched browser and removes its profile folder; on a remote browser, closes the pages
   * and the context this build opened and disconnects, leaving the browser running.
   */
  close(): Promise<void>;
  /**
   * Kills a launched browser and its whole process group at once, and removes its profile folder; a
   * remote browser is never killed: this build's context is closed (or abandoned) and the connection
   * dropped.
   */
  kill(): Promise<void>;
}

/** A page of the pool, with the job it is serving now. */
interface PooledPage {
  page: Page;
  job: PrintJob | undefined;
  /** Whether the next main-frame navigation is the one we start; any other is refused. */
  expectingNavigation: boolean;
}

/** The switches a launched browser gets that change what is printed, not only what it may reach. */
export const renderingArgs = ['--font-render-hinting=none', '--force-color-profile=srgb'];

/** Chromium switches that keep a printing browser quiet: no background traffic, no proxy bypass. */
export const quietBrowserArgs = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-breakpad',
  '--disable-crash-reporter',
  '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions',
  '--no-first-run',
  '--no-pings',
  '--no-default-browser-check',
  '--metrics-recording-only',
  '--password-store=basic',
  '--use-mock-keychain',
  '--disable-gpu',
  '--disable-quic',
  '--dns-prefetch-disable',
  // No host name resolves: a request that escaped interception could not even find an address.
  '--host-resolver-rules=MAP * ~NOTFOUND',
  // Every request the pages make is answered in process; anything that slips past goes nowhere.
  '--proxy-server=http://127.0.0.1:9',
  '--proxy-bypass-list=<-loopback>',
  ...renderingArgs,
];

let toldAboutSandbox = false;

/** Whether the process runs as root, where Chromium's sandbox cannot start. */
export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Launches the browser of a build (or connects to a remote one). */
export async function openBrowser(options: BrowserOptions): Promise<BrowserSession> {
  if (options.endpoint) return connectBrowser(options.endpoint, options.log);
  const found = findBrowser(options.executablePath);
  const args = [...quietBrowserArgs];
  if (runningAsRoot()) {
    args.push('--no-sandbox');
    if (!toldAboutSandbox) {
      options.log('Running as root: Chromium starts without its sandbox (--no-sandbox).');
      toldAboutSandbox = true;
    }
  }
  // A profile folder of this build's own, removed when the browser closes or is killed.
  const profile = await mkdtemp(path.join(os.tmpdir(), 'briefing-pack-profile-'));
  const removeProfile = () => rm(profile, { recursive: true, force: true, maxRetries: 3 });
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: found.executablePath,
      headless: true,
      // Over a pipe, not a port: nothing listens on the network, and Chromium exits when we do.
      pipe: true,
      userDataDir: profile,
      args,
      protocolTimeout: 120_000,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      signal: options.signal,
    } as Parameters<typeof puppeteer.launch>[0]);
  } catch (cause) {
    await removeProfile();
    throw new EnvironmentError(
      `The browser at \`${found.executablePath}\` could not start: ${(cause as Error).message.split('\n')[0]}`,
      { cause },
    );
  }
  // When Chromium dies, its debugging pipe fails with ECONNRESET; puppeteer learns of it from the
  // pipe closing, but leaves the stream's 'error' unhandled, which would end the whole process.
  for (const stream of browser.process()?.stdio ?? []) stream?.on('error', () => undefined);
  const kill = async () => {
    const pid = browser.process()?.pid;
    // Puppeteer starts Chromium as the leader of its own process group: take the whole group down.
    if (pid) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        browser.process()?.kill('SIGKILL');
      }
    }
    await browser.disconnect().catch(() => undefined);
    await removeProfile();
  };
  const version = describeVersion(await browser.version(), found.executablePath);
  return {
    browser,
    version,
    found,
    idlePages: [],
    close: async () => {
      // A browser that does not close within seconds is killed, so no process outlives the build.
      const closed = await Promise.race([
        browser.close().then(
          () => true,
          () => false,
        ),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000).unref()),
      ]);
      if (closed) await removeProfile();
      else await kill();
    },
    kill,
  };
}

/** How long a remote browser has to answer the connection, in milliseconds. */
const connectTimeoutMs = 20_000;

/** How long closing this build's context on a remote browser may take before the connection is dropped. */
const remoteCloseTimeoutMs = 5_000;

/** Resolves after `ms`, or rejects with `message`; the timer never keeps the process alive. */
function timeoutAfter(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

/**
 * Connects to a browser that runs elsewhere (a pool, a container, a Chromium started with
 * `--remote-debugging-port`). The build opens its pages in a browser context of its own; it never
 * launches, kills or closes the remote browser. Every page gets the same guards as on a launched
 * browser (`acquirePage`): JavaScript off, every request answered from the build's files or refused.
 */
async function connectBrowser(endpoint: string, log: (line: string) => void): Promise<BrowserSession> {
  const shown = shownEndpoint(endpoint);
  const kind = endpointKind(endpoint);
  if (!kind) {
    throw new EnvironmentError(
      `Unexpected browser endpoint \`${shown}\`, expected ws://host:port/devtools/browser/… or http://host:port`,
    );
  }
  const connecting = puppeteer.connect({
    ...(kind === 'websocket' ? { browserWSEndpoint: endpoint } : { browserURL: endpoint }),
    protocolTimeout: 120_000,
    // The viewport a launched browser gets too, so a page lays out the same on both.
    defaultViewport: { width: 800, height: 600 },
  });
  let browser: Browser;
  let context: BrowserContext;
  try {
    browser = await Promise.race([
      connecting,
      timeoutAfter(connectTimeoutMs, `no answer within ${connectTimeoutMs / 1000} s`),
    ]);
    try {
      context = await browser.createBrowserContext();
    } catch (cause) {
      await browser.disconnect().catch(() => undefined);
      throw cause;
    }
  } catch (cause) {
    // A connection that succeeds after the timeout is dropped at once.
    void connecting.then(
      (late) => late.disconnect(),
      () => undefined,
    );
    // The library's message may quote the address: never with its password or token.
    const reason = ((cause as Error).message.split('\n')[0] ?? '')
      .replaceAll(endpoint, shown)
      .replace(/([?&][^=&\s]+=)[^&\s]+/g, '$1***')
      .replace(/\/\/([^:/@\s]+):[^@/\s]+@/g, '//$1:***@');
    throw new EnvironmentError(
      `The browser at \`${shown}\` (--browser-endpoint or BRIEFING_PACK_BROWSER_ENDPOINT) could not be reached: ${reason}. Check that it is running and that this machine can reach it, or leave the endpoint out to launch a local browser.`,
      { cause },
    );
  }
  const commandLine = await remoteCommandLine(browser);
  const executable = commandLine?.split(' --')[0];
  let version: string;
  try {
    version = describeVersion(await browser.version(), executable);
  } catch (cause) {
    await context.close().catch(() => undefined);
    await browser.disconnect().catch(() => undefined);
    throw new EnvironmentError(
      `The browser at \`${shown}\` was reached but does not answer: ${(cause as Error).message.split('\n')[0]}`,
      { cause },
    );
  }
  const missing = renderingArgs.filter((arg) => commandLine !== undefined && !commandLine.includes(arg));
  if (missing.length > 0) {
    log(
      `The browser at \`${shown}\` runs without ${missing.join(' and ')}: its PDFs may differ from a local build's. Start it with these switches (README, "Printing on a browser pool").`,
    );
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    // Only what this build opened: its context, and with it every page in it. The browser runs on.
    if (browser.connected) {
      await Promise.race([context.close(), timeoutAfter(remoteCloseTimeoutMs, 'timeout')]).catch(
        () => undefined,
      );
    }
    await browser.disconnect().catch(() => undefined);
  };
  return { browser, version, found: undefined, context, idlePages: [], close, kill: close };
}

/** The command line a remote browser was started with, when it tells (`SystemInfo.getInfo`). */
async function remoteCommandLine(browser: Browser): Promise<string | undefined> {
  try {
    const session = await browser.target().createCDPSession();
    try {
      const info = await Promise.race([session.send('SystemInfo.getInfo'), timeoutAfter(5_000, 'timeout')]);
      return typeof info.commandLine === 'string' ? info.commandLine : undefined;
    } finally {
      await session.detach().catch(() => undefined);
    }
  } catch {
    return undefined;
  }
}

function describeVersion(raw: string, executablePath?: string): string {
  // CDP reports `Chrome/156.0.8078.108` or `HeadlessChrome/…` for Chrome and Chromium alike.
  const number = raw.split('/')[1] ?? raw;
  const name = executablePath && /chromium/i.test(executablePath) ? 'Chromium' : 'Chrome';
  return `${name} ${number}`;
}

/** What a print job needs. */
export interface PrintJob {
  /** Path of the document under the origin (`pack.html`). */
  documentPath: string;
  resolve: ResourceResolver;
  /** Called for every request refused (outside the build's files). */
  onBlocked?: (url: string) => void;
  timeoutMs?: number;
}

/** A page loaded with a document, ready to print (and print again after edits). */
export interface LoadedPage {
  page: Page;
  print(options?: PDFOptions): Promise<Uint8Array>;
  close(): Promise<void>;
}

async function acquirePage(session: BrowserSession): Promise<PooledPage> {
  const idle = session.idlePages.pop();
  if (idle && !idle.page.isClosed()) return idle;
  const page = await (session.context ?? session.browser).newPage();
  const pooled: PooledPage = { page, job: undefined, expectingNavigation: false };
  await page.setJavaScriptEnabled(false);
  await page.setRequestInterception(true);
  page.on('request', (request: HTTPRequest) => {
    void answer(request, pooled);
  });
  return pooled;
}

/** Loads a document in a page with JavaScript off and every request answered from the job's resources. */
export async function loadDocument(session: BrowserSession, job: PrintJob): Promise<LoadedPage> {
  const pooled = await acquirePage(session);
  const { page } = pooled;
  const timeout = job.timeoutMs ?? 60_000;
  pooled.job = job;
  pooled.expectingNavigation = true;
  try {
    await page.goto(`${documentOrigin}/${job.documentPath}`, { waitUntil: 'load', timeout });
  } catch (cause) {
    pooled.job = undefined;
    await page.close().catch(() => undefined);
    throw cause;
  }
  let released = false;
  return {
    page,
    print: async (options) =>
      page.pdf({
        preferCSSPageSize: true,
        printBackground: true,
        tagged: true,
        outline: true,
        // The print stage waits for the fonts itself, as a phase of its own.
        waitForFonts: false,
        timeout,
        ...options,
      }),
    close: async () => {
      if (released) return;
      released = true;
      if (page.isClosed()) {
        pooled.job = undefined;
        return;
      }
      // Unload the document before the page serves another: nothing it asks for later (a timed
      // refresh, a late image) can reach the next job's files. Requests until then are still reported.
      try {
        pooled.expectingNavigation = true;
        await page.goto('about:blank', { waitUntil: 'load', timeout });
      } catch {
        pooled.job = undefined;
        await page.close().catch(() => undefined);
        return;
      }
      pooled.job = undefined;
      pooled.expectingNavigation = false;
      session.idlePages.push(pooled);
    },
  };
}

async function answer(request: HTTPRequest, pooled: PooledPage): Promise<void> {
  if (request.isInterceptResolutionHandled()) return;
  const url = request.url();
  const job = pooled.job;
  let resource: Resource | undefined;
  const isMainNavigation = request.isNavigationRequest() && request.frame() === pooled.page.mainFrame();
  const allowed = isMainNavigation ? pooled.expectingNavigation : !request.isNavigationRequest();
  if (isMainNavigation) pooled.expectingNavigation = false;
  if (job && allowed && url.startsWith(`${documentOrigin}/`)) {
    const path = decodeURIComponent(new URL(url).pathname.slice(1));
    if (path === 'favicon.ico') {
      await request.respond({ status: 404, body: '' });
      return;
    }
    resource = job.resolve(path);
  }
  if (!resource) {
    job?.onBlocked?.(url);
    await request.abort(isMainNavigation ? 'aborted' : 'blockedbyclient');
    return;
  }
  await request.respond({
    status: 200,
    contentType: resource.contentType,
    body: typeof resource.body === 'string' ? resource.body : Buffer.from(resource.body),
  });
}

/** How many pages print at once: one per core by default. */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8));
}
