/**
 * Stage 4: apply the templates of `templates/` to the validated model and the converted bodies.
 *
 * Produces the documents to print — the pack, one per briefing, the one-page brief — each with its own
 * page furniture (`page.css`), and the XHTML content documents of the EPUB. Paths are relative to the
 * output folder.
 */
import { readFileSync } from 'node:fs';
import { VFile } from 'vfile';
import { briefMarginsMm } from './lib/brief-layout.ts';
import { contentIdPrefix } from './lib/markdown/rehype-anchors.ts';
import type { Memo } from './lib/memo.ts';
import type { BuildFiles, DocumentInfo, Pack } from './lib/model.ts';
import { generator } from './lib/project.ts';
import { renderTemplate, templatesDir } from './lib/templates.ts';

/** Output names, all derived from validated ids. */
export const outputNames = {
  packPdf: 'pack.pdf',
  briefPdf: 'brief.pdf',
  briefingPdf: (id: string) => `briefings/${id}.pdf`,
  briefingBriefPdf: (id: string) => `briefs/${id}.pdf`,
  epub: 'pack.epub',
  epubFolder: 'epub',
} as const;

/** A static file of the templates (style sheets), served to the browser and packaged into the EPUB. */
export function templateAsset(name: string): string {
  return readFileSync(`${templatesDir}/${name}`, 'utf8');
}

/** The id of a briefing's article in the pack (the contents link to it). */
export function briefingAnchor(id: string): string {
  return `briefing-${id}`;
}

/** What every template sees of the pack. */
function packView(pack: Pack) {
  return {
    title: pack.title,
    subtitle: pack.subtitle ?? null,
    date: pack.date,
    edition: pack.edition ?? null,
    organisation: pack.organisation ?? null,
    audience: pack.audience ?? null,
    language: pack.language,
    paper: pack.paper,
    marking: pack.marking ?? null,
  };
}

/** What every template sees of a briefing; `body` is its converted HTML or XHTML. */
function briefingView(file: VFile, index: number, format: 'html' | 'xhtml') {
  const meta = file.data.briefing;
  const content = file.data.content;
  if (!meta || !content)
    throw new Error(`Briefing ${file.path} reached the templates without being converted`);
  return {
    id: meta.id,
    number: index + 1,
    anchor: briefingAnchor(meta.id),
    href: `b-${meta.id}.xhtml`,
    title: meta.title,
    date: meta.date,
    summary: meta.summary,
    keyPoints: meta.keyPoints,
    marking: meta.marking ?? null,
    tags: meta.tags,
    regions: meta.regions,
    authors: meta.authors,
    sources: meta.sources.map((source) => ({
      title: source.title,
      publisher: source.publisher ?? null,
      url: source.url ?? null,
      date: source.date ?? null,
    })),
    body: format === 'html' ? content.html : content.xhtml,
    questions: content.headings.filter((heading) => heading.question).map(({ id, text }) => ({ id, text })),
    // Filled in by the print stage once the pages are known; a placeholder of the same width until then.
    page: '0',
    idPrefix: contentIdPrefix(meta.id),
  };
}

const build = { generator: `${generator.name} ${generator.version}` };

function printDocument(path: string, html: string, pageCss: string, info: DocumentInfo): VFile {
  return new VFile({ path, value: html, data: { document: info, pageCss } });
}

/** Renders a template with data (`renderTemplate`). */
type Render = (name: string, data: Record<string, unknown>) => Promise<string>;

/** Options of {@link applyTemplates}. */
export interface TemplateOptions {
  /** Templates rendered by earlier builds (`memo.ts`): one given the same values is not rendered again. */
  renders?: Memo<string> | undefined;
}

/**
 * {@link renderTemplate} through the memo `renders`: the key holds the template's name and every value
 * it is given (an undefined value apart from a missing one), and the memo's key holds the tool's digest,
 * templates included.
 */
function memoRender(renders: Memo<string> | undefined): Render {
  if (!renders) return renderTemplate;
  const undefinedValue = '\u0000undefined';
  return async (name, data) => {
    const key = renders.key(
      name,
      JSON.stringify(data, (_key, value: unknown) => (value === undefined ? undefinedValue : value)),
    );
    const remembered = renders.get(key);
    if (remembered !== undefined) return remembered;
    const rendered = await renderTemplate(name, data);
    renders.set(key, rendered);
    return rendered;
  };
}

