/**
 * Finds a Chrome or Chromium to print with, in this order: an explicit path (`--browser` or the
 * `BRIEFING_PACK_BROWSER` / `PUPPETEER_EXECUTABLE_PATH` environment variables), puppeteer's own cache,
 * then a system Chrome or Chromium, then a system headless shell (Debian's `chromium-headless-shell`:
 * the same Blink and Skia without the browser's user interface; it prints the same pages, faster, and
 * is used first only when named, see bench/RESULTS.md). When none is found, says what to install.
 */
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError } from './errors.ts';

/** Where a browser was found, for the report. */
export interface FoundBrowser {
  executablePath: string;
  how: 'flag' | 'environment' | 'puppeteer-cache' | 'system';
}

const systemCandidates = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
  '/snap/bin/chromium',
  '/opt/google/chrome/chrome',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
  'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
  '/usr/bin/chromium-headless-shell',
];

const commandNames = [
  'chromium',
  'chromium-browser',
  'google-chrome-stable',
  'google-chrome',
  'chrome',
  'chromium-headless-shell',
  'chrome-headless-shell',
];

/**
 * Whether an executable is a headless shell (Debian's `chromium-headless-shell`, puppeteer's
 * `chrome-headless-shell`), which puppeteer launches as `headless: 'shell'`.
 */
export function isHeadlessShell(executablePath: string): boolean {
  return /headless[-_]shell(\.exe)?$/i.test(path.basename(executablePath));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!folder) continue;
    const candidate = path.join(folder, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Every Chrome puppeteer has downloaded into its cache, newest version first. Puppeteer itself is
 * loaded only when its cache folder exists: loading it costs half a second, and a build with nothing
 * to print (its output up to date) should not pay for it.
 */
function puppeteerCacheBrowsers(): string[] {
  const found: string[] = [];
  const cacheDir = process.env.PUPPETEER_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'puppeteer');
  if (!existsSync(cacheDir)) return found;
  try {
    const puppeteer = createRequire(import.meta.url)('puppeteer') as { executablePath(): string };
    const expected = puppeteer.executablePath();
    if (isExecutable(expected)) found.push(expected);
  } catch {
    // No configured browser: fall through to the cache folder itself.
  }
  for (const product of ['chrome', 'chrome-headless-shell']) {
    const folder = path.join(cacheDir, product);
    if (!existsSync(folder)) continue;
    for (const version of readdirSync(folder).sort().reverse()) {
      for (const binary of ['chrome-linux64/chrome', 'chrome-headless-shell-linux64/chrome-headless-shell']) {
        const candidate = path.join(folder, version, binary);
        if (isExecutable(candidate) && !found.includes(candidate)) found.push(candidate);
      }
    }
  }
  return found;
}

/** The advice printed when no browser is found. */
export const installAdvice = [
  'No Chrome or Chromium was found to print with. Install one of these, then run the command again:',
  '  Debian or Ubuntu:  sudo apt-get install -y chromium',
  '  with internet:     npx puppeteer browsers install chrome',
  'or point to one:     npm run build -- --browser /path/to/chrome   (or set BRIEFING_PACK_BROWSER)',
].join('\n');

/** Where {@link findBrowser} looks; tests replace them to prove the order and the advice. */
export interface BrowserSearch {
  environment?: NodeJS.ProcessEnv;
  cached?: () => string[];
  candidates?: readonly string[];
  commands?: readonly string[];
}

/** Finds the browser to print with; throws an `EnvironmentError` (exit 3) with advice when there is none. */
export function findBrowser(explicitPath?: string, search: BrowserSearch = {}): FoundBrowser {
  const environment = search.environment ?? process.env;
  if (explicitPath) {
    if (!isExecutable(explicitPath)) {
      throw new EnvironmentError(
        `The browser given with --browser, \`${explicitPath}\`, is not an executable file.`,
      );
    }
    return { executablePath: explicitPath, how: 'flag' };
  }
  for (const variable of ['BRIEFING_PACK_BROWSER', 'PUPPETEER_EXECUTABLE_PATH']) {
    const value = environment[variable];
    if (!value) continue;
    if (!isExecutable(value)) {
      throw new EnvironmentError(
        `The browser named by ${variable}, \`${value}\`, is not an executable file.`,
      );
    }
    return { executablePath: value, how: 'environment' };
  }
  const cached = (search.cached ?? puppeteerCacheBrowsers)()[0];
  if (cached) return { executablePath: cached, how: 'puppeteer-cache' };
  for (const candidate of search.candidates ?? systemCandidates) {
    if (isExecutable(candidate)) return { executablePath: candidate, how: 'system' };
  }
  for (const name of search.commands ?? commandNames) {
    const candidate = onPath(name);
    if (candidate) return { executablePath: candidate, how: 'system' };
  }
  throw new EnvironmentError(installAdvice);
}
