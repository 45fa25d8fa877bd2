/**
 * The one-page brief (issue 5): a ladder of content sizes, each built with the real CLI; every brief
 * produced is one page and carries every summary and key point word for word; the impossible case
 * fails naming what to shorten and writes nothing; no text is set below 8.5 pt.
 */
import { cp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSource } from '../pipeline/01-read-source.ts';
import { validateSource } from '../pipeline/02-validate-source.ts';
import { convertMarkdown } from '../pipeline/03-convert-markdown.ts';
import { applyTemplates } from '../pipeline/04-apply-templates.ts';
import { sharedResources } from '../pipeline/05-print-pdfs.ts';
import type { Manifest } from '../pipeline/08-write-output.ts';
import { briefFitLevels, minimumBriefTextPt } from '../pipeline/lib/brief-layout.ts';
import { loadDocument, openBrowser } from '../pipeline/lib/browser.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { type GenerateOptions, generatePack } from '../scripts/generate-pack.ts';
import { pdfInfo, pdfText, readJson, runCli, squash, temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  folder = await temporaryFolder();
});
afterAll(async () => {
  await folder?.remove();
});

/** The summaries and key points of every briefing of a source folder, read straight from the files. */
async function briefTexts(sourceDir: string): Promise<Map<string, string[]>> {
  const texts = new Map<string, string[]>();
  for (const name of await readdir(path.join(sourceDir, 'briefings'))) {
    const text = await readFile(path.join(sourceDir, 'briefings', name), 'utf8');
    const header = text.split('\n---\n')[0] ?? '';
    const summary = /^summary: (.+)$/m.exec(header)?.[1] ?? '';
    const folded = summary.startsWith('>-')
      ? (/^summary: >-\n((?: {2}.+\n)+)/m.exec(`${header}\n`)?.[1] ?? '').replace(/\n\s*/g, ' ')
      : JSON.parse(summary);
    const points = [...header.matchAll(/^ {2}- (.+)$/gm)]
      .map((match) => match[1] ?? '')
      .filter((point) => !point.startsWith('title:'))
      .map((point) => (point.startsWith('"') ? JSON.parse(point) : point));
    texts.set(name.replace(/\.md$/, ''), [folded.trim(), ...points]);
  }
  return texts;
}

/** A word broken after its hyphen at the end of a line (`dual-` / `use`) is one word again. */
function joinBrokenWords(text: string): string {
  return text.replace(/-\n/g, '-');
}

async function buildCase(name: string, options: GenerateOptions | 'founding') {
  const sourceDir = path.join(folder.dir, name);
  const outDir = path.join(folder.dir, `${name}-out`);
  if (options === 'founding') await cp(path.join(projectRoot, 'source'), sourceDir, { recursive: true });
  else await generatePack(sourceDir, options);
  const run = await runCli(['build', '--source', sourceDir, '--out', outDir]);
  return { sourceDir, outDir, run };
}

const ladder: Array<[string, GenerateOptions | 'founding']> = [
  ['one short briefing', { count: 1, paragraphs: 1, keyPoints: 1 }],
  ['the founding pack', 'founding'],
  [
    'six briefings with six key points each',
    { count: 6, keyPoints: 6, shortKeyPoints: true, summarySentences: 2, briefCount: 6 },
  ],
  [
    'twelve briefings',
    { count: 12, keyPoints: 2, shortKeyPoints: true, summarySentences: 2, briefCount: 12 },
  ],
];

