/**
 * Test helpers: source folders written to a temporary folder, the real CLI as a child process, and
 * the real tools (poppler's pdftotext, pdfinfo, pdffonts; qpdf; epubcheck) to read artifacts as a
 * reader would.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { VFile } from 'vfile';
import { type BrowserSession, loadDocument } from '../pipeline/lib/browser.ts';
import { fontFaceByFileName, fontFaceCss, fontFaces, readFontFile } from '../pipeline/lib/fonts.ts';
import type { BriefingMeta } from '../pipeline/lib/model.ts';
import { projectRoot } from '../pipeline/lib/project.ts';

const execFileAsync = promisify(execFile);

/**
 * Prints an HTML document with the real browser, as stage 5 would: `fonts.css` in it loads the
 * bundled fonts (from `fonts/`).
 */
export async function printHtml(session: BrowserSession, html: string): Promise<Uint8Array> {
  const loaded = await loadDocument(session, {
    documentPath: 'document.html',
    resolve: (file) => {
      if (file === 'document.html') return { contentType: 'text/html', body: html };
      if (file === 'fonts.css') return { contentType: 'text/css', body: fontFaceCss(fontFaces, 'fonts/') };
      const face = fontFaceByFileName(file.replace('fonts/', ''));
      return face ? { contentType: 'font/woff2', body: readFontFile(face) } : undefined;
    },
  });
  try {
    return await loaded.print();
  } finally {
    await loaded.close();
  }
}

/** A briefing's header as the validate stage leaves it: an id and a title, the rest empty. */
export function briefingMeta(id: string, title = 'T'): BriefingMeta {
  return {
    id,
    title,
    date: '2025-07-13',
    summary: 'S',
    keyPoints: [],
    tags: [],
    regions: [],
    authors: [],
    sources: [],
  };
}

/** A briefing to write into a test source folder. */
export interface TestBriefing {
  /** File name without `.md`. */
  name: string;
  /** The whole file, front matter included. */
  text: string;
}

/** A minimal valid briefing file. */
export function briefingText(
  fields: Record<string, string> = {},
  body = 'A paragraph of the body.\n',
): string {
  const front = {
    title: 'A briefing',
    date: '2025-07-13',
    summary: 'A summary of the briefing.',
    ...fields,
  };
  const lines = Object.entries(front).map(([key, value]) => `${key}: ${value}`);
  return `---\n${lines.join('\n')}\n---\n\n${body}`;
}

/** Makes a temporary folder that is removed by the returned function. */
export async function temporaryFolder(
  prefix = 'briefing-pack-test-',
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes a source folder: `pack.yaml`, `briefings/*.md` and any extra files (paths relative to it). */
export async function writeSource(
  dir: string,
  pack: string,
  briefings: TestBriefing[],
  extra: Record<string, string | Uint8Array> = {},
): Promise<string> {
  await mkdir(path.join(dir, 'briefings'), { recursive: true });
  await writeFile(path.join(dir, 'pack.yaml'), pack);
  for (const briefing of briefings)
    await writeFile(path.join(dir, 'briefings', `${briefing.name}.md`), briefing.text);
  for (const [name, value] of Object.entries(extra)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), value);
  }
  return dir;
}

/** A VFile as stage 1 would make it, for testing later stages on their own. */
export function sourceFile(filePath: string, value: string): VFile {
  return new VFile({ path: filePath, value });
}

/** The result of running the CLI. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real command line (`node scripts/run.mjs <args>`, of this project or a copy) as a child process. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; project?: string } = {},
): Promise<CliRun> {
  const script = path.join(options.project ?? projectRoot, 'scripts', 'run.mjs');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd ?? projectRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Text of a PDF (or one page of it) as poppler's pdftotext extracts it: `layout` keeps table rows on a
 * line, `raw` reads in content order and keeps line-end hyphens.
 */
export async function pdfText(
  file: string,
  page?: number,
  options: { layout?: boolean; raw?: boolean } = {},
): Promise<string> {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  // -raw keeps a hyphen at the end of a line (`dual-` / `use`), which the default mode drops.
  const layout = options.layout ? ['-layout'] : options.raw ? ['-raw'] : [];
  const { stdout } = await execFileAsync('pdftotext', [...range, ...layout, '-enc', 'UTF-8', file, '-'], {
    maxBuffer: 64 << 20,
  });
  return stdout;
}

