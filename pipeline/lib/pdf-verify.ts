/**
 * The verification of a finished PDF: parsed strictly by pdf-lib with the expected page count (one
 * for a brief), and `qpdf --check` when qpdf is installed. The build runs it on each PDF as soon as it
 * is post-processed (while the browser prints the next); the write stage then only has to confirm that
 * each file as written has the digest of the bytes verified.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ArtifactKind } from './model.ts';
import { loadPdf } from './pdf-read.ts';

const execFileAsync = promisify(execFile);

let qpdfNotice = false;

/** Whether qpdf is installed; says once, through `log`, when it is not. */
export function qpdfAvailable(log?: (line: string) => void): boolean {
  const found = (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((folder) => folder && existsSync(path.join(folder, 'qpdf')));
  if (!found && !qpdfNotice) {
    qpdfNotice = true;
    log?.(
      'qpdf is not installed: PDFs are verified with pdf-lib only (sudo apt-get install -y qpdf for the full check).',
    );
  }
  return found;
}

/**
 * What is wrong with the PDF in `file` (its bytes `bytes`), or undefined when nothing is: it must
 * parse, have `pages` pages (one for a brief) and pass `qpdf --check`.
 */
export async function pdfProblem(
  file: string,
  bytes: Uint8Array,
  expected: { kind: ArtifactKind; pages?: number | undefined },
  log?: (line: string) => void,
): Promise<string | undefined> {
  let pages: number;
  try {
    pages = (await loadPdf(bytes)).getPageCount();
  } catch (cause) {
    return `does not parse as a PDF: ${(cause as Error).message}`;
  }
  if (expected.pages !== undefined && pages !== expected.pages)
    return `has ${pages} pages, not ${expected.pages}`;
  if ((expected.kind === 'brief-pdf' || expected.kind === 'briefing-brief-pdf') && pages !== 1)
    return `has ${pages} pages; a brief has one`;
  if (qpdfAvailable(log)) {
    try {
      await execFileAsync('qpdf', ['--check', file]);
    } catch (cause) {
      const stdout = (cause as { stdout?: string }).stdout ?? '';
      return `fails qpdf --check: ${stdout.trim().split('\n').slice(-2).join(' ')}`;
    }
  }
  return undefined;
}

/** {@link pdfProblem} for bytes in memory, written for qpdf to a temporary file of their own. */
export async function pdfBytesProblem(
  bytes: Uint8Array,
  expected: { kind: ArtifactKind; pages?: number | undefined },
  log?: (line: string) => void,
): Promise<string | undefined> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'briefing-pack-verify-'));
  try {
    const file = path.join(folder, 'document.pdf');
    await writeFile(file, bytes);
    return await pdfProblem(file, bytes, expected, log);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
