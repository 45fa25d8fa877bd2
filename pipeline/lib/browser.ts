/**
 * One browser per build, and the page that prints a document without ever touching the network.
 *
 * Each document is loaded from a made-up origin, `https://briefing-pack.invalid/`; every request the
 * page makes is answered from an in-memory map of the build's own files (the document, its styles,
 * the bundled fonts, checked images). Anything else is aborted and recorded. JavaScript is off in
 * every page, and the only navigation a page may make is the one the build starts.
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
import { type FoundBrowser, findBrowser, isHeadlessShell } from './find-browser.ts';

/** The origin documents are served from. `.invalid` can never resolve to a real host (RFC 2606). */
export const documentOrigin = 'https://briefing-pack.invalid';

/** A file served to the browser. */
export interface Resource {
  contentType: string;
  body: string | Uint8Array;
  /**
   * The same bytes at this path for every document of the build (the fonts, styles and images of the
   * print stage): the browser may keep it from one document to the next, and so loads and decodes
   * each font once per page instead of once per document. Anything else (a document, its page CSS)
   * is sent as not to be stored.
   */
  shared?: boolean;
}

/** The response headers of a resource: its type, and whether the browser may keep it. */
export function resourceHeaders(resource: Resource): Record<string, string> {
  return {
    'content-type': resource.contentType,
    'cache-control': resource.shared ? 'public, max-age=31536000, immutable' : 'no-store',
  };
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
  /** Pages opened ahead of the first documents ({@link openPages}), taken before any new one is opened. */
  openingPages?: Promise<PooledPage>[];
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
  /**
   * The job whose document the page holds. A released page keeps it until the next job's navigation
   * request, so what the old document still asks for is answered (or refused and reported) as its own.
   */
  job: PrintJob | undefined;
  /** The navigation the build started (its URL, and the job it loads); any other is refused. */
  expected: { url: string; job: PrintJob } | undefined;
  /** The media type and viewport the page emulates now (`emulationKey`). */
  emulation: string;
}

/** The viewport of every page, unless a job asks for another (as a launched browser's default). */
const defaultViewport = { width: 800, height: 600 };

function emulationKey(emulation: PageEmulation | undefined): string {
  return emulation ? `${emulation.media} ${emulation.viewport.width}x${emulation.viewport.height}` : '';
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
    const launching = puppeteer.launch({
      executablePath: found.executablePath,
      // A headless shell takes the old switch (`--headless`), a full Chromium the new one.
      headless: isHeadlessShell(found.executablePath) ? 'shell' : true,
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
    // A browser that starts all the same after the build stopped waiting is killed (its group too).
    launching.then(
      (started) => {
        if (options.signal?.aborted) killGroup(started);
      },
      () => undefined,
    );
    browser = await unlessAborted(launching, options.signal);
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
    killGroup(browser);
    await browser.disconnect().catch(() => undefined);
    await removeProfile();
  };
  let version: string;
  try {
    version = describeVersion(await unlessAborted(browser.version(), options.signal), found.executablePath);
  } catch (cause) {
    await kill();
    throw cause;
  }
  // The tab Chromium opens as it starts (about:blank) is the first page of the pool: its renderer
  // started with the browser, where a new page starts one, which a rebuild after an edit waited for
  // (100-350 ms, while this thread lays out the documents).
  const initial = browser.pages().then(([first]) => {
    if (first?.url() === 'about:blank') return preparePage(first);
    throw new Error('Chromium opened no blank page');
  });
  initial.catch(() => undefined);
  return {
    browser,
    version,
    found,
    idlePages: [],
    openingPages: [initial],
    close: async () => {
      // A browser that does not close within seconds is killed, so no process outlives the build. The
      // timer keeps Node running meanwhile: a close that never settles must not end the build early.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        browser.close().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 5_000);
        }),
      ]);
      clearTimeout(timer);
      // Closed or not, what is left of its process group goes too: Chromium's main process exits
      // without a renderer that stopped answering, and a renderer left behind keeps Chromium's stderr
      // open, and with it this process, for ever.
      await kill();
    },
    kill,
  };
}

/** Kills a launched browser at once: puppeteer starts Chromium as the leader of its own process group. */
function killGroup(browser: Browser): void {
  const pid = browser.process()?.pid;
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    browser.process()?.kill('SIGKILL');
  }
}

