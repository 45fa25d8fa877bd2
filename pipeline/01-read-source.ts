/**
 * Stage 1: read the source folder — `pack.yaml` and `briefings/*.md` — into files.
 *
 * Only regular files directly in the expected places are read; symbolic links, devices and oversized
 * files are refused with a message, so nothing outside the source folder is ever opened here.
 */
import { lstatSync, readFileSync } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { VFile } from 'vfile';
import { UsageError } from './lib/errors.ts';
import { error } from './lib/messages.ts';
import type { BuildFiles } from './lib/model.ts';

/** Largest `pack.yaml` read, in bytes. */
export const maxPackBytes = 256 * 1024;
/** Largest briefing file read, in bytes. */
export const maxBriefingBytes = 2 * 1024 * 1024;

/** Options of {@link readSource}. */
export interface ReadSourceOptions {
  /** The source folder, absolute or relative to the working directory. */
  sourceDir: string;
}

/** Reads `pack.yaml` and every `briefings/*.md` of the source folder. */
export async function readSource(options: ReadSourceOptions): Promise<BuildFiles> {
  const sourceDir = await resolveSourceDir(options.sourceDir);
  const pack = await readTextFile(path.join(sourceDir, 'pack.yaml'), maxPackBytes, 'pack.yaml');

  const briefingsDir = path.join(sourceDir, 'briefings');
  const names = await listBriefingNames(briefingsDir, pack);
  const briefings = await Promise.all(
    names.map((name) => readTextFile(path.join(briefingsDir, name), maxBriefingBytes, 'briefing')),
  );
  return { sourceDir, pack, briefings, documents: [], outputs: [] };
}

async function resolveSourceDir(sourceDir: string): Promise<string> {
  const absolute = path.resolve(sourceDir);
  const info = await stat(absolute).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new UsageError(`The source folder \`${sourceDir}\` does not exist or is not a folder.`);
  }
  return realpath(absolute);
}

async function listBriefingNames(briefingsDir: string, pack: VFile): Promise<string[]> {
  // A linked `briefings` folder would let the build read Markdown from anywhere on the machine.
  if ((await lstat(briefingsDir).catch(() => undefined))?.isSymbolicLink()) {
    error(
      pack,
      'Unexpected `briefings` folder that is a symbolic link, expected a real folder inside the source folder; copy the briefings into it',
      { ruleId: 'not-a-file' },
    );
    return [];
  }
  const entries = await readdir(briefingsDir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) {
    if (pack.messages.length === 0) {
      error(pack, 'Unexpected source without a `briefings` folder, expected one beside `pack.yaml`', {
        ruleId: 'missing-briefings-folder',
      });
    }
    return [];
  }
  return entries
    .filter((entry) => entry.name.endsWith('.md') && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

/** The file's own status (a link is not followed), or undefined when it cannot be read. */
function lstatOrUndefined(filePath: string) {
  try {
    return lstatSync(filePath, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * Reads one source file as UTF-8 text. Problems (missing, not a regular file, too large, not UTF-8)
 * become messages on the returned file, whose value is then empty.
 */
async function readTextFile(
  filePath: string,
  maxBytes: number,
  what: 'pack.yaml' | 'briefing',
): Promise<VFile> {
  const file = new VFile({ path: filePath, value: '' });
  // Synchronous: a build reads its source with nothing else to do, and each asynchronous call is a
  // trip to Node's thread pool (reading 100 briefings took 50-70 ms so, about 10 ms without).
  const info = lstatOrUndefined(filePath);
  if (!info) {
    const reason =
      what === 'pack.yaml'
        ? 'Unexpected source folder without `pack.yaml`, expected one beside `briefings/`; create it with at least `title` and `date`'
        : `Unexpected missing \`${path.basename(filePath)}\`, expected the briefing file here; check that nothing else moves files in \`briefings/\``;
    error(file, reason, { ruleId: 'missing-file' });
    return file;
  }
  if (!info.isFile()) {
    const kind = info.isSymbolicLink() ? 'symbolic link' : 'folder, device or pipe';
    error(file, `Unexpected ${kind}, expected a regular file; copy the file itself into the source folder`, {
      ruleId: 'not-a-file',
    });
    return file;
  }
  if (info.size > maxBytes) {
    // Just over the cap, both round alike; the exact size then says why.
    const [size, cap] = [formatBytes(info.size), formatBytes(maxBytes)];
    error(
      file,
      `Unexpected file of ${size === cap ? `${info.size} bytes` : size}, expected at most ${cap}; split it into several briefings or shorten it`,
      { ruleId: 'file-too-large' },
    );
    return file;
  }
  const bytes = readFileSync(filePath);
  let text: string;
  try {
    // The native decoder checks the bytes fast; the slow search for the bad byte runs only on failure.
    text = utf8.decode(bytes);
  } catch {
    const place = positionOfByte(bytes, firstInvalidUtf8(bytes) ?? 0);
    error(file, 'Unexpected byte that is not UTF-8; save the file as UTF-8', { ruleId: 'encoding', place });
    return file;
  }
  // A byte order mark is harmless but would otherwise shift every column of the first line.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  file.value = text;
  return file;
}

/** Fails on the first malformed sequence; keeps a byte order mark, which `readTextFile` drops itself. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** Index of the first byte that does not belong to a well-formed UTF-8 sequence, if any. */
export function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index] ?? 0;
    let length: number;
    let min: number;
    if (lead < 0x80) {
      index += 1;
      continue;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
      min = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      min = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      min = 0x10000;
    } else {
      return index;
    }
    if (index + length > bytes.length) return index;
    let codePoint = lead & (0xff >> (length + 1));
    for (let offset = 1; offset < length; offset++) {
      const next = bytes[index + offset] ?? 0;
      if ((next & 0xc0) !== 0x80) return index;
      codePoint = (codePoint << 6) | (next & 0x3f);
    }
    if (codePoint < min || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return index;
    index += length;
  }
  return undefined;
}

/**
 * 1-based line and column of a byte, the column counted in UTF-16 code units of the valid text before
 * it, as every other position of the reporter is (and as editors count).
 */
function positionOfByte(bytes: Uint8Array, byteIndex: number): { line: number; column: number } {
  const before = Buffer.from(bytes.subarray(0, byteIndex))
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  const lines = before.split('\n');
  const last = lines.at(-1) ?? '';
  return { line: lines.length, column: last.length + 1 };
}
