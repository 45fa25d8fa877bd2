/**
 * The command line: `build`, `check` and `dev`, with the options of SPEC.md. Parses arguments, runs the
 * build, prints the report (human on stderr, `--json` on stdout) and exits with the promised code.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runBuild } from './build.ts';
import { endpointKind, shownEndpoint } from './lib/browser-endpoint.ts';
import { ExitCode, type ExitCodeValue, UsageError } from './lib/errors.ts';
import { createProgress, silentProgress } from './lib/progress.ts';
import { generator } from './lib/project.ts';
import { formatHumanReport, jsonReport } from './lib/report.ts';

// Dates are always UTC: the zip format and any Date formatting must not depend on the machine.
process.env.TZ = 'UTC';

const usage = `Usage: npm run <build|check|dev> -- [options]

  build    validate, render and write every artifact
  check    validate only: no browser, no output
  dev      watch the source and the templates, serve a live preview on 127.0.0.1 (nothing printed)

Options:
  --source DIR             the source folder (default: source)
  --out DIR                the output folder (default: dist)
  --json                   print the report as JSON on stdout (human text goes to stderr)
  --quiet                  print errors only (no progress)
  --verbose                also print each document as it is printed, and the timings
  --browser PATH           the Chrome or Chromium to print with
  --browser-endpoint URL   print on a browser that runs elsewhere instead of launching one:
                           ws://host:port/devtools/browser/… or http://host:port
                           (or set BRIEFING_PACK_BROWSER_ENDPOINT)
  --concurrency N          pages printed at once (default: the number of cores)
  --timeout SECONDS        time budget of a document in the browser (default 60; large documents get more)
  --cache DIR              the build cache (default: .cache/build in the project; or set
                           BRIEFING_PACK_CACHE); a rebuild reprints only what changed
  --no-cache               print everything, reuse nothing (BRIEFING_PACK_CACHE=off)
  --allow-remote-images    fetch images given as web addresses (off by default): once, by the
                           pipeline, from public addresses only, checked like local images
  --port N                 dev: the preview's port (default 4173, or the next free one)
  --help, --version`;

const commands = ['build', 'check', 'dev'] as const;
type Command = (typeof commands)[number];

/** Parsed command line. */
export interface CliArguments {
  command: Command;
  sourceDir: string;
  outDir: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  browser: string | undefined;
  browserEndpoint: string | undefined;
  concurrency: number | undefined;
  timeoutMs: number | undefined;
  allowRemoteImages: boolean;
  /** The cache folder, `false` for none, undefined for the default. */
  cacheDir: string | false | undefined;
  /** `dev`: the preview's port; undefined for the default. */
  port: number | undefined;
}

/** Parses the arguments after the script name; throws `UsageError` on anything unexpected. */
export function parseCliArguments(argv: readonly string[]): CliArguments | 'help' | 'version' {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        source: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        verbose: { type: 'boolean' },
        browser: { type: 'string' },
        'browser-endpoint': { type: 'string' },
        concurrency: { type: 'string' },
        timeout: { type: 'string' },
        'allow-remote-images': { type: 'boolean' },
        cache: { type: 'string' },
        'no-cache': { type: 'boolean' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (cause) {
    throw new UsageError((cause as Error).message, { cause });
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (values.version) return 'version';
  const [command, ...extra] = positionals;
  if (!commands.includes(command as Command)) {
    throw new UsageError(
      `Unexpected command \`${command ?? ''}\`, expected \`build\`, \`check\` or \`dev\`.`,
    );
  }
  if (extra.length > 0) throw new UsageError(`Unexpected argument \`${extra[0]}\`.`);
  if (values.quiet && values.verbose) throw new UsageError('Use --quiet or --verbose, not both.');
  // The flag wins over the environment; an empty variable is no endpoint.
  const endpoint = values['browser-endpoint'] ?? (process.env.BRIEFING_PACK_BROWSER_ENDPOINT || undefined);
  if (typeof endpoint === 'string' && !endpointKind(endpoint)) {
    const from =
      values['browser-endpoint'] === undefined ? 'BRIEFING_PACK_BROWSER_ENDPOINT' : '--browser-endpoint';
    throw new UsageError(
      `Unexpected ${from} \`${shownEndpoint(endpoint)}\`, expected a browser's DevTools address: ws://host:port/devtools/browser/… (or wss://…), or http://host:port to read it from`,
    );
  }
  let concurrency: number | undefined;
  if (typeof values.concurrency === 'string') {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new UsageError(
        `Unexpected --concurrency \`${values.concurrency}\`, expected a whole number from 1 to 64.`,
      );
    }
  }
  let timeoutMs: number | undefined;
  const timeout = values.timeout ?? process.env.BRIEFING_PACK_TIMEOUT;
  if (typeof timeout === 'string' && timeout !== '') {
    const seconds = Number(timeout);
    if (!Number.isFinite(seconds) || seconds < 1 || seconds > 3600) {
      throw new UsageError(`Unexpected --timeout \`${timeout}\`, expected seconds from 1 to 3600.`);
    }
    timeoutMs = seconds * 1000;
  }
  if (values['no-cache'] && typeof values.cache === 'string') {
    throw new UsageError('Use --cache or --no-cache, not both.');
  }
  const cacheSetting = values['no-cache'] ? 'off' : (values.cache ?? process.env.BRIEFING_PACK_CACHE);
  const cacheDir =
    typeof cacheSetting !== 'string' || cacheSetting === ''
      ? undefined
      : cacheSetting === 'off'
        ? false
        : cacheSetting;
  let port: number | undefined;
  if (typeof values.port === 'string') {
    if (command !== 'dev') throw new UsageError('Unexpected --port: only `dev` serves a preview.');
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      throw new UsageError(
        `Unexpected --port \`${values.port}\`, expected a port from 0 (any free one) to 65535.`,
      );
    }
  }
  const text = (value: unknown, fallback: string) =>
    typeof value === 'string' && value !== '' ? value : fallback;
  return {
    command: command as Command,
    sourceDir: text(values.source, 'source'),
    outDir: text(values.out, 'dist'),
    json: values.json === true,
    quiet: values.quiet === true,
    verbose: values.verbose === true,
    browser: typeof values.browser === 'string' ? values.browser : undefined,
    browserEndpoint: typeof endpoint === 'string' ? endpoint : undefined,
    concurrency,
    timeoutMs,
    allowRemoteImages: values['allow-remote-images'] === true,
    cacheDir,
    port,
  };
}

