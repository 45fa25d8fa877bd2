/**
 * Pruning the build cache: entries unused for two weeks go, with their PDF; entries a build reads are
 * touched, so a prune that runs while the build goes on never takes one it uses.
 */
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BuildCache, Folders } from '../pipeline/lib/build-cache.ts';
import { temporaryFolder } from './helpers.ts';

const day = 24 * 3600 * 1000;

async function files(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const kind of await readdir(dir).catch(() => [] as string[])) {
    for (const shard of await readdir(path.join(dir, kind))) {
      for (const name of await readdir(path.join(dir, kind, shard))) found.push(`${kind}/${shard}/${name}`);
    }
  }
  return found.sort();
}

describe('BuildCache.prune', () => {
  it('removes entries unused for two weeks and stale temporary files, keeps the rest and what a build reads', async () => {
    const tmp = await temporaryFolder('briefing-pack-prune-');
    try {
      const cache = new BuildCache(tmp.dir);
      const pdf = { bytes: new Uint8Array([37, 80, 68, 70]), browserVersion: 'Chromium 1' };
      const artifact = { kind: 'briefing-pdf' as const, pages: 1 };
      for (const key of ['aa-old', 'ab-recent', 'ac-read']) await cache.put(key, { ...pdf, artifact });
      const now = Date.now();
      const age = async (file: string, days: number) => {
        const when = new Date(now - days * day);
        await utimes(path.join(tmp.dir, file), when, when);
      };
      await age('pdf/aa/aa-old.json', 15);
      await age('pdf/ab/ab-recent.json', 13);
      await age('pdf/ac/ac-read.json', 20);
      // A conversion entry, pruned the same way, and a temporary file a crashed write left.
      await mkdir(path.join(tmp.dir, 'convert', 'cd'), { recursive: true });
      await writeFile(path.join(tmp.dir, 'convert', 'cd', 'cd-old.json'), '{}');
      await age('convert/cd/cd-old.json', 30);
      await writeFile(path.join(tmp.dir, 'pdf', 'ab', 'ab-x.pdf.tmp'), '');
      await age('pdf/ab/ab-x.pdf.tmp', 1);

      // A build reads an old entry before the prune: it is touched, so it stays.
      expect(await cache.get('ac-read')).toBeDefined();
      await cache.prune(now);
      expect(await files(tmp.dir)).toEqual([
        'pdf/ab/ab-recent.json',
        'pdf/ab/ab-recent.pdf',
        'pdf/ac/ac-read.json',
        'pdf/ac/ac-read.pdf',
      ]);
    } finally {
      await tmp.remove();
    }
  });
});

describe('Folders and BuildCache.put', () => {
  it('makes each folder once, and again only once told to forget', async () => {
    const tmp = await temporaryFolder('briefing-pack-folders-');
    try {
      const folders = new Folders();
      const folder = path.join(tmp.dir, 'a', 'b');
      await folders.make(folder);
      expect((await stat(folder)).isDirectory()).toBe(true);
      await rm(folder, { recursive: true });
      // Made once: not asked of the file system again.
      await folders.make(folder);
      await expect(stat(folder)).rejects.toThrow();
      folders.forget();
      await folders.make(folder);
      expect((await stat(folder)).isDirectory()).toBe(true);
    } finally {
      await tmp.remove();
    }
  });

  it('stores entries again after its folder is removed while a build runs', async () => {
    const tmp = await temporaryFolder('briefing-pack-put-');
    try {
      const cache = new BuildCache(tmp.dir);
      const pdf = {
        bytes: new Uint8Array([37, 80, 68, 70]),
        browserVersion: 'Chromium 1',
        artifact: { kind: 'briefing-pdf' as const, pages: 1 },
      };
      await cache.put('aa-first', pdf);
      expect(await cache.get('aa-first')).toBeDefined();
      await rm(tmp.dir, { recursive: true });
      // This one is lost (a miss for the next build); the next is stored.
      await cache.put('aa-second', pdf);
      await cache.put('aa-third', pdf);
      expect(await cache.get('aa-third')).toBeDefined();
    } finally {
      await tmp.remove();
    }
  });
});
