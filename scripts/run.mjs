#!/usr/bin/env node
/**
 * The entry of `npm run build`, `npm run check` and `npm test`. Plain Node with no dependencies, so it
 * works on a fresh clone: it installs the npm dependencies when they are missing or stale, says exactly
 * what system packages to install when one is missing, then runs the pipeline (TypeScript, through tsx)
 * or the test suite.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [command = 'build', ...args] = process.argv.slice(2);

function fail(message, code) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 11)) {
  fail(
    `Node.js 20.11 or newer is needed; this is ${process.versions.node}. Install Node.js 20 LTS, then run the command again.`,
    3,
  );
}

/** Installs the npm dependencies when node_modules is missing or older than package-lock.json. */
function ensureDependencies() {
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  process.stderr.write('Installing the npm dependencies (npm ci)…\n');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: root,
    // Output goes to stderr, so `--json` reports on stdout stay clean.
    stdio: ['ignore', 2, 2],
    env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: '1' },
    shell: process.platform === 'win32',
  });
  if (result.status !== 0)
    fail(
      '`npm ci` failed; see above. Check the network access to the npm registry, then run the command again.',
      3,
    );
}

function onPath(name) {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((folder) => folder && existsSync(path.join(folder, name)));
}

/** The test suite drives real tools; name the Debian packages of any that are missing. */
function ensureTestTools() {
  const needed = [
    ['pdftotext', 'poppler-utils'],
    ['pdfinfo', 'poppler-utils'],
    ['pdffonts', 'poppler-utils'],
    ['pdftoppm', 'poppler-utils'],
    ['qpdf', 'qpdf'],
    ['epubcheck', 'epubcheck'],
  ];
  const missing = [...new Set(needed.filter(([tool]) => !onPath(tool)).map(([, pkg]) => pkg))];
  if (missing.length > 0) {
    fail(
      `The tests need tools that are not installed. Run:\n  sudo apt-get install -y ${missing.join(' ')}\nthen run the command again.`,
      3,
    );
  }
}

/** The end-to-end tests print with a real browser: find it the way the build does, or say what to install. */
async function ensureBrowser() {
  const { register } = await import('tsx/esm/api');
  const unregister = register();
  try {
    const { findBrowser } = await import(
      pathToFileURL(path.join(root, 'pipeline', 'lib', 'find-browser.ts')).href
    );
    findBrowser();
  } catch (error) {
    fail(error.message, 3);
  } finally {
    await unregister();
  }
}

ensureDependencies();

if (command === 'test') {
  ensureTestTools();
  await ensureBrowser();
  const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const result = spawnSync(process.execPath, [vitest, 'run', ...args], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

const { register } = await import('tsx/esm/api');
register();
const { main } = await import(pathToFileURL(path.join(root, 'pipeline', 'cli.ts')).href);
process.exitCode = await main([command, ...args]);