/**
 * The worker `check` shares its work with. It exists only in the bundle `scripts/run.mjs` makes,
 * beside this module as `check-worker.js`; run as TypeScript, a check uses one thread.
 */
function bundledCheckWorker(): URL | undefined {
  if (!import.meta.url.endsWith('.js')) return undefined;
  const url = new URL('./check-worker.js', import.meta.url);
  return existsSync(url) ? url : undefined;
}

/**
 * A reader that goes away (`npm run build | head`) must not end the command half-way: the build would
 * stop without closing its browser or removing its staging folder. What is written after that is dropped.
 */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

/** Runs the command line and returns the exit code. */
export async function main(argv: readonly string[]): Promise<ExitCodeValue | number> {
  let args: ReturnType<typeof parseCliArguments>;
  try {
    args = parseCliArguments(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return ExitCode.usage;
  }
  if (args === 'help') {
    process.stdout.write(`${usage}\n`);
    return ExitCode.ok;
  }
  if (args === 'version') {
    process.stdout.write(`${generator.name} ${generator.version}\n`);
    return ExitCode.ok;
  }
  const { command, verbose, quiet } = args;
  ignoreClosedPipes();
  // A build shows what it is doing on stderr (live on a terminal, a line per stage elsewhere); a check
  // is over before there is anything to show, and its output stays the problems alone.
  const display = command === 'build' && !quiet ? createProgress(process.stderr) : silentProgress;
  if (command === 'dev') return runDevCommand(args);
  // SIGINT/SIGTERM: stop the build cleanly (browser killed, staging removed, output untouched); a
  // second signal ends the process at once.
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(name === 'SIGINT' ? 130 : 143);
    const line = `Stopping (${name}): closing the browser and removing the staging folder.`;
    if (command === 'build' && !quiet) display.note(line);
    else process.stderr.write(`${line}\n`);
    controller.abort(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const result = await runBuild({
    signal: controller.signal,
    timeoutMs: args.timeoutMs,
    sourceDir: args.sourceDir,
    outDir: args.outDir,
    mode: command,
    browser: args.browser,
    browserEndpoint: args.browserEndpoint,
    concurrency: args.concurrency,
    allowRemoteImages: args.allowRemoteImages,
    cacheDir: args.cacheDir,
    checkWorker: bundledCheckWorker(),
    progress: display.update,
    log: (line) => {
      const notice = line.startsWith('Running as root') || line.startsWith('The browser at');
      if (!verbose && (quiet || !notice)) return;
      if (command === 'build') display.note(line);
      else process.stderr.write(`${line}\n`);
    },
  });
  display.finish();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const lines = formatHumanReport(result, command, { quiet });
  if (verbose)
    lines.push(
      `Timings: ${Object.entries(result.timings)
        .map(([stage, ms]) => `${stage} ${ms} ms`)
        .join(', ')}`,
    );
  if (lines.length > 0) process.stderr.write(`${lines.join('\n')}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(jsonReport(result, command), null, 2)}\n`);
  return result.exitCode;
}

/** `dev`: the preview runs until SIGINT or SIGTERM, then stops its server and watchers (exit 0). */
async function runDevCommand(args: CliArguments): Promise<number> {
  const { runDev } = await import('./dev.ts');
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(name === 'SIGINT' ? 130 : 143);
    controller.abort(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runDev({
      sourceDir: args.sourceDir,
      port: args.port,
      json: args.json,
      quiet: args.quiet,
      verbose: args.verbose,
      allowRemoteImages: args.allowRemoteImages,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
