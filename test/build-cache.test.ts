/**
 * The build cache, end to end through the real command line on a copy of the project (so a template
 * and a font can be changed without touching the project): a rebuild with no change launches no
 * browser and writes nothing; an edited briefing reprints only what shows it; a changed template, font
 * or option reprints everything it reaches; a damaged entry is a miss; and what the cache serves is
 * byte for byte what a build without it makes.
 */
import { cp, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../pipeline/08-write-output.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { generatePack } from '../scripts/generate-pack.ts';
import { runCli, temporaryFolder } from './helpers.ts';

interface Report {
  exitCode: number;
  timings: Record<string, number>;
  cache?: { upToDate: boolean; printed: number; reused: number };
  manifest?: Manifest;
  failure?: string;
}

let tmp: { dir: string; remove: () => Promise<void> };
let project: string;
let sourceDir: string;
let outDir: string;
let cacheDir: string;

/** Copies the project's code into `project`, with node_modules linked but one font package copied. */
async function copyProject(): Promise<void> {
  for (const name of ['pipeline', 'templates', 'schemas', 'scripts', 'package.json', 'package-lock.json']) {
    // Timestamps kept: a package-lock newer than node_modules would make the copy run `npm ci`.
    await cp(path.join(projectRoot, name), path.join(project, name), {
      recursive: true,
      preserveTimestamps: true,
    });
  }
  const modules = path.join(project, 'node_modules');
  await mkdir(path.join(modules, '@fontsource'), { recursive: true });
  for (const name of await readdir(path.join(projectRoot, 'node_modules'))) {
    if (name === '@fontsource') continue;
    await symlink(path.join(projectRoot, 'node_modules', name), path.join(modules, name));
  }
  for (const name of await readdir(path.join(projectRoot, 'node_modules', '@fontsource'))) {
    const from = path.join(projectRoot, 'node_modules', '@fontsource', name);
    const to = path.join(modules, '@fontsource', name);
    if (name === 'source-serif-4') await cp(from, to, { recursive: true, preserveTimestamps: true });
    else await symlink(from, to);
  }
}

async function build(
  options: { env?: NodeJS.ProcessEnv; out?: string; cache?: boolean } = {},
): Promise<Report> {
  const cache = options.cache === false ? ['--no-cache'] : ['--cache', cacheDir];
  const out = options.out ?? outDir;
  const run = await runCli(['build', '--source', sourceDir, '--out', out, ...cache, '--json'], {
    project,
    env: { BRIEFING_PACK_CACHE: '', ...options.env },
  });
  const report = JSON.parse(run.stdout) as Report;
  expect(report.failure, run.stderr).toBeUndefined();
  expect(run.code, run.stderr).toBe(0);
  return report;
}

/** Each artifact's digest by path. */
function digests(manifest: Manifest | undefined): Record<string, string> {
  return Object.fromEntries((manifest?.artifacts ?? []).map((artifact) => [artifact.path, artifact.sha256]));
}

const briefingPdf = (id: string) => `briefings/${id}.pdf`;

/** Overwrites the cache entry (or entries) holding these PDF bytes; returns how many it found. */
async function damageEntry(pdf: Uint8Array): Promise<number> {
  const shards = path.join(cacheDir, 'pdf');
  let damaged = 0;
  for (const shard of await readdir(shards)) {
    for (const name of await readdir(path.join(shards, shard))) {
      const entry = path.join(shards, shard, name);
      if (name.endsWith('.pdf') && Buffer.from(pdf).equals(await readFile(entry))) {
        await writeFile(entry, 'damaged');
        damaged++;
      }
    }
  }
  return damaged;
}

beforeAll(async () => {
  tmp = await temporaryFolder('briefing-pack-cache-');
  project = path.join(tmp.dir, 'project');
  sourceDir = path.join(tmp.dir, 'source');
  outDir = path.join(tmp.dir, 'dist');
  cacheDir = path.join(tmp.dir, 'cache');
  await copyProject();
  await generatePack(sourceDir, { count: 2 });
});

afterAll(async () => {
  await tmp?.remove();
});

describe('the build cache', () => {
  let cold: Report;

  it('a cold build prints every PDF: the pack, the brief, and each briefing and its brief', async () => {
    cold = await build();
    expect(cold.cache).toEqual({
      upToDate: false,
      printed: 6,
      reused: 0,
      converted: 2,
      conversionsReused: 0,
    });
  });

  it('a rebuild with no change launches no browser and leaves the output as it was', async () => {
    const before = await stat(path.join(outDir, 'manifest.json'));
    const again = await build();
    expect(again.cache?.upToDate).toBe(true);
    expect(Object.keys(again.timings)).toEqual(['up-to-date']);
    expect(digests(again.manifest)).toEqual(digests(cold.manifest));
    expect((await stat(path.join(outDir, 'manifest.json'))).mtimeMs).toBe(before.mtimeMs);
  });

  it('an output changed by hand is rebuilt, not trusted', async () => {
    await writeFile(path.join(outDir, 'brief.pdf'), 'not a PDF');
    const repaired = await build();
    expect(repaired.cache).toEqual({
      upToDate: false,
      printed: 0,
      reused: 6,
      converted: 0,
      conversionsReused: 2,
    });
    expect(digests(repaired.manifest)).toEqual(digests(cold.manifest));
    expect(await readFile(path.join(outDir, 'brief.pdf'), 'latin1')).toMatch(/^%PDF-/);
  });

  it('an edited briefing body reprints that briefing and the pack only, and matches a build without the cache', async () => {
    const file = path.join(sourceDir, 'briefings', 'briefing-002.md');
    const text = await readFile(file, 'utf8');
    await writeFile(file, `${text.trimEnd()}\n\nA sentence added by the cache test.\n`);
    const edited = await build();
    expect(edited.cache).toEqual({
      upToDate: false,
      printed: 2,
      reused: 4,
      converted: 1,
      conversionsReused: 1,
    });
    const before = digests(cold.manifest);
    const after = digests(edited.manifest);
    expect(after[briefingPdf('briefing-002')]).not.toBe(before[briefingPdf('briefing-002')]);
    expect(after['pack.pdf']).not.toBe(before['pack.pdf']);
    for (const unchanged of [
      'brief.pdf',
      briefingPdf('briefing-001'),
      'briefs/briefing-001.pdf',
      'briefs/briefing-002.pdf',
    ])
      expect(after[unchanged], unchanged).toBe(before[unchanged]);

    const full = await build({ cache: false, out: path.join(tmp.dir, 'dist-full') });
    expect(full.cache).toEqual({
      upToDate: false,
      printed: 6,
      reused: 0,
      converted: 2,
      conversionsReused: 0,
    });
    expect(after).toEqual(digests(full.manifest));
  });

  it('a wrong record of the pack’s cover and contents pages costs a print, never a wrong number', async () => {
    const records = path.join(cacheDir, 'outputs');
    const [name] = await readdir(records);
    const file = path.join(records, name ?? '');
    const record = JSON.parse(await readFile(file, 'utf8')) as { frontPages?: number };
    // Recorded by the last build that printed the pack: a cover page and a contents page.
    expect(record.frontPages).toBe(2);
    await writeFile(file, JSON.stringify({ ...record, frontPages: 5 }));
    const briefing = path.join(sourceDir, 'briefings', 'briefing-001.md');
    await writeFile(briefing, `${(await readFile(briefing, 'utf8')).trimEnd()}\n\nAnother added sentence.\n`);
    const edited = await build();
    expect(edited.cache?.printed).toBe(2);
    const full = await build({ cache: false, out: path.join(tmp.dir, 'dist-front') });
    expect(digests(edited.manifest)).toEqual(digests(full.manifest));
    expect(JSON.parse(await readFile(file, 'utf8')).frontPages).toBe(2);
  });

  it('a damaged cache entry is a miss', async () => {
    const brief = await readFile(path.join(outDir, 'brief.pdf'));
    expect(await damageEntry(brief)).toBe(1);
    await rm(outDir, { recursive: true });
    const rebuilt = await build();
    expect(rebuilt.cache).toEqual({
      upToDate: false,
      printed: 1,
      reused: 5,
      converted: 0,
      conversionsReused: 2,
    });
    expect(await readFile(path.join(outDir, 'brief.pdf'))).toEqual(brief);
  });

  it('a damaged entry found while an edited briefing prints is printed too', async () => {
    // The cache's entries are checked while what changed prints: the damage shows after printing began.
    const other = await readFile(path.join(outDir, briefingPdf('briefing-002')));
    expect(await damageEntry(other)).toBe(1);
    const briefing = path.join(sourceDir, 'briefings', 'briefing-001.md');
    await writeFile(briefing, `${(await readFile(briefing, 'utf8')).trimEnd()}\n\nYet another sentence.\n`);
    const rebuilt = await build();
    expect(rebuilt.cache).toEqual({
      upToDate: false,
      printed: 3,
      reused: 3,
      converted: 1,
      conversionsReused: 1,
    });
    expect(await readFile(path.join(outDir, briefingPdf('briefing-002')))).toEqual(other);
    const full = await build({ cache: false, out: path.join(tmp.dir, 'dist-damaged') });
    expect(digests(rebuilt.manifest)).toEqual(digests(full.manifest));
  });

  it('a changed option (SOURCE_DATE_EPOCH) reprints everything', async () => {
    const dated = await build({ env: { SOURCE_DATE_EPOCH: '1750000000' } });
    expect(dated.cache).toEqual({
      upToDate: false,
      printed: 6,
      reused: 0,
      converted: 0,
      conversionsReused: 2,
    });
  });

  it('a changed template reprints everything', async () => {
    const css = path.join(project, 'templates', 'styles', 'print.css');
    await writeFile(css, `${await readFile(css, 'utf8')}\n.cache-test-rule { color: inherit; }\n`);
    const restyled = await build();
    expect(restyled.cache).toEqual({
      upToDate: false,
      printed: 6,
      reused: 0,
      converted: 2,
      conversionsReused: 0,
    });
  });

  it('a changed font file reprints everything that can use it', async () => {
    const files = path.join(project, 'node_modules', '@fontsource', 'source-serif-4', 'files');
    await cp(
      path.join(files, 'source-serif-4-latin-600-normal.woff2'),
      path.join(files, 'source-serif-4-latin-400-normal.woff2'),
    );
    const refonted = await build();
    expect(refonted.cache).toEqual({
      upToDate: false,
      printed: 6,
      reused: 0,
      converted: 0,
      conversionsReused: 2,
    });
  });

  it('an edited briefing header reprints what shows it, and matches a build without the cache', async () => {
    const before = digests((await build()).manifest);
    const file = path.join(sourceDir, 'briefings', 'briefing-001.md');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/^title: .*$/m, 'title: A title changed by the cache test'));
    const edited = await build();
    // The briefing's own PDF and brief, the pack and the pack's brief (it lists the briefing).
    expect(edited.cache?.printed).toBe(4);
    const after = digests(edited.manifest);
    expect(after[briefingPdf('briefing-002')]).toBe(before[briefingPdf('briefing-002')]);
    expect(after['pack.pdf']).not.toBe(before['pack.pdf']);
    const full = await build({ cache: false, out: path.join(tmp.dir, 'dist-header') });
    expect(after).toEqual(digests(full.manifest));
    // What each build of this pack validated and rendered is kept for the next (memo/ of the cache).
    expect((await readdir(path.join(cacheDir, 'memo'))).sort()).toEqual(['headers.json', 'renders.json']);
  });
});
