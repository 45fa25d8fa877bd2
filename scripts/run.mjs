#!/usr/bin/env node
/**
 * The entry of `npm run build`, `npm run check` and `npm test`. Plain Node with no dependencies, so it
 * works on a fresh clone: it installs the npm dependencies when they are missing or stale, says exactly
 * what system packages to install when one is missing, then runs the pipeline (a bundle made on the fly,
 * or TypeScript through tsx) or the test suite.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

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

/** Bumped when the way the bundle is made changes, so old bundles are not reused. */
const bundleFormat = 9;

/** A digest of everything the `check` bundle is made from: the pipeline's sources and the dependencies. */
function bundleKey() {
  const hash = createHash('sha256').update(`${bundleFormat} ${process.versions.node}\n`);
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) hash.update(`${path.relative(root, full)}\n`).update(readFileSync(full));
    }
  };
  walk(path.join(root, 'pipeline'));
  hash.update(readFileSync(path.join(root, 'node_modules', '.package-lock.json')));
  return hash.digest('hex').slice(0, 16);
}

/**
 * `check` runs on every save and `build` after every edit, so both start from one JavaScript bundle of
 * the pipeline rather than from TypeScript through tsx: no loader thread, no transform, one file
 * instead of hundreds (tsx alone made loading pdf.js four times slower). The bundle is made with
 * esbuild (tsx's own dependency) into `.cache/check/<digest>/` whenever the pipeline or the
 * dependencies changed, published with a rename so two runs at once never see half of one. Anything
 * that goes wrong here falls back to tsx: the bundle only makes the commands faster.
 */
async function bundledCli() {
  if (process.env.BRIEFING_PACK_NO_BUNDLE) return undefined;
  try {
    const cacheDir = path.join(root, '.cache', 'check');
    const key = bundleKey();
    const bundleDir = path.join(cacheDir, key);
    const entry = path.join(bundleDir, 'cli.js');
    if (!existsSync(entry)) {
      const { build } = await import('esbuild');
      const staging = path.join(cacheDir, `.${key}-${process.pid}-${Date.now()}`);
      await build({
        entryPoints: [
          path.join(root, 'pipeline', 'cli.ts'),
          path.join(root, 'pipeline', 'lib', 'check-worker.ts'),
        ],
        // Flat: `cli.js` finds `check-worker.js` beside it.
        entryNames: '[name]',
        outdir: staging,
        bundle: true,
        splitting: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        sourcemap: 'linked',
        // Only `build` loads these, through `import()`; they stay in node_modules: pdf.js (its worker is
        // found beside it), koffi (a native module), proxy-agent (puppeteer's downloads only; its PAC
        // engine looks for a WebAssembly file beside itself), cosmiconfig (puppeteer's configuration
        // files; it finds its caller by `__filename`, which a bundle lacks) and ws's optional native
        // helpers. pdf-lib, LiquidJS, fflate and puppeteer are bundled instead, into chunks only `build`
        // loads: importing pdf-lib's hundreds of CommonJS files took Node 0.2 s, the three 0.3 s, and a
        // build of 100 briefings paused 0.5-0.75 s before its templates to load the build's modules
        // (under 0.2 s bundled); puppeteer's took 0.21 s (0.07 s bundled), on the thread that lays the
        // documents out while the browser starts.
        external: ['pdfjs-dist', 'koffi', 'proxy-agent', 'cosmiconfig', 'bufferutil', 'utf-8-validate'],
        // CommonJS modules (yaml, the compiled validators) call `require`, which an ES module lacks.
        banner: {
          js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        },
        logLevel: 'silent',
      });
      // The Markdown parser's worker is started by file name from beside the code that uses it
      // (`new URL('./parse-worker.mjs', import.meta.url)`), which esbuild does not follow: it is
      // bundled on its own, into one file, as it is loaded at the start of every build that converts
      // a briefing (about 30 ms bundled against 90 ms from micromark's many files).
      await build({
        entryPoints: [path.join(root, 'pipeline', 'lib', 'markdown', 'parse-worker.mjs')],
        outfile: path.join(staging, 'parse-worker.mjs'),
        bundle: true,
        format: 'esm',
        platform: 'node',
        target: 'node20',
        logLevel: 'silent',
      });
      try {
        renameSync(staging, bundleDir);
      } catch {
        // Another run published the same bundle first.
        rmSync(staging, { recursive: true, force: true });
      }
      for (const name of readdirSync(cacheDir)) {
        const stale = path.join(cacheDir, name);
        if (name !== key && Date.now() - statSync(stale).mtimeMs > 60_000) {
          rmSync(stale, { recursive: true, force: true });
        }
      }
    }
    return await import(pathToFileURL(entry).href);
  } catch {
    return undefined;
  }
}

async function typeScriptCli() {
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(path.join(root, 'pipeline', 'cli.ts')).href);
}

if (command === 'check') {
  // A check lasts a second or two, on three threads (two of them workers) that each compile the same
  // hot code: V8's default eagerness to optimise spent about a third of the check's processor time
  // in its compiler threads. A larger budget before optimising compiles only the hottest functions,
  // for about 0.7 s less processor time on 500 briefings (bench/RESULTS.md). Set before the pipeline
  // is loaded and the workers start, so it applies to all of their code; it changes no result.
  setFlagsFromString('--interrupt-budget=1000000');
}
// puppeteer logs each protocol message through the `debug` package, which makes a logger for every
// message and asks each time, with a system call, whether stderr is a terminal: 0.4 s of processor
// time in a build of 100 briefings. The package's own DEBUG_COLORS setting gives it that answer once,
// the answer it would have found. Set before the pipeline is loaded (loading puppeteer loads `debug`).
process.env.DEBUG_COLORS ??= String(process.stderr.isTTY === true);
const cli = (await bundledCli()) || (await typeScriptCli());
process.exitCode = await cli.main([command, ...args]);
// The command's work is done and its report written. Something it started and failed to close (a
// child process, a pipe, a timer) must not keep it running: said, so it gets fixed, then it exits.
setTimeout(() => {
  process.stderr.write(
    `The ${command} had finished, but something it started was still open 10 s later; it exits now.\n`,
  );
  process.exit();
}, 10_000).unref();
