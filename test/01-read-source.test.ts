import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { VFile } from 'vfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { firstInvalidUtf8, maxBriefingBytes, readSource } from '../pipeline/01-read-source.ts';
import { UsageError } from '../pipeline/lib/errors.ts';
import { briefingText, temporaryFolder, writeSource } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  folder = await temporaryFolder();
});
afterEach(async () => {
  await folder.remove();
});

function errorsOf(file: VFile) {
  return file.messages.map((message) => `${message.line}:${message.column} ${message.ruleId}`);
}

describe('readSource', () => {
  it('reads pack.yaml and every briefing, sorted by file name', async () => {
    await writeSource(folder.dir, 'title: T\ndate: 2025-07-13\n', [
      { name: 'b-second', text: briefingText() },
      { name: 'a-first', text: briefingText() },
    ]);
    const files = await readSource({ sourceDir: folder.dir });
    expect(String(files.pack.value)).toContain('title: T');
    expect(files.briefings.map((file) => path.basename(file.path))).toEqual(['a-first.md', 'b-second.md']);
  });

  it('refuses a source folder that does not exist as wrong usage', async () => {
    await expect(readSource({ sourceDir: path.join(folder.dir, 'nope') })).rejects.toBeInstanceOf(UsageError);
  });

  it('reports a missing pack.yaml on the file', async () => {
    await mkdir(path.join(folder.dir, 'briefings'));
    const files = await readSource({ sourceDir: folder.dir });
    expect(errorsOf(files.pack)).toEqual(['1:1 missing-file']);
  });

  it('refuses a briefing that is a symbolic link, without reading its target', async () => {
    await writeSource(folder.dir, 'title: T\ndate: 2025-07-13\n', []);
    await writeFile(path.join(folder.dir, 'outside.md'), briefingText());
    await symlink(path.join(folder.dir, 'outside.md'), path.join(folder.dir, 'briefings', 'linked.md'));
    const files = await readSource({ sourceDir: folder.dir });
    expect(files.briefings).toHaveLength(1);
    expect(errorsOf(files.briefings[0] ?? files.pack)).toEqual(['1:1 not-a-file']);
    expect(files.briefings[0]?.value).toBe('');
  });

  it('refuses a FIFO named like a briefing without blocking on it', async () => {
    await writeSource(folder.dir, 'title: T\ndate: 2025-07-13\n', []);
    execFileSync('mkfifo', [path.join(folder.dir, 'briefings', 'pipe.md')]);
    const files = await readSource({ sourceDir: folder.dir });
    const pipe = files.briefings.find((file) => file.basename === 'pipe.md');
    expect(pipe && errorsOf(pipe)).toEqual(['1:1 not-a-file']);
  });

  it('refuses a briefing over the size cap', async () => {
    await writeSource(folder.dir, 'title: T\ndate: 2025-07-13\n', [
      { name: 'huge', text: briefingText({}, 'x'.repeat(maxBriefingBytes + 1)) },
    ]);
    const files = await readSource({ sourceDir: folder.dir });
    expect(errorsOf(files.briefings[0] ?? files.pack)).toEqual(['1:1 file-too-large']);
  });

  it('reports the line and column of the first byte that is not UTF-8', async () => {
    await writeSource(folder.dir, 'title: T\ndate: 2025-07-13\n', []);
    const bytes = Buffer.concat([
      Buffer.from('---\ntitle: Caf'),
      Buffer.from([0xe9]),
      Buffer.from('\n---\n'),
    ]);
    await writeFile(path.join(folder.dir, 'briefings', 'latin1.md'), bytes);
    const files = await readSource({ sourceDir: folder.dir });
    expect(errorsOf(files.briefings[0] ?? files.pack)).toEqual(['2:11 encoding']);
  });

  it('counts the column of a bad byte in UTF-16 code units, after a byte order mark, as editors do', async () => {
    await writeSource(folder.dir, 'title: T\ndate: 2025-07-13\n', []);
    const bytes = Buffer.concat([
      Buffer.from('\uFEFF---\ntitle: 😀'),
      Buffer.from([0xff]),
      Buffer.from('\n'),
    ]);
    await writeFile(path.join(folder.dir, 'briefings', 'emoji.md'), bytes);
    const files = await readSource({ sourceDir: folder.dir });
    expect(errorsOf(files.briefings[0] ?? files.pack)).toEqual(['2:10 encoding']);
  });

  it('drops a byte order mark so columns of the first line stay right', async () => {
    await writeSource(folder.dir, '\uFEFFtitle: T\ndate: 2025-07-13\n', []);
    const files = await readSource({ sourceDir: folder.dir });
    expect(String(files.pack.value).startsWith('title')).toBe(true);
  });
});

describe('firstInvalidUtf8', () => {
  it('accepts well-formed text in several scripts', () => {
    expect(firstInvalidUtf8(Buffer.from('Сергей Лавров, 김정은, naïve'))).toBeUndefined();
  });

  it('finds overlong encodings, surrogates and truncated sequences', () => {
    expect(firstInvalidUtf8(Uint8Array.from([0x41, 0xc0, 0xaf]))).toBe(1);
    expect(firstInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toBe(0);
    expect(firstInvalidUtf8(Uint8Array.from([0x41, 0x42, 0xe2, 0x82]))).toBe(2);
  });
});
