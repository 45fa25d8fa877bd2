import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvironmentError } from '../pipeline/lib/errors.ts';
import { findBrowser, installAdvice, isHeadlessShell } from '../pipeline/lib/find-browser.ts';
import { temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
let fakeChrome: string;
let otherChrome: string;

beforeAll(async () => {
  folder = await temporaryFolder();
  fakeChrome = path.join(folder.dir, 'chrome');
  otherChrome = path.join(folder.dir, 'chromium');
  for (const file of [fakeChrome, otherChrome]) {
    await writeFile(file, '#!/bin/sh\n');
    await chmod(file, 0o755);
  }
});
afterAll(async () => {
  await folder.remove();
});

const nothing = { environment: {}, cached: () => [], candidates: [], commands: [] };

describe('findBrowser', () => {
  it('takes an explicit path first', () => {
    expect(
      findBrowser(fakeChrome, { ...nothing, environment: { BRIEFING_PACK_BROWSER: otherChrome } }),
    ).toEqual({
      executablePath: fakeChrome,
      how: 'flag',
    });
  });

  it('then the environment, then puppeteer’s cache, then the system', () => {
    expect(
      findBrowser(undefined, { ...nothing, environment: { BRIEFING_PACK_BROWSER: otherChrome } }).how,
    ).toBe('environment');
    expect(
      findBrowser(undefined, { ...nothing, cached: () => [fakeChrome], candidates: [otherChrome] }),
    ).toEqual({
      executablePath: fakeChrome,
      how: 'puppeteer-cache',
    });
    expect(findBrowser(undefined, { ...nothing, candidates: ['/nonexistent/chrome', otherChrome] })).toEqual({
      executablePath: otherChrome,
      how: 'system',
    });
  });

  it('refuses an explicit path that is not an executable', () => {
    expect(() => findBrowser('/nonexistent/chrome', nothing)).toThrow(
      /--browser, `\/nonexistent\/chrome`, is not an executable/,
    );
  });

  it('says exactly what to install when no browser is found', () => {
    let thrown: unknown;
    try {
      findBrowser(undefined, nothing);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EnvironmentError);
    expect((thrown as Error).message).toBe(installAdvice);
    expect(installAdvice).toContain('sudo apt-get install -y chromium');
  });

  it('finds a system headless shell where there is no full Chromium, and launches it as one', async () => {
    const shell = path.join(folder.dir, 'shell', 'chromium-headless-shell');
    await mkdir(path.dirname(shell), { recursive: true });
    await writeFile(shell, '#!/bin/sh\n');
    await chmod(shell, 0o755);
    // The commands on the PATH as the build looks for them, nothing else.
    const { commands: _commands, ...onPathOnly } = nothing;
    const previous = process.env.PATH;
    try {
      process.env.PATH = path.dirname(shell);
      expect(findBrowser(undefined, onPathOnly)).toEqual({ executablePath: shell, how: 'system' });
      // A full Chromium on the PATH comes first.
      process.env.PATH = `${path.dirname(shell)}${path.delimiter}${folder.dir}`;
      expect(findBrowser(undefined, onPathOnly)).toEqual({ executablePath: otherChrome, how: 'system' });
    } finally {
      process.env.PATH = previous;
    }
    expect(isHeadlessShell(shell)).toBe(true);
    expect(isHeadlessShell('/cache/chrome-headless-shell-linux64/chrome-headless-shell')).toBe(true);
    expect(isHeadlessShell('/usr/bin/chromium')).toBe(false);
    expect(isHeadlessShell(otherChrome)).toBe(false);
  });
});
