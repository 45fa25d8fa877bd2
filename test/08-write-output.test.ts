import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { VFile } from 'vfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeOutput } from '../pipeline/08-write-output.ts';
import { EnvironmentError } from '../pipeline/lib/errors.ts';
import type { BuildFiles } from '../pipeline/lib/model.ts';
import { exchangeFolders, lockOutputFolder, lockPath } from '../pipeline/lib/output-folder.ts';
import { temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  folder = await temporaryFolder();
});
afterEach(async () => {
  await folder.remove();
});

function build(outputs: VFile[]): BuildFiles {
  const pack = new VFile({ path: '/s/pack.yaml', value: '' });
  pack.data.pack = {
    title: 'T',
    date: '2025-07-13',
    language: 'en',
    paper: 'A4',
    marking: 'OFFICIAL',
    markings: [],
    briefingIds: ['b', 'a'],
    brief: { title: 'T', briefingIds: [] },
  };
  return { sourceDir: '/s', pack, briefings: [], documents: [], outputs };
}

const options = (outDir: string) => ({ outDir, epochSeconds: 1752364800, browserVersion: 'Chromium 1' });

/** A real PDF of `pages` blank pages: the stage verifies what it writes. */
async function pdf(pages: number, title: string): Promise<Uint8Array> {
  const document = await PDFDocument.create({ updateMetadata: false });
  document.setTitle(title);
  for (let page = 0; page < pages; page++) document.addPage();
  return document.save();
}

describe('writeOutput', () => {
  it('writes the files, SHA256SUMS and a manifest in pack order', async () => {
    const outDir = path.join(folder.dir, 'dist');
    const manifest = await writeOutput(
      build([
        new VFile({
          path: 'briefings/a.pdf',
          value: await pdf(1, 'a'),
          data: { artifact: { kind: 'briefing-pdf', briefingId: 'a', pages: 1 } },
        }),
        new VFile({
          path: 'briefings/b.pdf',
          value: await pdf(1, 'b'),
          data: { artifact: { kind: 'briefing-pdf', briefingId: 'b', pages: 1 } },
        }),
        new VFile({
          path: 'pack.pdf',
          value: await pdf(2, 'pack'),
          data: { artifact: { kind: 'pack-pdf', pages: 2 } },
        }),
        new VFile({ path: 'epub/mimetype', value: 'application/epub+zip' }),
      ]),
      options(outDir),
    );
    expect(manifest.artifacts.map((artifact) => artifact.path)).toEqual([
      'pack.pdf',
      'briefings/b.pdf',
      'briefings/a.pdf',
    ]);
    expect(manifest).toMatchObject({
      sourceDateEpoch: 1752364800,
      pack: { title: 'T', marking: 'OFFICIAL' },
    });
    const written = JSON.parse(await readFile(path.join(outDir, 'manifest.json'), 'utf8'));
    expect(written).toEqual(manifest);
    const sums = await readFile(path.join(outDir, 'SHA256SUMS'), 'utf8');
    const digest = createHash('sha256').update(Buffer.from('application/epub+zip')).digest('hex');
    expect(sums).toContain(`${digest}  epub/mimetype`);
  });

  it('replaces the previous output folder whole, leaving nothing beside it', async () => {
    const outDir = path.join(folder.dir, 'dist');
    await mkdir(outDir);
    await writeFile(path.join(outDir, 'stale.pdf'), 'old');
    await writeOutput(
      build([
        new VFile({
          path: 'pack.pdf',
          value: await pdf(1, 'new'),
          data: { artifact: { kind: 'pack-pdf', pages: 1 } },
        }),
      ]),
      options(outDir),
    );
    expect((await readdir(outDir)).sort()).toEqual(['SHA256SUMS', 'manifest.json', 'pack.pdf']);
    expect(await readdir(folder.dir)).toEqual(['dist']);
  });

  it('refuses to swap in a PDF whose page count is not what was built', async () => {
    const outDir = path.join(folder.dir, 'dist');
    await mkdir(outDir);
    await writeFile(path.join(outDir, 'pack.pdf'), 'old');
    const wrong = new VFile({
      path: 'brief.pdf',
      value: await pdf(2, 'brief'),
      data: { artifact: { kind: 'brief-pdf', pages: 2 } },
    });
    await expect(writeOutput(build([wrong]), options(outDir))).rejects.toThrow(
      /`brief\.pdf` as written has 2 pages; a brief has one/,
    );
    expect(await readdir(outDir)).toEqual(['pack.pdf']);
    expect(await readdir(folder.dir)).toEqual(['dist']);
  });

  it('refuses to swap in a file whose bytes on disk are not what was built', async () => {
    const outDir = path.join(folder.dir, 'dist');
    await mkdir(outDir);
    await writeFile(path.join(outDir, 'pack.pdf'), 'old');
    const bytes = await pdf(1, 'pack');
    const output = new VFile({
      path: 'pack.pdf',
      value: bytes,
      data: { artifact: { kind: 'pack-pdf', pages: 1 } },
    });
    const writing = writeOutput(build([output]), options(outDir));
    // The manifest took its digest when the write began; the bytes change before they reach the disk.
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] ?? 0) ^ 1;
    await expect(writing).rejects.toThrow('`pack.pdf` as written does not match what was built');
    expect(await readdir(outDir)).toEqual(['pack.pdf']);
    expect(await readdir(folder.dir)).toEqual(['dist']);
  });

  it('leaves the previous output exactly as it was when writing fails', async () => {
    const outDir = path.join(folder.dir, 'dist');
    await mkdir(outDir);
    await writeFile(path.join(outDir, 'pack.pdf'), 'old');
    // A file and a folder of the same name cannot both be written: the write fails midway.
    const clash = [new VFile({ path: 'x', value: 'file' }), new VFile({ path: 'x/y', value: 'inside' })];
    await expect(writeOutput(build(clash), options(outDir))).rejects.toThrow();
    expect(await readdir(outDir)).toEqual(['pack.pdf']);
    expect(await readFile(path.join(outDir, 'pack.pdf'), 'utf8')).toBe('old');
    expect(await readdir(folder.dir)).toEqual(['dist']);
  });

  it('writes while the last checks run, and swaps nothing in until they pass', async () => {
    const outDir = path.join(folder.dir, 'dist');
    await mkdir(outDir);
    await writeFile(path.join(outDir, 'pack.pdf'), 'old');
    const built = () =>
      pdf(1, 'new').then((bytes) =>
        build([
          new VFile({ path: 'pack.pdf', value: bytes, data: { artifact: { kind: 'pack-pdf', pages: 1 } } }),
        ]),
      );
    let pass: () => void = () => undefined;
    const passing = new Promise<void>((resolve) => {
      pass = resolve;
    });
    const writing = writeOutput(await built(), { ...options(outDir), checks: passing });
    // The files are written into the staging folder beside the output, which stays as it was.
    await expect
      .poll(async () => (await readdir(folder.dir)).length, { timeout: 5_000, interval: 20 })
      .toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await readFile(path.join(outDir, 'pack.pdf'), 'utf8')).toBe('old');
    pass();
    await writing;
    expect((await readdir(outDir)).sort()).toEqual(['SHA256SUMS', 'manifest.json', 'pack.pdf']);

    // A check that fails: the error is the check's, the output is left as it was, no staging remains.
    const before = await readFile(path.join(outDir, 'pack.pdf'));
    const failing = Promise.reject(new Error('pack.pdf fails qpdf --check'));
    failing.catch(() => undefined);
    await expect(writeOutput(await built(), { ...options(outDir), checks: failing })).rejects.toThrow(
      'pack.pdf fails qpdf --check',
    );
    expect(await readFile(path.join(outDir, 'pack.pdf'))).toEqual(before);
    expect(await readdir(folder.dir)).toEqual(['dist']);
  });
});

