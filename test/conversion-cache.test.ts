/**
 * The conversion cache on its own: a briefing converted once is taken from the cache the next time,
 * with the same content and warnings; an image that changed, or that is no longer a plain file inside
 * the source folder, sends the briefing back to conversion (and its checks); a damaged entry, a changed
 * tool or a briefing with an error is never served.
 */
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VFile } from 'vfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { convertBriefing } from '../pipeline/03-convert-markdown.ts';
import { ConversionCache } from '../pipeline/lib/conversion-cache.ts';
import { briefingMeta, temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
let source: string;
let cacheDir: string;

beforeEach(async () => {
  folder = await temporaryFolder();
  source = path.join(folder.dir, 'source');
  cacheDir = path.join(folder.dir, 'cache');
  await mkdir(path.join(source, 'briefings'), { recursive: true });
  await mkdir(path.join(source, 'assets'));
});
afterEach(async () => {
  await folder.remove();
});

/** A 1 × 1 PNG; `shade` changes its bytes (and so its digest-named file). */
function png(shade = 0): Buffer {
  const bytes = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  );
  // A private chunk after IEND would be ignored by a decoder, but changes the bytes and the digest.
  return shade === 0 ? bytes : Buffer.concat([bytes, Buffer.from([shade])]);
}

const body =
  'Intro <span>raw</span>.\n\n![A chart](../assets/chart.png)\n\n## Unpacked\n\n### Why?\n\nBecause.\n';

/** The briefing `sample` as the validate stage leaves it. */
function briefing(text = body): VFile {
  const header = '---\ntitle: T\n---\n';
  const file = new VFile({ path: path.join(source, 'briefings', 'sample.md'), value: header + text });
  file.data.briefing = briefingMeta('sample');
  file.data.bodyStart = { line: 4, offset: header.length };
  return file;
}

/** Converts `file` with a cache of tool `tool`, and waits for the entry to be written. */
async function convert(file: VFile, tool = 'tool-1'): Promise<ConversionCache> {
  const cache = new ConversionCache(cacheDir, tool, source);
  await convertBriefing(file, source, { cache });
  await cache.flush();
  return cache;
}

const report = (file: VFile) => file.messages.map((m) => `${m.line}:${m.column} ${m.ruleId} ${m.fatal}`);

describe('the conversion cache', () => {
  it('serves a briefing converted before: the same content, images and warnings', async () => {
    await writeFile(path.join(source, 'assets', 'chart.png'), png());
    const first = briefing();
    expect((await convert(first)).converted).toBe(1);
    expect(report(first)).toEqual(['4:7 raw-html false', '4:16 raw-html false']);

    const second = briefing();
    const cache = await convert(second);
    expect([cache.reused, cache.converted]).toEqual([1, 0]);
    expect(second.data.content).toEqual(first.data.content);
    expect(second.data.content?.assets[0]?.bytes).toEqual(new Uint8Array(png()));
    expect(report(second)).toEqual(report(first));
    expect(second.messages[0]?.reason).toBe(first.messages[0]?.reason);
  });

  it('converts again when the text changes, or the tool', async () => {
    await writeFile(path.join(source, 'assets', 'chart.png'), png());
    await convert(briefing());
    expect((await convert(briefing(`${body}\nMore.\n`))).converted).toBe(1);
    expect((await convert(briefing(), 'tool-2')).converted).toBe(1);
    expect((await convert(briefing())).reused).toBe(1);
  });

  it('converts again when an image changed, and names the new file', async () => {
    const chart = path.join(source, 'assets', 'chart.png');
    await writeFile(chart, png());
    const first = briefing();
    await convert(first);
    await writeFile(chart, png(7));
    const second = briefing();
    expect((await convert(second)).converted).toBe(1);
    expect(second.data.content?.assets[0]?.href).not.toBe(first.data.content?.assets[0]?.href);
    expect(second.data.content?.html).toContain(second.data.content?.assets[0]?.href);
  });

  it('converts again, and reports, an image that became a link or went missing', async () => {
    const chart = path.join(source, 'assets', 'chart.png');
    await writeFile(chart, png());
    await convert(briefing());
    await writeFile(path.join(folder.dir, 'outside.png'), png());
    await rm(chart);
    await symlink(path.join(folder.dir, 'outside.png'), chart);
    const linked = briefing();
    expect((await convert(linked)).converted).toBe(1);
    expect(report(linked)).toContain('6:1 image-not-a-file true');
    await rm(chart);
    const missing = briefing();
    expect((await convert(missing)).converted).toBe(1);
    expect(report(missing)).toContain('6:1 image-missing true');
  });

  it('does not keep a briefing with an error', async () => {
    const failed = briefing();
    const cache = await convert(failed);
    expect(report(failed)).toContain('6:1 image-missing true');
    expect(cache.converted).toBe(1);
    await writeFile(path.join(source, 'assets', 'chart.png'), png());
    expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
  });

  it('treats a damaged entry as a miss', async () => {
    await writeFile(path.join(source, 'assets', 'chart.png'), png());
    await convert(briefing());
    const shards = path.join(cacheDir, 'convert');
    const [shard] = await readdir(shards);
    const [name] = await readdir(path.join(shards, shard ?? ''));
    const entry = path.join(shards, shard ?? '', name ?? '');
    await writeFile(entry, (await readFile(entry, 'utf8')).replace('Because.', 'Because!'));
    const again = briefing();
    expect((await convert(again)).converted).toBe(1);
    expect(again.data.content?.html).toContain('Because.');
  });
});