/**
 * `work`, or a rejection as soon as `signal` aborts. A protocol call in flight when the browser is
 * killed does not always settle (puppeteer 24, over a pipe: 2 of 10 tries hung), and a build stopped
 * while its browser started would wait on it for ever; with nothing else to do, Node then ends with
 * exit code 13 ("unsettled top-level await") instead of the build's own.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(new Error('The browser was stopped while it started'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('The browser was stopped while it started'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
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
    defaultViewport,
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
  /** What the page emulates while the document loads and prints (by default, screen at 800 × 600). */
  emulation?: PageEmulation | undefined;
}

/** A media type and viewport set on a page before its document loads. */
export interface PageEmulation {
  media: 'print';
  viewport: { width: number; height: number };
}

/** A page loaded with a document, ready to print (and print again after edits). */
export interface LoadedPage {
  page: Page;
  print(): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * The print settings of every document: the page size and margins of its CSS (`@page`), backgrounds,
 * tagged, with the outline of its headings. The print stage waits for the fonts itself, as a phase of
 * its own.
 */
export const printOptions = {
  preferCSSPageSize: true,
  printBackground: true,
  tagged: true,
  outline: true,
  waitForFonts: false,
} as const satisfies PDFOptions;

/** What `Page.printToPDF` needs of a puppeteer page: its own protocol session. */
interface PageWithSession {
  _client?: () => { send(method: 'Page.printToPDF', params: object): Promise<{ data?: string }> };
}

/**
 * Prints a page to PDF with {@link printOptions}, the PDF sent back in the protocol's reply. puppeteer's
 * `page.pdf` asks for it as a stream and reads that in two more calls and closes it in a third: three
 * round trips through the browser per PDF, 600 for a pack of 100 briefings. The parameters are those
 * `page.pdf` sends for these options (the paper size only applies where the CSS sets none), so the
 * PDF is the same byte for byte (a test compares them). Where puppeteer does not expose the page's
 * session (another version of puppeteer), `page.pdf` prints it.
 */
export async function printPage(page: Page, timeoutMs: number): Promise<Uint8Array> {
  const client = (page as unknown as PageWithSession)._client?.();
  if (!client || typeof client.send !== 'function') return page.pdf({ ...printOptions, timeout: timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Printing did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const { data } = await Promise.race([
      client.send('Page.printToPDF', {
        transferMode: 'ReturnAsBase64',
        landscape: false,
        displayHeaderFooter: false,
        headerTemplate: '',
        footerTemplate: '',
        printBackground: printOptions.printBackground,
        scale: 1,
        paperWidth: 8.5,
        paperHeight: 11,
        marginTop: 0,
        marginBottom: 0,
        marginLeft: 0,
        marginRight: 0,
        pageRanges: '',
        preferCSSPageSize: printOptions.preferCSSPageSize,
        generateTaggedPDF: printOptions.tagged,
        generateDocumentOutline: printOptions.outline,
      }),
      timedOut,
    ]);
    if (typeof data !== 'string') throw new Error('`Page.printToPDF` sent no PDF');
    const bytes = Buffer.from(data, 'base64');
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } finally {
    clearTimeout(timer);
  }
}

async function acquirePage(session: BrowserSession): Promise<PooledPage> {
  const idle = session.idlePages.pop();
  if (idle && !idle.page.isClosed()) return idle;
  const opening = session.openingPages?.shift();
  const opened = await opening?.catch(() => undefined);
  if (opened && !opened.page.isClosed()) return opened;
  return openPage(session);
}

/**
 * Opens pages in the background, up to `count` ready or opening, for the first documents to take: each
 * page starts a renderer process, which the build would otherwise wait for when printing starts.
 */
export function openPages(session: BrowserSession, count: number): void {
  session.openingPages ??= [];
  while (session.idlePages.length + session.openingPages.length < count) {
    const opening = openPage(session);
    // A page that fails to open is opened again when a document needs it.
    opening.catch(() => undefined);
    session.openingPages.push(opening);
  }
}

async function openPage(session: BrowserSession): Promise<PooledPage> {
  return preparePage(await (session.context ?? session.browser).newPage());
}

/** A page made ready for documents: JavaScript off, and every request it makes answered by {@link answer}. */
async function preparePage(page: Page): Promise<PooledPage> {
  const pooled: PooledPage = { page, job: undefined, expected: undefined, emulation: '' };
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
  const url = `${documentOrigin}/${job.documentPath}`;
  try {
    // Set before the document loads, so it is laid out (and its fonts fetched) once, as it prints.
    const emulation = emulationKey(job.emulation);
    if (pooled.emulation !== emulation) {
      await page.emulateMediaType(job.emulation?.media);
      await page.setViewport(job.emulation?.viewport ?? defaultViewport);
      pooled.emulation = emulation;
    }
    // The page goes from the last document straight to this one, with no blank page between: the
    // old document's requests stay its own until this navigation's request is answered.
    pooled.expected = { url, job };
    await page.goto(url, { waitUntil: 'load', timeout });
    if (pooled.job !== job) throw new Error(`the page did not navigate to \`${job.documentPath}\``);
  } catch (cause) {
    pooled.job = undefined;
    pooled.expected = undefined;
    await page.close().catch(() => undefined);
    throw cause;
  }
  let released = false;
  return {
    page,
    print: () => printPage(page, timeout),
    close: async () => {
      if (released) return;
      released = true;
      // The document stays loaded until the page's next job navigates: unloading it first (a
      // navigation to about:blank) costs the browser as much as a small print. Until then a navigation
      // it starts itself (a timed refresh) is refused, and anything it asks for is answered from its
      // own job's files or refused and reported, as while it printed.
      if (!page.isClosed()) session.idlePages.push(pooled);
    },
  };
}

async function answer(request: HTTPRequest, pooled: PooledPage): Promise<void> {
  // A shared file the page took from its memory cache: answered for an earlier document, not asked again.
  if ((request as unknown as InterceptedRequest)._fromMemoryCache === true) return;
  if (request.isInterceptResolutionHandled()) return;
  const url = request.url();
  let job = pooled.job;
  let resource: Resource | undefined;
  const isMainNavigation = request.isNavigationRequest() && request.frame() === pooled.page.mainFrame();
  const expected = isMainNavigation && pooled.expected?.url === url ? pooled.expected : undefined;
  if (expected) {
    // From here on, the page serves the new job.
    pooled.expected = undefined;
    pooled.job = expected.job;
    job = expected.job;
  }
  const allowed = isMainNavigation ? expected !== undefined : !request.isNavigationRequest();
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
  await fulfil(request, resource);
}

/**
 * The base64 of each resource body sent, kept while the resource is: a build serves the same fonts
 * and styles to every document, and encodes each once.
 */
const encodedBodies = new WeakMap<Resource, { base64: string; length: number }>();

function encodedBody(resource: Resource): { base64: string; length: number } {
  let encoded = encodedBodies.get(resource);
  if (!encoded) {
    const { body } = resource;
    const bytes =
      typeof body === 'string'
        ? Buffer.from(body)
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    encoded = { base64: bytes.toString('base64'), length: bytes.byteLength };
    encodedBodies.set(resource, encoded);
  }
  return encoded;
}

/** What `Fetch.fulfillRequest` needs of a puppeteer request (session, id), and whether it can be answered. */
interface InterceptedRequest {
  client?: { send(method: 'Fetch.fulfillRequest', params: object): Promise<unknown> };
  _interceptionId?: string;
  /** Set by puppeteer on a request the page answered from its memory cache (not interceptable). */
  _fromMemoryCache?: boolean;
}

/**
 * Answers a request with a resource, in one CDP message. puppeteer's `request.respond` encodes every
 * body to base64 anew, in JavaScript, a byte at a time: for the fonts of two hundred documents, seconds
 * of this thread's time. Here each body is encoded once, natively. Where puppeteer does not expose the
 * request's session and interception id (another version of puppeteer), `respond` does the same.
 */
async function fulfil(request: HTTPRequest, resource: Resource): Promise<void> {
  const { client, _interceptionId: requestId } = request as unknown as InterceptedRequest;
  if (!client || typeof client.send !== 'function' || typeof requestId !== 'string') {
    await request.respond({
      status: 200,
      headers: resourceHeaders(resource),
      body: typeof resource.body === 'string' ? resource.body : Buffer.from(resource.body),
    });
    return;
  }
  const { base64, length } = encodedBody(resource);
  const headers = Object.entries(resourceHeaders(resource)).map(([name, value]) => ({ name, value }));
  await client
    .send('Fetch.fulfillRequest', {
      requestId,
      responseCode: 200,
      responsePhrase: 'OK',
      responseHeaders: [...headers, { name: 'content-length', value: String(length) }],
      body: base64,
    })
    // As puppeteer does: a request cancelled, or a page closed, before the answer arrived.
    .catch(() => undefined);
}

/** How many pages print at once: one per core by default. */
export function defaultConcurrency(): number {
  return Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 8));
}