/** `pdfinfo` fields of a PDF. */
export async function pdfInfo(file: string): Promise<Record<string, string>> {
  const { stdout } = await execFileAsync('pdfinfo', [file]);
  const fields: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^([^:]+):\s*(.*)$/.exec(line);
    if (match?.[1]) fields[match[1].trim()] = (match[2] ?? '').trim();
  }
  return fields;
}

/** Font names `pdffonts` lists for a PDF, with whether each is embedded. */
export async function pdfFonts(file: string): Promise<Array<{ name: string; embedded: boolean }>> {
  const { stdout } = await execFileAsync('pdffonts', [file]);
  return stdout
    .split('\n')
    .slice(2)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const columns = line.trim().split(/\s+/);
      const name = columns[0] ?? '';
      // Columns from the right: object id, generation, uni, sub, emb.
      const embedded = columns.at(-5) === 'yes';
      return { name, embedded };
    });
}

/** Runs `qpdf --check`; resolves with its output, rejects when qpdf finds errors. */
export async function qpdfCheck(file: string): Promise<string> {
  const { stdout } = await execFileAsync('qpdf', ['--check', file]);
  return stdout;
}

/** Collapses whitespace, so text broken across lines by the layout compares equal. */
export function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Reads a file as JSON. */
export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

/** One message of an epubcheck report. */
export interface EpubcheckMessage {
  ID: string;
  severity: 'FATAL' | 'ERROR' | 'WARNING' | 'USAGE' | 'INFO';
  message: string;
  locations: Array<{ path: string; line: number; column: number }>;
}

/** What epubcheck says about an EPUB (its `--json` report, with the exit code and stderr). */
export interface EpubcheckReport {
  exitCode: number;
  stderr: string;
  checker: { nFatal: number; nError: number; nWarning: number; nUsage: number };
  publication: { nSpines: number };
  messages: EpubcheckMessage[];
}

function onPath(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(folder, name);
    if (folder && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function isJar(file: string): boolean {
  const descriptor = openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    readSync(descriptor, head, 0, 2, 0);
    return head.toString('latin1') === 'PK';
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Runs epubcheck on an EPUB and returns its JSON report. Debian's `/usr/bin/epubcheck` is the jar
 * itself, run through binfmt_misc where the kernel has it; containers often do not, so a jar is run
 * with `java -jar`.
 */
export async function epubcheck(file: string): Promise<EpubcheckReport> {
  const executable = onPath('epubcheck');
  if (!executable) throw new Error('epubcheck is not installed: sudo apt-get install -y epubcheck');
  const folder = await temporaryFolder('briefing-pack-epubcheck-');
  try {
    const reportFile = path.join(folder.dir, 'report.json');
    const [command, args] = isJar(executable)
      ? ['java', ['-jar', executable, file, '--json', reportFile]]
      : [executable, [file, '--json', reportFile]];
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      execFile(command, args, { maxBuffer: 64 << 20 }, (error, _stdout, stderrText) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: error ? Number(error.code) : 0, stderr: String(stderrText) });
      });
    });
    if (!existsSync(reportFile)) throw new Error(`epubcheck wrote no report (exit ${code}): ${stderr}`);
    const report = await readJson<Omit<EpubcheckReport, 'exitCode' | 'stderr'>>(reportFile);
    return { ...report, exitCode: code, stderr };
  } finally {
    await folder.remove();
  }
}

/** An epubcheck message on one line: severity, id, the first locations and the text. */
export function formatEpubcheckMessage(message: EpubcheckMessage): string {
  const where = message.locations
    .slice(0, 3)
    .map((location) => `${location.path}:${location.line}:${location.column}`)
    .join(', ');
  const more = message.locations.length > 3 ? ` (+${message.locations.length - 3} more)` : '';
  return `${message.severity} ${message.ID} ${where}${more}: ${message.message}`;
}

/** Every file under a folder with its sha256, to prove a folder did not change. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    result[path.relative(dir, full)] = createHash('sha256')
      .update(await readFile(full))
      .digest('hex');
  }
  return result;
}