describe('lockOutputFolder', () => {
  it('refuses a second build on the same folder while the first holds the lock', async () => {
    const outDir = path.join(folder.dir, 'dist');
    const lock = await lockOutputFolder(outDir);
    await expect(lockOutputFolder(outDir)).rejects.toBeInstanceOf(EnvironmentError);
    await lock.release();
    const again = await lockOutputFolder(outDir);
    await again.release();
  });

  it('takes over a lock left by a process that is gone', async () => {
    const outDir = path.join(folder.dir, 'dist');
    await writeFile(lockPath(outDir), '999999999\n');
    const lock = await lockOutputFolder(outDir);
    await lock.release();
  });
});

describe('exchangeFolders', () => {
  it.runIf(process.platform === 'linux')(
    'swaps two folders in one step, and declines when one is missing',
    async () => {
      const a = path.join(folder.dir, 'a');
      const b = path.join(folder.dir, 'b');
      await mkdir(a);
      await mkdir(b);
      await writeFile(path.join(a, 'which'), 'a');
      await writeFile(path.join(b, 'which'), 'b');
      expect(await exchangeFolders(a, b)).toBe(true);
      expect(await readFile(path.join(a, 'which'), 'utf8')).toBe('b');
      expect(await readFile(path.join(b, 'which'), 'utf8')).toBe('a');
      expect(await exchangeFolders(a, path.join(folder.dir, 'missing'))).toBe(false);
      expect(await readFile(path.join(a, 'which'), 'utf8')).toBe('b');
    },
  );
});
