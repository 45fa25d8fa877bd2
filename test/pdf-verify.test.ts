import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  pdfBytesProblem,
  pdfProblem,
  qpdfChecksRunning,
  qpdfLibrary,
  qpdfScratchFolder,
} from '../pipeline/lib/pdf-verify.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { temporaryFolder } from './helpers.ts';

let folder: Awaited<ReturnType<typeof temporaryFolder>>;
let good: Uint8Array;

beforeAll(async () => {
  folder = await temporaryFolder();
  const document = await PDFDocument.create();
  document.addPage([200, 200]);
  good = await document.save();
});
afterAll(() => folder.remove());

/** Runs `work` with qpdf run as a program, as where its library does not load. */
async function withoutLibrary<T>(work: () => Promise<T>): Promise<T> {
  process.env.BRIEFING_PACK_QPDF_LIBRARY = 'off';
  try {
    return await work();
  } finally {
    delete process.env.BRIEFING_PACK_QPDF_LIBRARY;
  }
}

describe('pdfProblem', () => {
  it('runs qpdf --check on many files at once and tells each answer to its own file', async () => {
    const files = await Promise.all(
      Array.from({ length: 6 }, async (_, index) => {
        const file = path.join(folder.dir, `${index}.pdf`);
        // Every other file is cut short on disk, where only qpdf reads it.
        await writeFile(file, index % 2 === 0 ? good : good.subarray(0, 120));
        return file;
      }),
    );
    const problems = await Promise.all(files.map((file) => pdfProblem(file, good, { kind: 'pack-pdf' })));
    problems.forEach((problem, index) => {
      if (index % 2 === 0) expect(problem, files[index]).toBeUndefined();
      else expect(problem, files[index]).toMatch(/^fails qpdf --check: .*\S/);
    });
  });

  it('runs the checks in this process with qpdf’s library, with the same answers as the program', async () => {
    expect(await qpdfLibrary(), 'libqpdf, installed with qpdf, loads through koffi').toBeDefined();
    const damaged = new Uint8Array(good);
    // A stream's data cut out from under its length: qpdf finds it, pdf-lib does not look.
    damaged.set(new TextEncoder().encode('trailer<<>>'), good.length - 200);
    const contents = [good, good.subarray(0, 120), new TextEncoder().encode('not a PDF'), damaged];
    const files = await Promise.all(
      contents.map(async (bytes, index) => {
        const file = path.join(folder.dir, `same-${index}.pdf`);
        await writeFile(file, bytes);
        return file;
      }),
    );
    const answers = () => Promise.all(files.map((file) => pdfProblem(file, good, { kind: 'pack-pdf' })));
    const inProcess = await answers();
    const program = await withoutLibrary(answers);
    expect(inProcess).toEqual(program);
    expect(inProcess[0]).toBeUndefined();
    for (const answer of inProcess.slice(1)) expect(answer).toMatch(/^fails qpdf --check: .*\S/);
  });

  it('answers every check when the shell running qpdf stops in the middle', () =>
    withoutLibrary(async () => {
      const files = await Promise.all(
        Array.from({ length: 6 }, async (_, index) => {
          const file = path.join(folder.dir, `stopped-${index}.pdf`);
          await writeFile(file, index % 2 === 0 ? good : good.subarray(0, 120));
          return file;
        }),
      );
      const checking = Promise.all(files.map((file) => pdfProblem(file, good, { kind: 'pack-pdf' })));
      // The checks are sent; the shell that was to run them is killed before it can answer them all.
      execFileSync('pkill', ['-KILL', '-P', String(process.pid), '-x', 'sh']);
      const problems = await checking;
      problems.forEach((problem, index) => {
        if (index % 2 === 0) expect(problem, files[index]).toBeUndefined();
        else expect(problem, files[index]).toMatch(/^fails qpdf --check: .*\S/);
      });
      // The next check starts a new shell.
      expect(await pdfProblem(files[0] as string, good, { kind: 'pack-pdf' })).toBeUndefined();
    }));

  it('starts qpdf on bytes in memory before it returns, so the caller’s own work runs beside it', async () => {
    expect(await qpdfLibrary()).toBeDefined();
    expect(qpdfChecksRunning()).toBe(0);
    const checks = [pdfBytesProblem(good, { kind: 'pack-pdf' }), pdfBytesProblem(good, { kind: 'pack-pdf' })];
    // Nothing awaited yet: the first check already runs (the build reads the PDF's text meanwhile);
    // the second waits for it, as the library runs one check at a time.
    expect(qpdfChecksRunning()).toBe(1);
    expect(await Promise.all(checks)).toEqual([undefined, undefined]);
    expect(qpdfChecksRunning()).toBe(0);
  });

  it('writes the bytes for qpdf into one folder of its own, leaves no file there, and makes it again if removed', async () => {
    expect(await pdfBytesProblem(good, { kind: 'pack-pdf' })).toBeUndefined();
    const scratch = qpdfScratchFolder() as string;
    expect(scratch).toBeDefined();
    // In memory where Linux has it: creating a file there costs a fraction of creating one on disk.
    if (process.platform === 'linux' && existsSync('/dev/shm'))
      expect(path.dirname(scratch)).toBe('/dev/shm');
    expect(await pdfBytesProblem(good, { kind: 'pack-pdf' })).toBeUndefined();
    // The same folder for every check, empty once each is done.
    expect(qpdfScratchFolder()).toBe(scratch);
    expect(await readdir(scratch)).toEqual([]);
    await rm(scratch, { recursive: true });
    expect(await pdfBytesProblem(good, { kind: 'pack-pdf' })).toBeUndefined();
    expect(qpdfScratchFolder()).not.toBe(scratch);
    expect(await readdir(qpdfScratchFolder() as string)).toEqual([]);
  });

  // Mounting a small tmpfs on /dev/shm, in a mount namespace of its own, needs root (CI runs as root).
  it.skipIf(process.platform !== 'linux' || process.getuid?.() !== 0)(
    'moves its folder to the temporary folder when shared memory cannot take a copy, and still checks',
    () => {
      const script = path.join(projectRoot, 'test', 'support', 'verify-in-small-shm.ts');
      const run = spawnSync(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount -t tmpfs -o size=64k tmpfs /dev/shm && exec "$0" --import tsx "$1"',
          process.execPath,
          script,
        ],
        { cwd: projectRoot, encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      const seen = JSON.parse(run.stdout);
      expect(seen.largeBytes).toBeGreaterThan(64 * 1024);
      expect(path.dirname(seen.smallFolder)).toBe('/dev/shm');
      expect(path.dirname(seen.largeFolder)).toBe(seen.tmpdir);
      expect(seen.leftInSharedMemory).toEqual([]);
      // The checks themselves ran: nothing wrong with either PDF.
      expect([seen.smallProblem, seen.largeProblem, seen.afterProblem]).toEqual([null, null, null]);
      // Once on disk, it stays there; its folder is removed when the process exits.
      expect(seen.afterFolder).toBe(seen.largeFolder);
      expect(existsSync(seen.largeFolder)).toBe(false);
    },
  );

  it('checks the page count and the strict parse before qpdf', async () => {
    expect(await pdfBytesProblem(good, { kind: 'pack-pdf', pages: 2 })).toBe('has 1 pages, not 2');
    expect(await pdfBytesProblem(good, { kind: 'brief-pdf' })).toBeUndefined();
    expect(await pdfBytesProblem(new TextEncoder().encode('%PDF-1.7\n'), { kind: 'pack-pdf' })).toMatch(
      /^does not parse as a PDF/,
    );
  });
});
