/**
 * `npm run dev`: watches the source folder and `templates/`, rebuilds the documents (stages read,
 * validate, convert and templates: no browser, nothing printed, nothing written) and serves them on
 * 127.0.0.1 with live reload (`lib/dev-server.ts`). A failed build shows its messages in the terminal
 * and over the page, and the last good build stays served until the errors are fixed.
 */
import { type Dirent, type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import path from 'node:path';
import type { VFile } from 'vfile';
import { sharedResources } from './05-print-pdfs.ts';
import { type BuildResult, runBuild } from './build.ts';
import type { Resource } from './lib/browser.ts';
import {
  type DevServer,
  mountOf,
  type Preview,
  type PreviewDocument,
  startDevServer,
} from './lib/dev-server.ts';
import { epochFor } from './lib/epoch.ts';
import { ExitCode } from './lib/errors.ts';
import type { BuildFiles } from './lib/model.ts';
import { collectMessages, formatHumanReport, formatMessages, jsonReport } from './lib/report.ts';
import { clearTemplateCache, templatesDir } from './lib/templates.ts';

/** The port `npm run dev` tries first, and how many after it when it is busy. */
export const defaultDevPort = 4173;
const portFallback = 10;
/** Changes closer together than this are one rebuild (an editor's save is often several events). */
const debounceMs = 60;

/** The reason given for the build at start (any other is the path of a change). */
const firstBuild = '(start)';

/** Options of {@link runDev}. */
export interface DevOptions {
  sourceDir: string;
  /** The port, or undefined for the default (and the next free ones when it is busy). */
  port: number | undefined;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  allowRemoteImages: boolean;
  /** Stops the server and the watchers. */
  signal: AbortSignal;
  /** Where the human lines go (stderr). */
  write?: (text: string) => void;
  /** Where `--json` reports go, one line each (stdout). */
  writeJson?: (text: string) => void;
}

/**
 * Whether to watch a tree with one recursive `fs.watch`: where the system does it natively (macOS,
 * Windows). On Linux, Node (20.13 and later) emulates it with a watcher per file, which loses a file
 * an editor saves by renaming a new copy over it (vim, `sed -i`, many IDEs): later saves go unseen.
 * A watcher per folder sees every change of the folder's entries, so Linux uses that on any version.
 */
export function recursiveWatchWorks(platform = process.platform): boolean {
  return platform === 'darwin' || platform === 'win32';
}

/**
 * Watches a folder and everything below it; calls `onChange` with the path of what changed. Without
 * recursive watching, each folder gets its own watcher, and new folders are picked up as they appear.
 */
export function watchTree(
  root: string,
  onChange: (file: string) => void,
  recursive = recursiveWatchWorks(),
): { close(): void } {
  if (recursive) {
    const watcher = watch(root, { recursive: true }, (_event, name) =>
      onChange(path.join(root, name ? String(name) : '')),
    );
    watcher.on('error', () => undefined);
    return { close: () => watcher.close() };
  }
  const watchers = new Map<string, FSWatcher>();
  const scan = (folder: string) => {
    if (!watchers.has(folder)) {
      try {
        const watcher = watch(folder, (_event, name) => {
          const changed = path.join(folder, name ? String(name) : '');
          rescan();
          onChange(changed);
        });
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(folder);
        });
        watchers.set(folder, watcher);
      } catch {
        return;
      }
    }
    let entries: Dirent[];
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) if (entry.isDirectory()) scan(path.join(folder, entry.name));
  };
  // New folders get a watcher; folders gone lose theirs.
  const rescan = () => {
    for (const [folder, watcher] of watchers) {
      try {
        readdirSync(folder);
      } catch {
        watcher.close();
        watchers.delete(folder);
      }
    }
    scan(root);
  };
  scan(root);
  if (!watchers.has(root)) throw Object.assign(new Error(`cannot watch ${root}`), { code: 'ENOENT' });
  return {
    close: () => {
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/** The documents of a good build, mounted as the preview serves them. */
export function previewOf(files: BuildFiles, generation: number): Preview {
  const shared = sharedResources(files);
  const pack = files.pack.data.pack;
  const titleOf = (id: string | undefined) =>
    files.briefings.find((file) => file.data.briefing?.id === id)?.data.briefing?.title ?? id ?? '';
  const documents: PreviewDocument[] = [];
  for (const document of files.documents) {
    const info = document.data.document;
    if (!info || info.target === 'epub') continue;
    const html = String(document.value);
    const pageCss = document.data.pageCss ?? '';
    documents.push({
      mount: mountOf(document),
      kind: info.target,
      label:
        info.target === 'pack'
          ? (pack?.title ?? 'The pack')
          : info.target === 'brief'
            ? (pack?.brief.title ?? 'The one-page brief')
            : titleOf(info.briefingId),
      // As the print stage answers the page that prints this document.
      resolve: (name) => {
        if (name === 'document.html') return { contentType: 'text/html; charset=utf-8', body: html };
        if (name === 'page.css') return { contentType: 'text/css', body: pageCss };
        return shared(name);
      },
    });
  }
  const epub = epubResolver(files);
  documents.push(
    { mount: '/epub/', href: '/epub/EPUB/index.xhtml', kind: 'epub', label: 'Title page', resolve: epub },
    { mount: '/epub/', href: '/epub/EPUB/nav.xhtml', kind: 'epub', label: 'Contents', resolve: epub },
  );
  return { generation, title: pack?.title ?? 'Briefing pack', documents };
}

const epubTypes: Record<string, string> = {
  '.xhtml': 'application/xhtml+xml; charset=utf-8',
  '.css': 'text/css',
  '.woff2': 'font/woff2',
  '.xml': 'application/xml',
  '.opf': 'application/oebps-package+xml',
};

/** The unzipped EPUB (`epub/…` as the build writes it), packaged on first request. */
function epubResolver(files: BuildFiles): (name: string) => Promise<Resource | undefined> {
  let entries: Promise<Map<string, { value: VFile['value']; mediaType: string }>> | undefined;
  const assets = new Map<string, string>();
  for (const briefing of files.briefings) {
    for (const asset of briefing.data.content?.assets ?? [])
      assets.set(`EPUB/${asset.href}`, asset.mediaType);
  }
  const packaged = async () => {
    const { packageEpub } = await import('./07-package-epub.ts');
    const built = await packageEpub(
      { ...files, outputs: [] },
      { epochSeconds: epochFor(files.pack.data.pack?.date) },
    );
    const map = new Map<string, { value: VFile['value']; mediaType: string }>();
    for (const output of built.outputs) {
      if (!output.path.startsWith('epub/')) continue;
      const name = output.path.slice('epub/'.length);
      const mediaType = assets.get(name) ?? epubTypes[path.extname(name)] ?? 'application/octet-stream';
      map.set(name, { value: output.value, mediaType });
    }
    return map;
  };
  return async (name) => {
    entries ??= packaged();
    const entry = (await entries).get(name);
    if (!entry || name === 'mimetype') return undefined;
    return {
      contentType: entry.mediaType,
      body: typeof entry.value === 'string' ? entry.value : new Uint8Array(entry.value),
    };
  };
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

/** Runs the preview until the signal aborts; returns the exit code. */
export async function runDev(options: DevOptions): Promise<number> {
  const write = options.write ?? ((text: string) => process.stderr.write(text));
  const writeJson = options.writeJson ?? ((text: string) => process.stdout.write(text));
  const sourceDir = path.resolve(options.sourceDir);
  if (!statSync(sourceDir, { throwIfNoEntry: false })?.isDirectory()) {
    write(`The source folder \`${options.sourceDir}\` does not exist or is not a folder.\n`);
    return ExitCode.usage;
  }

  let server: DevServer;
  try {
    server = await startDevServer({
      port: options.port ?? defaultDevPort,
      fallback: options.port === undefined ? portFallback : 0,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    write(
      code === 'EADDRINUSE'
        ? `Port ${options.port ?? `${defaultDevPort} to ${defaultDevPort + portFallback}`} on 127.0.0.1 ${options.port === undefined ? 'are' : 'is'} in use: stop what uses ${options.port === undefined ? 'them' : 'it'}, or choose another port with --port.\n`
        : `The preview server could not start: ${(error as Error).message}\n`,
    );
    return ExitCode.environment;
  }
  if (options.port === undefined && server.port !== defaultDevPort) {
    write(`Port ${defaultDevPort} is in use; using ${server.port}.\n`);
  }
  const shownSource = path.relative(process.cwd(), sourceDir) || '.';
  const shownTemplates = path.relative(process.cwd(), templatesDir) || templatesDir;
  write(`Preview at ${server.url} (watching ${shownSource}/ and ${shownTemplates}/; Ctrl+C to stop)\n`);

  let generation = 0;
  let current: AbortController | undefined;
  const buildOnce = async (): Promise<BuildResult> => {
    clearTemplateCache();
    current = new AbortController();
    try {
      return await runBuild({
        sourceDir,
        // Never touched: the build stops after the templates, before it locks the output folder.
        outDir: 'dist',
        mode: 'build',
        stopAfterTemplates: true,
        allowRemoteImages: options.allowRemoteImages,
        signal: current.signal,
        log: (line) => {
          if (options.verbose) write(`${line}\n`);
        },
      });
    } finally {
      current = undefined;
    }
  };
  const rebuild = async (reason: string) => {
    const started = performance.now();
    const result = await buildOnce();
    if (options.signal.aborted) return;
    const ms = Math.round(performance.now() - started);
    const messages = collectMessages(result.sources);
    const warnings = formatMessages(messages.filter((message) => message.severity === 'warning'));
    if (result.exitCode === ExitCode.ok && result.files) {
      generation += 1;
      server.serve(previewOf(result.files, generation));
      server.publish({ good: generation, errors: null, warnings });
      if (!options.quiet) {
        const lines = formatMessages(messages);
        lines.push(
          `[${clock()}] ${generation === 1 ? 'Built' : 'Rebuilt'} the preview in ${ms} ms${warnings.length > 0 ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}${options.verbose ? `: ${reason}` : ''}.`,
        );
        write(`${lines.join('\n')}\n`);
      }
    } else {
      const lines = formatHumanReport(result, 'check', { quiet: false });
      server.publish({ good: generation, errors: lines, warnings });
      write(
        `${[...formatHumanReport(result, 'check', { quiet: options.quiet }), `[${clock()}] The preview was not rebuilt (${ms} ms); ${generation > 0 ? 'still serving the last good build' : 'waiting for a build without errors'}.`].join('\n')}\n`,
      );
    }
    if (options.json) {
      // No output folder: the preview writes nothing.
      const { outDir: _unused, ...report } = jsonReport(result, 'check');
      writeJson(`${JSON.stringify({ ...report, command: 'dev' })}\n`);
    }
  };

  // One build at a time; changes during a build make one more build after it.
  let running: Promise<void> | undefined;
  let pending: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const trigger = (reason: string) => {
    if (running) {
      pending = reason;
      return;
    }
    running = (async () => {
      let next: string | undefined = reason;
      while (next !== undefined && !options.signal.aborted) {
        pending = undefined;
        try {
          await rebuild(next);
          // The second build of a process is several times slower than the ones after it (code
          // compiled on first use): build once more now, unseen, so the first edit shows quickly.
          if (next === firstBuild && pending === undefined && !options.allowRemoteImages) {
            const started = performance.now();
            await buildOnce();
            if (options.verbose) write(`Warmed up in ${Math.round(performance.now() - started)} ms.\n`);
          }
        } catch (error) {
          write(`The preview could not be rebuilt: ${(error as Error).message}\n`);
        }
        next = pending;
      }
      running = undefined;
    })();
  };
  const changed = (file: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => trigger(path.relative(process.cwd(), file) || file), debounceMs);
  };

  const watchers: Array<{ close(): void }> = [];
  try {
    watchers.push(watchTree(sourceDir, changed), watchTree(templatesDir, changed));
  } catch (error) {
    for (const watcher of watchers) watcher.close();
    await server.close();
    write(`Cannot watch the source folder \`${shownSource}\`: ${(error as Error).message}\n`);
    return ExitCode.usage;
  }

  trigger(firstBuild);
  await new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearTimeout(timer);
  for (const watcher of watchers) watcher.close();
  current?.abort(options.signal.reason);
  await running;
  await server.close();
  return ExitCode.ok;
}
