/**
 * The build's browser pool (`pipeline/lib/browser-pool.ts`) when a build ends while its browser is still
 * starting: the build starts the browser before it has read the source, so a build that fails on its
 * source ends with a browser on its way up. No real browser here: `open` is a stand-in whose start the
 * test controls.
 */
import { describe, expect, it } from 'vitest';
import { type BrowserSession, unlessAborted } from '../pipeline/lib/browser.ts';
import { BrowserPool } from '../pipeline/lib/browser-pool.ts';

/** A browser that starts when the test says, and records whether it was closed or killed. */
function startingBrowser() {
  const ended: string[] = [];
  const session = {
    version: 'Chromium 1.0',
    idlePages: [],
    close: async () => {
      ended.push('closed');
    },
    kill: async () => {
      ended.push('killed');
    },
  } as unknown as BrowserSession;
  let started: (() => void) | undefined;
  let signal: AbortSignal | undefined;
  const open = (given: AbortSignal) => {
    signal = given;
    return new Promise<BrowserSession>((resolve, reject) => {
      started = () => resolve(session);
      given.addEventListener('abort', () => reject(new Error('launch aborted')), { once: true });
    });
  };
  return { open, ended, start: () => started?.(), signal: () => signal };
}

/** A pool whose browser has begun to start, and the pool's promise of its version. */
async function poolStarting() {
  const browser = startingBrowser();
  const pool = new BrowserPool(browser.open);
  const version = pool.version();
  version.catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
  return { browser, pool, version };
}

describe('the browser pool', () => {
  it('kill() stops a browser that is still starting', async () => {
    const { browser, pool, version } = await poolStarting();
    await pool.kill();
    expect(browser.signal()?.aborted).toBe(true);
    await expect(version).rejects.toThrow('launch aborted');
    expect(browser.ended).toEqual([]);
    expect(pool.interrupted).toBe(true);
  });

  it('close() waits for a browser that is starting, then kills it', async () => {
    const { browser, pool, version } = await poolStarting();
    let closed = false;
    const closing = pool.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    browser.start();
    await closing;
    expect(browser.ended).toEqual(['killed']);
    await expect(version).rejects.toThrow('interrupted');
  });

  it('close() closes a browser that has started, and kill() kills it', async () => {
    for (const end of ['close', 'kill'] as const) {
      const browser = startingBrowser();
      const pool = new BrowserPool(browser.open);
      const version = pool.version();
      browser.start();
      expect(await version).toBe('Chromium 1.0');
      await pool[end]();
      expect(browser.ended).toEqual([end === 'close' ? 'closed' : 'killed']);
    }
  });
});

describe('unlessAborted: a protocol call of a browser killed while it starts', () => {
  it('rejects when the build stops, though the call never settles', async () => {
    const aborter = new AbortController();
    const waiting = unlessAborted(new Promise<string>(() => undefined), aborter.signal);
    aborter.abort();
    await expect(waiting).rejects.toThrow('The browser was stopped while it started');
  });

  it('rejects at once when the build has stopped already, and passes on an answer otherwise', async () => {
    const stopped = AbortSignal.abort();
    await expect(unlessAborted(Promise.resolve('Chromium'), stopped)).rejects.toThrow(/stopped/);
    await expect(unlessAborted(Promise.resolve('Chromium'), new AbortController().signal)).resolves.toBe(
      'Chromium',
    );
    await expect(unlessAborted(Promise.reject(new Error('no')), undefined)).rejects.toThrow('no');
  });
});
