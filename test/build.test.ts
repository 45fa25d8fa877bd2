/**
 * End to end: the real CLI, a real Chromium, on a temporary copy of the project's own `source/`;
 * the artifacts are read the way a reader would, with poppler and qpdf.
 */
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../pipeline/08-write-output.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import {
  pdfFonts,
  pdfInfo,
  pdfText,
  qpdfCheck,
  readJson,
  runCli,
  snapshot,
  squash,
  temporaryFolder,
} from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
let sourceDir: string;
let outDir: string;
let manifest: Manifest;
let briefingFile: string;

beforeAll(async () => {
  folder = await temporaryFolder();
  sourceDir = path.join(folder.dir, 'source');
  outDir = path.join(folder.dir, 'out');
  await cp(path.join(projectRoot, 'source'), sourceDir, { recursive: true });
  const [first] = (await readdir(path.join(sourceDir, 'briefings'))).filter((name) => name.endsWith('.md'));
  briefingFile = path.join(sourceDir, 'briefings', first ?? '');
  const run = await runCli(['build', '--source', sourceDir, '--out', outDir, '--json']);
  expect(run.stderr).not.toMatch(/error/i);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, exitCode: 0 });
  manifest = await readJson<Manifest>(path.join(outDir, 'manifest.json'));
});

afterAll(async () => {
  await folder?.remove();
});

describe('npm run build on the founding pack', () => {
  it('writes every artifact with a manifest whose sizes and hashes match the files', async () => {
    const kinds = manifest.artifacts.map((artifact) => artifact.kind).sort();
    expect(kinds).toEqual(['brief-pdf', 'briefing-brief-pdf', 'briefing-pdf', 'epub', 'html', 'pack-pdf']);
    for (const artifact of manifest.artifacts) {
      const bytes = await readFile(path.join(outDir, artifact.path));
      expect(bytes.length).toBe(artifact.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(artifact.sha256);
    }
    expect(manifest.generator.browser).toMatch(/^(Chromium|Chrome) \d+\./);
    expect(manifest.pack).toMatchObject({
      title: 'Foreign Policy Briefing Pack',
      date: '2025-07-13',
      marking: 'OFFICIAL',
    });
  });

  it('records page counts that a PDF reader agrees with, and a brief of exactly one page', async () => {
    for (const artifact of manifest.artifacts.filter((entry) => entry.kind.endsWith('pdf'))) {
      const info = await pdfInfo(path.join(outDir, artifact.path));
      expect(Number(info.Pages)).toBe(artifact.pages);
    }
    const brief = manifest.artifacts.find((artifact) => artifact.kind === 'brief-pdf');
    expect(brief?.pages).toBe(1);
  });

  it('prints every Unpacked question of the source in the pack', async () => {
    const source = await readFile(briefingFile, 'utf8');
    const questions = [...source.matchAll(/^### (.+)$/gm)].map((match) => match[1] ?? '');
    expect(questions).toHaveLength(4);
    const text = squash(await pdfText(path.join(outDir, 'pack.pdf')));
    for (const question of questions) expect(text).toContain(squash(question));
  });

  it('prints the page of each briefing in the contents, and the briefing is on that page', async () => {
    const contents = await pdfText(path.join(outDir, 'pack.pdf'), 2);
    const source = await readFile(briefingFile, 'utf8');
    const title = /^title: (.+)$/m.exec(source)?.[1] ?? '';
    const entry = squash(contents).match(new RegExp(`${escapeRegExp(squash(title))} (\\d+)`));
    const page = Number(entry?.[1]);
    expect(page).toBeGreaterThan(2);
    expect(squash(await pdfText(path.join(outDir, 'pack.pdf'), page))).toContain(squash(title));
  });

  it('embeds only the bundled fonts, and every PDF passes qpdf --check', async () => {
    for (const artifact of manifest.artifacts.filter((entry) => entry.kind.endsWith('pdf'))) {
      const file = path.join(outDir, artifact.path);
      const fonts = await pdfFonts(file);
      expect(fonts.length).toBeGreaterThan(0);
      for (const font of fonts) {
        expect(font.embedded).toBe(true);
        expect(font.name).toMatch(/^[A-Z]{6}\+(SourceSerif4|SourceSans3|NotoSerifKR|NotoSansKR)/);
      }
      await expect(qpdfCheck(file)).resolves.toMatch(/No syntax or stream encoding errors/);
    }
  });

  it('writes the title, language and tags into the PDF metadata', async () => {
    const info = await pdfInfo(path.join(outDir, 'pack.pdf'));
    expect(info).toMatchObject({
      Title: 'Foreign Policy Briefing Pack',
      Author: 'Policy Unit',
      Tagged: 'yes',
    });
    expect(info.Keywords).toContain('North Korea');
    expect(info.CreationDate).toContain('2025');
  });

  it('writes a SHA256SUMS that lists every artifact', async () => {
    const sums = await readFile(path.join(outDir, 'SHA256SUMS'), 'utf8');
    for (const artifact of manifest.artifacts) expect(sums).toContain(`${artifact.sha256}  ${artifact.path}`);
  });
});

describe('a source with an error', () => {
  it('exits 1 with a path:line:col message and leaves the output folder as it was', async () => {
    const before = await snapshot(outDir);
    const text = await readFile(briefingFile, 'utf8');
    await writeFile(briefingFile, text.replace(/^title: .+\n/m, ''));
    try {
      const run = await runCli(['build', '--source', sourceDir, '--out', outDir], { cwd: folder.dir });
      expect(run.code).toBe(1);
      const relative = path.relative(folder.dir, briefingFile);
      expect(run.stderr).toMatch(
        new RegExp(`^${escapeRegExp(relative)}:\\d+:\\d+\\s+error\\s+Missing \`title\``, 'm'),
      );
      expect(run.stderr).toContain('missing-field');
      expect(await snapshot(outDir)).toEqual(before);
      const siblings = await readdir(folder.dir);
      expect(siblings.filter((name) => name.startsWith('.out.'))).toEqual([]);
    } finally {
      await writeFile(briefingFile, text);
    }
  });
});

describe('npm run check', () => {
  it('validates without a browser and writes nothing', async () => {
    const out = path.join(folder.dir, 'never');
    const run = await runCli(['check', '--source', sourceDir, '--out', out], {
      env: { BRIEFING_PACK_BROWSER: '/nonexistent/chrome' },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Source is valid');
    await expect(stat(out)).rejects.toThrow();
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
