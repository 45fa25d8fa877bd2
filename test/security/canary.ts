/**
 * The oracles of the security tests, independent of the pipeline: a canary file outside every source
 * folder holding a random token that must never appear in an artifact, a canary HTTP server on
 * loopback that must never be asked for anything, and a sentinel path that a code payload would
 * create.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { pdfText } from '../helpers.ts';

const execFileAsync = promisify(execFile);

/** The canary: a token in files outside the source folder, and a server that logs every request. */
export interface Canary {
  token: string;
  /** Folder of the canary files (outside every source folder). */
  dir: string;
  /** A text file holding the token. */
  secretFile: string;
  /** An SVG image holding the token, so an image read from outside would carry it into an artifact. */
  secretSvg: string;
  /** A PNG image holding the token in a text chunk. */
  secretPng: string;
  /** The port of the canary server on 127.0.0.1. */
  port: number;
  /** Every request the server received (method and path). */
  requests: string[];
  /** Where a code payload would write; must never exist. */
  sentinel: string;
  close(): Promise<void>;
}

/** A valid 1×1 PNG with a `tEXt` chunk holding `text` (CRC of the chunk left unchecked by readers). */
function pngWithText(text: string): Buffer {
  const base = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  );
  const data = Buffer.from(`Comment\0${text}`, 'latin1');
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write('tEXt', 4, 'latin1');
  data.copy(chunk, 8);
  // The IHDR chunk ends at byte 33; put the text chunk right after it.
  return Buffer.concat([base.subarray(0, 33), chunk, base.subarray(33)]);
}

/** Starts the canary server and writes the canary files into `dir`. */
export async function startCanary(dir: string): Promise<Canary> {
  const token = `CANARY${randomBytes(12).toString('hex').toUpperCase()}`;
  await mkdir(dir, { recursive: true });
  const secretFile = path.join(dir, 'secret.txt');
  const secretSvg = path.join(dir, 'secret.svg');
  const secretPng = path.join(dir, 'secret.png');
  await writeFile(secretFile, `${token}\n`);
  await writeFile(
    secretSvg,
    `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="0" y="30">${token}</text></svg>\n`,
  );
  await writeFile(secretPng, pngWithText(token));
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    // Answers as a real attacker's server would: with the token, in an image if asked for one.
    response.writeHead(200, { 'content-type': 'image/svg+xml' });
    response.end(`<svg xmlns="http://www.w3.org/2000/svg"><text>${token}</text></svg>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    token,
    dir,
    secretFile,
    secretSvg,
    secretPng,
    port,
    requests,
    sentinel: path.join(dir, 'SENTINEL-code-ran'),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Every file under a folder, as absolute paths. */
export async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.push(full);
    }
  };
  await walk(dir);
  return files.sort();
}

/** A PDF's bytes with every stream decompressed (qpdf), so text and images inside can be searched. */
async function uncompressedPdf(file: string): Promise<Buffer> {
  const target = `${file}.uncompressed`;
  try {
    await execFileAsync('qpdf', ['--stream-data=uncompress', '--object-streams=disable', file, target]);
    return await readFile(target);
  } finally {
    await rm(target, { force: true });
  }
}

/**
 * The files of an output folder in which the token appears: in the raw bytes of any file (as ASCII,
 * UTF-16 or hex, as PDFs may write text), in every entry of an EPUB (unzipped), in a PDF with its
 * streams decompressed, or in the text pdftotext extracts from a PDF.
 */
export async function filesLeakingToken(outDir: string, token: string): Promise<string[]> {
  const forms = [
    Buffer.from(token, 'latin1'),
    Buffer.from(token, 'utf16le'),
    Buffer.from(Buffer.from(token, 'utf16le').swap16()),
    Buffer.from(Buffer.from(token, 'latin1').toString('hex'), 'latin1'),
    Buffer.from(Buffer.from(token, 'latin1').toString('hex').toUpperCase(), 'latin1'),
  ];
  const leaking: string[] = [];
  for (const file of await listFiles(outDir)) {
    const bytes = await readFile(file);
    const contains = (haystack: Uint8Array) => forms.some((form) => Buffer.from(haystack).includes(form));
    let found = contains(bytes);
    if (!found && file.endsWith('.epub')) found = Object.values(unzipSync(bytes)).some(contains);
    if (!found && file.endsWith('.pdf'))
      found = contains(await uncompressedPdf(file)) || (await pdfText(file)).includes(token);
    if (found) leaking.push(path.relative(outDir, file));
  }
  return leaking;
}