describe.each(ladder)('the brief of %s', (name, options) => {
  let built: Awaited<ReturnType<typeof buildCase>>;
  let manifest: Manifest;
  beforeAll(async () => {
    built = await buildCase(name.replace(/\W+/g, '-'), options);
    expect(built.run.stderr).toContain('Built');
    manifest = await readJson<Manifest>(path.join(built.outDir, 'manifest.json'));
  }, 300_000);

  it('is exactly one page, and so is the brief of each briefing', async () => {
    const briefs = manifest.artifacts.filter(
      (artifact) => artifact.kind === 'brief-pdf' || artifact.kind === 'briefing-brief-pdf',
    );
    expect(briefs.length).toBe(
      1 + manifest.artifacts.filter((artifact) => artifact.kind === 'briefing-pdf').length,
    );
    for (const brief of briefs)
      expect(Number((await pdfInfo(path.join(built.outDir, brief.path))).Pages), brief.path).toBe(1);
  });

  it('prints every summary and key point of the source word for word', async () => {
    const texts = await briefTexts(built.sourceDir);
    const pack = await readFile(path.join(built.sourceDir, 'pack.yaml'), 'utf8');
    const onBrief = /brief:\n {2}briefings:\n((?: {4}- .+\n)+)/.exec(pack)?.[1];
    const ids = onBrief ? [...onBrief.matchAll(/- (.+)/g)].map((match) => match[1] ?? '') : [...texts.keys()];
    const brief = squash(
      joinBrokenWords(await pdfText(path.join(built.outDir, 'brief.pdf'), undefined, { raw: true })),
    );
    for (const id of ids) for (const text of texts.get(id) ?? []) expect(brief, id).toContain(squash(text));
    for (const [id, own] of texts) {
      const single = squash(
        joinBrokenWords(
          await pdfText(path.join(built.outDir, 'briefs', `${id}.pdf`), undefined, { raw: true }),
        ),
      );
      for (const text of own) expect(single, id).toContain(squash(text));
    }
  });

  it('records a fit decision that never sets text below 8.5 pt', () => {
    const brief = manifest.artifacts.find((artifact) => artifact.kind === 'brief-pdf');
    const fit = brief?.fit as { level: number; fontSizePt: number; smallestTextPt: number; columns: number };
    expect(fit.level).toBeGreaterThanOrEqual(0);
    expect(fit.level).toBeLessThan(briefFitLevels);
    expect(fit.fontSizePt).toBeGreaterThanOrEqual(minimumBriefTextPt);
    expect(fit.smallestTextPt).toBeGreaterThanOrEqual(minimumBriefTextPt);
    expect([1, 2]).toContain(fit.columns);
  });
});

describe('a brief that cannot fit', () => {
  it('exits 1 naming the briefings that overflow and by how much, and writes nothing', async () => {
    const built = await buildCase('impossible', { count: 40, keyPoints: 6, briefCount: 40 });
    expect(built.run.code).toBe(1);
    expect(built.run.stderr).toMatch(
      /pack\.yaml:1:1\s+error\s+Unexpected one-page brief longer than one page by about \d+% of a page/,
    );
    expect(built.run.stderr).toMatch(/`briefing-040`/);
    expect(built.run.stderr).toContain('brief-overflow');
    await expect(readdir(built.outDir)).rejects.toThrow();
  });
});

describe('the smallest text of every step of the ladder', () => {
  it('is at least 8.5 pt in the computed style of the brief', async () => {
    const sourceDir = path.join(folder.dir, 'styles');
    await generatePack(sourceDir, { count: 3, briefCount: 3 });
    let files = await readSource({ sourceDir });
    files = await convertMarkdown(await validateSource(files));
    files = await applyTemplates(files);
    const brief = files.documents.find((document) => document.path === 'brief.html');
    const shared = sharedResources(files);
    const session = await openBrowser({ log: () => undefined });
    try {
      const loaded = await loadDocument(session, {
        documentPath: 'document.html',
        resolve: (file) =>
          file === 'document.html'
            ? { contentType: 'text/html', body: String(brief?.value) }
            : file === 'page.css'
              ? { contentType: 'text/css', body: brief?.data.pageCss ?? '' }
              : shared(file),
      });
      await loaded.page.emulateMediaType('print');
      for (let level = 0; level < briefFitLevels; level++) {
        const smallest = await loaded.page.evaluate((className: string) => {
          document.body.className = className;
          const sizes = [...document.body.querySelectorAll('*')]
            .filter((element) =>
              [...element.childNodes].some((node) => node.nodeType === 3 && node.textContent?.trim()),
            )
            .map((element) => Number.parseFloat(getComputedStyle(element).fontSize) * 0.75);
          return Math.min(...sizes);
        }, `brief fit-${level}`);
        expect(smallest, `fit-${level}`).toBeGreaterThanOrEqual(minimumBriefTextPt - 0.001);
      }
      await loaded.close();
    } finally {
      await session.close();
    }
  });

  it('has exactly the steps the build knows of', async () => {
    const css = await readFile(path.join(projectRoot, 'templates', 'styles', 'brief.css'), 'utf8');
    const steps = [...css.matchAll(/^\.fit-(\d+) \{/gm)].map((match) => Number(match[1]));
    expect(steps).toEqual(Array.from({ length: briefFitLevels }, (_, index) => index));
  });
});
