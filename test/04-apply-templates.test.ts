import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { VFile } from 'vfile';
import { describe, expect, it } from 'vitest';
import { applyTemplates } from '../pipeline/04-apply-templates.ts';
import { Memo } from '../pipeline/lib/memo.ts';
import type { BuildFiles } from '../pipeline/lib/model.ts';
import { cssString, longDate, templatesDir } from '../pipeline/lib/templates.ts';
import { temporaryFolder } from './helpers.ts';

async function templateFiles(dir = templatesDir): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory()
        ? templateFiles(path.join(dir, entry.name))
        : Promise.resolve([path.join(dir, entry.name)]),
    ),
  );
  return nested.flat();
}

const hostile = `</title><script>alert("x")</script>'"&`;

function sampleBuild(title: string): BuildFiles {
  const briefing = new VFile({ path: '/source/briefings/sample.md', value: '' });
  briefing.data.briefing = {
    id: 'sample',
    title,
    date: '2025-07-13',
    summary: `Summary ${title}`,
    keyPoints: [`Point ${title}`],
    marking: 'OFFICIAL',
    tags: ['Tag'],
    regions: ['Region'],
    authors: ['Author'],
    sources: [{ title: `Source ${title}`, url: 'https://example.org/?a=1&b=2' }],
  };
  briefing.data.content = {
    html: '<p>Body HTML</p>',
    xhtml: '<p>Body XHTML</p>',
    headings: [{ depth: 3, text: 'Why?', id: 'c-sample-why', question: true }],
    blocks: [],
    assets: [],
    hasFootnotes: false,
  };
  const pack = new VFile({ path: '/source/pack.yaml', value: '' });
  pack.data.pack = {
    title,
    date: '2025-07-13',
    language: 'en-GB',
    paper: 'Letter',
    marking: 'OFFICIAL',
    markings: ['OFFICIAL'],
    briefingIds: ['sample'],
    brief: { title, briefingIds: ['sample'] },
  };
  return { sourceDir: '/source', pack, briefings: [briefing], documents: [], outputs: [] };
}

/** Each document's path, HTML and page CSS. */
function rendered(build: BuildFiles): Array<[string, string, string | undefined]> {
  return build.documents.map((document) => [document.path, String(document.value), document.data.pageCss]);
}

describe('applyTemplates', () => {
  it('takes a template rendered by an earlier build with the same values, and renders any other', async () => {
    const tmp = await temporaryFolder('briefing-pack-renders-');
    try {
      const first = await Memo.open<string>(tmp.dir, 'renders', 'tool');
      const made = rendered(await applyTemplates(sampleBuild('First'), { renders: first }));
      expect(first.hits).toBe(0);
      await first.save();

      const second = await Memo.open<string>(tmp.dir, 'renders', 'tool');
      expect(rendered(await applyTemplates(sampleBuild('First'), { renders: second }))).toEqual(made);
      const renders = second.hits;
      expect(renders).toBeGreaterThanOrEqual(made.length);
      // One value changed: what shows it is rendered again, as without the memo.
      const changed = sampleBuild('First');
      const briefing = changed.briefings[0]?.data.briefing;
      if (briefing) briefing.summary = 'Another summary';
      const again = rendered(await applyTemplates(changed, { renders: second }));
      expect(again).toEqual(rendered(await applyTemplates(changed)));
      expect(again.some(([, html]) => html.includes('Another summary'))).toBe(true);
      expect(second.hits - renders).toBeLessThan(renders);
    } finally {
      await tmp.remove();
    }
  });

  it('renders the pack, one document per briefing, the brief and the EPUB documents', async () => {
    const build = await applyTemplates(sampleBuild('Plain title'));
    expect(build.documents.map((document) => document.path)).toEqual([
      'pack.html',
      'briefings/sample.html',
      'brief.html',
      'briefs/sample.html',
      'epub/EPUB/index.xhtml',
      'epub/EPUB/nav.xhtml',
      'epub/EPUB/b-sample.xhtml',
    ]);
    const pack = String(build.documents[0]?.value);
    expect(pack).toContain('<p>Body HTML</p>');
    expect(pack).toContain('href="#briefing-sample"');
    expect(build.documents[0]?.data.pageCss).toContain('size: letter;');
    const epubBriefing = String(build.documents[6]?.value);
    expect(epubBriefing).toContain('<p>Body XHTML</p>');
    expect(epubBriefing).toContain('epub:type="chapter"');
    expect(String(build.documents[5]?.value)).toContain('<a href="b-sample.xhtml#c-sample-why">Why?</a>');
  });

  it('gives the EPUB documents a main landmark and their EPUB semantics, and the print pages none of them', async () => {
    const build = await applyTemplates(sampleBuild('Plain title'));
    const epub = build.documents.filter((document) => document.data.document?.target === 'epub');
    const print = build.documents.filter((document) => document.data.document?.target !== 'epub');
    const [title, nav, briefing] = epub.map((document) => String(document.value));
    expect(title).toMatch(/<main>\s*<section class="title-page" epub:type="titlepage"/);
    expect(nav).toMatch(/<main>\s*<nav epub:type="toc" role="doc-toc" id="toc"/);
    expect(nav).toMatch(/<\/main>\s*<nav epub:type="landmarks" id="landmarks" hidden="hidden"/);
    expect(briefing).toMatch(/<main>\s*<article [^>]*epub:type="chapter">/);
    expect(briefing).toContain('epub:type="bibliography" role="doc-bibliography"');
    for (const document of print) {
      expect(String(document.value)).not.toMatch(/epub:type|role="doc-|<main>/);
    }
  });

  it('escapes every author string in HTML, XHTML and CSS', async () => {
    const build = await applyTemplates(sampleBuild(hostile));
    for (const document of build.documents) {
      expect(String(document.value)).not.toContain('<script>');
      expect(String(document.value)).toContain('&lt;/title&gt;&lt;script&gt;');
      expect(document.data.pageCss ?? '').not.toContain('</');
    }
    expect(String(build.documents[0]?.value)).toContain('href="https://example.org/?a=1&amp;b=2"');
  });

  it('inserts content HTML unescaped in exactly one audited place', async () => {
    const uses: string[] = [];
    for (const file of await templateFiles()) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/\|\s*raw\b/g))
        uses.push(`${path.relative(templatesDir, file)}:${match.index}`);
    }
    expect(uses).toHaveLength(1);
    expect(uses[0]).toMatch(/^partials\/briefing-body\.liquid:/);
  });
});

describe('cssString', () => {
  it('quotes a string and escapes everything that could end it or a rule', () => {
    expect(cssString('Plain Title 2')).toBe('"Plain Title 2"');
    expect(cssString('a"b\\c</style>;}')).toBe('"a\\22 b\\5C c\\3C \\2F style\\3E \\3B \\7D "');
    expect(cssString('Сергей 김정은')).toBe('"Сергей 김정은"');
  });

  it('writes a finite number as itself', () => {
    expect(cssString(3)).toBe('3');
    expect(cssString(Number.NaN)).toBe('"NaN"');
  });
});

describe('longDate', () => {
  it('formats in the pack language, in UTC, whatever the machine', () => {
    expect(longDate('2025-07-13', 'en-GB')).toBe('13 July 2025');
    expect(longDate('2025-07-13', 'en')).toBe('July 13, 2025');
    expect(longDate('2025-01-01', 'fr')).toBe('1 janvier 2025');
  });
});
