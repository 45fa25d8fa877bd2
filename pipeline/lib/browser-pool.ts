/**
 * The browser's lifecycle in a build: one live browser, a watchdog per document, and a fresh browser
 * when one crashes or hangs.
 *
 * Each document gets a time budget. If Chromium crashes, or the document does not finish in time, the
 * browser is killed with its whole process group, a new one is started, and the document is tried once
 * more; a second failure fails the build naming the document and the phase it was in.
 */
import type { BrowserSession } from './browser.ts';

/** What a document is doing in the browser when it fails. */
export type Phase = 'load' | 'fonts' | 'print';

/** Default time budget for a document of up to 100 KB of HTML, in milliseconds. */
export const defaultDocumentBudgetMs = 60_000;

/** The time budget of a document: the base budget, scaled up for large documents. */
export function documentBudgetMs(baseMs: number, htmlLength: number): number {
  return Math.round(baseMs * Math.max(1, htmlLength / 100_000));
}

class DocumentTimeout extends Error {
  override name = 'DocumentTimeout';
}

/** The build was interrupted (SIGINT, SIGTERM): no more browsers, no retries. */
export class BuildInterrupted extends Error {
  override name = 'BuildInterrupted';
}

/** Keeps one live browser for a build, replacing it when it fails. */
export class BrowserPool {
  private current: Promise<BrowserSession> | undefined;
  private generation = 0;
  private closed = false;
  private readonly sessions = new Set<BrowserSession>();
  /** Aborted by {@link kill}: a browser still starting is stopped. */
  private readonly aborter = new AbortController();

  constructor(private readonly open: (signal: AbortSignal) => Promise<BrowserSession>) {}

  /** The live browser and its generation (which `replace` needs). */
  async session(): Promise<{ session: BrowserSession; generation: number }> {
    if (this.closed) throw new BuildInterrupted('the build was interrupted');
    if (!this.current) this.current = this.start();
    const generation = this.generation;
    return { session: await this.current, generation };
  }

  private async start(): Promise<BrowserSession> {
    const session = await this.open(this.aborter.signal);
    // Closed while it started (the build failed or was interrupted): it has nothing to do.
    if (this.closed) {
      await session.kill();
      throw new BuildInterrupted('the build was interrupted');
    }
    this.sessions.add(session);
    return session;
  }

  /**
   * Starts the browser, if it is not started, and opens pages for the first documents: `pages`, or
   * as many as the default concurrency.
   */
  async prepare(pages?: number): Promise<void> {
    const [{ openPages, defaultConcurrency }, { session }] = await Promise.all([
      import('./browser.ts'),
      this.session(),
    ]);
    openPages(session, pages ?? defaultConcurrency());
  }

  /** The version of the browser in use, for the manifest. */
  async version(): Promise<string> {
    return (await this.session()).session.version;
  }

  /** Kills the browser of `generation` (if it is still the live one) so the next `session()` starts afresh. */
  async replace(generation: number): Promise<void> {
    if (generation !== this.generation || !this.current) return;
    const failed = this.current;
    this.generation++;
    this.current = undefined;
    const session = await failed.catch(() => undefined);
    if (session) {
      this.sessions.delete(session);
      await session.kill();
    }
  }

  /** Closes every browser the pool started. */
  async close(): Promise<void> {
    this.closed = true;
    // A browser still starting is killed as soon as it has started (`start`).
    await this.current?.catch(() => undefined);
    await Promise.all([...this.sessions].map((session) => session.close()));
    this.sessions.clear();
  }

  /** Kills every browser the pool started, at once (on interruption). */
  async kill(): Promise<void> {
    this.closed = true;
    this.aborter.abort();
    await this.current?.catch(() => undefined);
    await Promise.all([...this.sessions].map((session) => session.kill()));
    this.sessions.clear();
  }

  get interrupted(): boolean {
    return this.closed;
  }
}

function isBrowserFault(error: unknown, session: BrowserSession): boolean {
  if (error instanceof DocumentTimeout) return true;
  if (!session.browser.connected) return true;
  const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
  return /TargetCloseError|ProtocolError|Target closed|Session closed|Connection closed|frame was detached|crashed|ERR_ABORTED/i.test(
    text,
  );
}

/**
 * Runs one document's work on the pool's browser under a watchdog; retries once on a fresh browser
 * when the browser crashes or the budget runs out.
 */
export async function withWatchdog<T>(
  pool: BrowserPool,
  documentPath: string,
  budgetMs: number,
  work: (session: BrowserSession, setPhase: (phase: Phase) => void) => Promise<T>,
): Promise<T> {
  let failure = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    let live: Awaited<ReturnType<BrowserPool['session']>>;
    try {
      live = await pool.session();
    } catch (error) {
      if (attempt === 1 || error instanceof BuildInterrupted) throw error;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new Error(`Chromium ${failure}, and a fresh browser could not start: ${reason}`, {
        cause: error,
      });
    }
    const { session, generation } = live;
    let phase: Phase = 'load';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DocumentTimeout()), budgetMs);
    });
    try {
      return await Promise.race([
        work(session, (next) => {
          phase = next;
        }),
        timeout,
      ]);
    } catch (error) {
      if (pool.interrupted)
        throw new BuildInterrupted(`the build was interrupted during ${phase} of ${documentPath}`);
      if (!isBrowserFault(error, session)) throw error;
      failure =
        error instanceof DocumentTimeout
          ? `did not finish ${documentPath} within ${Math.round(budgetMs / 1000)} s, during ${phase}`
          : `failed during ${phase} of ${documentPath} (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
      await pool.replace(generation);
    } finally {
      clearTimeout(timer);
    }
  }
  throw new Error(`Chromium ${failure}, twice: the second time on a fresh browser`);
}