/** Renders every document of the build from the templates. */
export async function applyTemplates(files: BuildFiles, options: TemplateOptions = {}): Promise<BuildFiles> {
  const render = memoRender(options.renders);
  const pack = files.pack.data.pack;
  if (!pack) throw new Error('The pack reached the templates without being validated');
  const packData = packView(pack);
  const htmlBriefings = files.briefings.map((file, index) => briefingView(file, index, 'html'));
  const footerLeft = [pack.edition, pack.organisation].filter(Boolean).join(' · ');
  const furniture = { pageLabel: 'Page', ofLabel: 'of', footerLeft };
  const documents: VFile[] = [];

  const packHtml = await render('print/pack', {
    pack: packData,
    briefings: htmlBriefings,
    build,
    documentTitle: pack.title,
    stylesheet: 'styles/print.css',
    bodyClass: 'pack',
  });
  const packCss = await render('print/page.css', {
    pack: packData,
    marking: pack.marking ?? null,
    briefings: htmlBriefings,
    ...furniture,
  });
  documents.push(printDocument('pack.html', packHtml, packCss, { target: 'pack' }));

  for (const briefing of htmlBriefings) {
    const single = { ...briefing, number: 1 };
    const marking = briefing.marking ?? pack.marking ?? null;
    const html = await render('print/briefing', {
      pack: packData,
      briefing: single,
      build,
      documentTitle: briefing.title,
      stylesheet: 'styles/print.css',
      bodyClass: 'single',
    });
    const css = await render('print/page.css', {
      pack: packData,
      marking,
      briefings: [single],
      ...furniture,
    });
    documents.push(
      printDocument(`briefings/${briefing.id}.html`, html, css, {
        target: 'briefing',
        briefingId: briefing.id,
      }),
    );
  }

  const briefIds = new Set(pack.brief.briefingIds);
  documents.push(
    await renderBrief(
      render,
      'brief.html',
      packData,
      { title: pack.brief.title, date: pack.date, single: false, fullFileName: outputNames.packPdf },
      htmlBriefings.filter((briefing) => briefIds.has(briefing.id)),
      pack.marking ?? null,
      { target: 'brief' },
    ),
  );
  for (const briefing of htmlBriefings) {
    documents.push(
      await renderBrief(
        render,
        `briefs/${briefing.id}.html`,
        packData,
        {
          title: briefing.title,
          date: briefing.date,
          single: true,
          fullFileName: outputNames.briefingPdf(briefing.id),
        },
        [briefing],
        briefing.marking ?? pack.marking ?? null,
        { target: 'briefing-brief', briefingId: briefing.id },
      ),
    );
  }

  const xhtmlBriefings = files.briefings.map((file, index) => briefingView(file, index, 'xhtml'));
  documents.push(...(await renderEpubDocuments(render, packData, xhtmlBriefings)));
  return { ...files, documents };
}

/** Renders a one-page brief: of the pack (`single` false) or of one briefing. */
async function renderBrief(
  render: Render,
  path: string,
  packData: ReturnType<typeof packView>,
  brief: { title: string; date: string; single: boolean; fullFileName: string },
  briefings: ReturnType<typeof briefingView>[],
  marking: string | null,
  info: DocumentInfo,
): Promise<VFile> {
  const html = await render('print/brief', {
    pack: packData,
    brief,
    briefings,
    marking,
    build,
    documentTitle: brief.title,
    stylesheet: 'styles/brief.css',
    bodyClass: 'brief fit-0',
  });
  const footer = [packData.organisation, `Full ${brief.single ? 'briefing' : 'pack'}: ${brief.fullFileName}`]
    .filter(Boolean)
    .join(' · ');
  const css = await render('print/brief-page.css', {
    pack: packData,
    marking,
    margins: briefMarginsMm,
    footer,
  });
  return printDocument(path, html, css, info);
}

async function renderEpubDocuments(
  render: Render,
  packData: ReturnType<typeof packView>,
  briefings: ReturnType<typeof briefingView>[],
): Promise<VFile[]> {
  const folder = `${outputNames.epubFolder}/EPUB`;
  const epubDocument = (name: string, value: string, briefingId?: string) =>
    new VFile({
      path: `${folder}/${name}`,
      value,
      data: { document: briefingId ? { target: 'epub', briefingId } : { target: 'epub' } },
    });
  const documents = [
    epubDocument(
      'index.xhtml',
      await render('epub/title', { pack: packData, documentTitle: packData.title }),
    ),
    epubDocument(
      'nav.xhtml',
      await render('epub/nav', { pack: packData, briefings, documentTitle: 'Contents' }),
    ),
  ];
  for (const briefing of briefings) {
    const xhtml = await render('epub/briefing', {
      pack: packData,
      briefing,
      documentTitle: briefing.title,
    });
    documents.push(epubDocument(briefing.href, xhtml, briefing.id));
  }
  return documents;
}
