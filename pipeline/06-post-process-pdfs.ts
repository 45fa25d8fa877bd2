/**
 * Stage 6: post-process the printed PDFs with pdf-lib, in place (never rebuilt with `copyPages`, which
 * would drop the tags): title, author, subject, keywords, language, creator and producer; creation
 * and modification dates from the build's epoch; a document `/ID` derived from the content. Then
 * check what a reader relies on: the page count, that only bundled fonts are embedded, and that no
 * text of the source is missing from any PDF (the content-loss check).
 */
import path from 'node:path';
import type { PDFDocument } from 'pdf-lib';
import type { VFile } from 'vfile';
import { StageError } from './lib/errors.ts';
import { isBundledPdfFont } from './lib/fonts.ts';
import type { BriefingMeta, BuildFiles, Pack, TextBlock } from './lib/model.ts';
import { readContentTextInTurns } from './lib/pdf-content-text.ts';
import { normaliseStructureIds, type PdfMetadata, setContentId, setXmpMetadata } from './lib/pdf-identity.ts';
import { headingOutline, type OutlineEntry, rewriteOutline } from './lib/pdf-outline.ts';
import { fontNames, inOneGo, takePdf } from './lib/pdf-read.ts';
import { extractContentText, foldForComparison, textFinder } from './lib/pdf-text.ts';
import { pdfBytesProblem } from './lib/pdf-verify.ts';
import { mapWithConcurrency, turn } from './lib/pool.ts';
import { generator } from './lib/project.ts';

/** Options of {@link postProcessPdfs}. */
export interface PostProcessOptions {
  /** The build's epoch: every date written into an artifact. */
  epochSeconds: number;
  /** The browser that printed, for the producer field. */
  browserVersion: string;
  /**
   * Verify each finished PDF at once (pdf-lib, page count, `qpdf --check`), so that the write stage
   * needs only to match digests; it says once through `log` when qpdf is missing.
   */
  verify?: { log: (line: string) => void } | undefined;
  /** Where to say that a PDF's text had to be read with pdf.js (`--verbose`): much slower. */
  log?: ((line: string) => void) | undefined;
}

type Metadata = Pick<PdfMetadata, 'title' | 'author' | 'subject' | 'keywords'>;

function metadataFor(
  kind: string | undefined,
  pack: Pack,
  briefing: BriefingMeta | undefined,
  allTags: string[],
): Metadata {
  if (briefing && kind === 'briefing-brief-pdf') {
    return {
      title: briefing.title,
      author: briefing.authors.length > 0 ? briefing.authors.join(', ') : pack.organisation,
      subject: `One-page brief: ${briefing.title}`,
      keywords: briefing.tags,
    };
  }
  if (briefing && kind === 'briefing-pdf') {
    return {
      title: briefing.title,
      author: briefing.authors.length > 0 ? briefing.authors.join(', ') : pack.organisation,
      subject: briefing.summary,
      keywords: briefing.tags,
    };
  }
  if (kind === 'brief-pdf') {
    return {
      title: pack.brief.title,
      author: pack.organisation,
      subject: `One-page brief: ${pack.title}`,
      keywords: allTags,
    };
  }
  return {
    title: pack.title,
    author: pack.organisation,
    subject: pack.subtitle ?? pack.title,
    keywords: allTags,
  };
}

/** The bookmarks of an artifact: the pack's cover, contents, briefings with their sections and questions. */
function outlineFor(
  kind: string | undefined,
  pack: Pack,
  briefing: BriefingMeta | undefined,
  files: BuildFiles,
): OutlineEntry[] {
  const entryOf = (file: VFile): OutlineEntry => ({
    title: file.data.briefing?.title ?? '',
    children: headingOutline(file.data.content?.headings ?? []),
  });
  const inPack = files.briefings.filter(
    (file) => file.data.briefing && pack.briefingIds.includes(file.data.briefing.id),
  );
  if (kind === 'briefing-pdf') {
    const file = files.briefings.find((candidate) => candidate.data.briefing === briefing);
    return file ? [entryOf(file)] : [];
  }
  if (kind === 'briefing-brief-pdf') return briefing ? [{ title: briefing.title, children: [] }] : [];
  if (kind === 'brief-pdf') {
    const onBrief = inPack.filter((file) => pack.brief.briefingIds.includes(file.data.briefing?.id ?? ''));
    return [
      { title: pack.brief.title, children: [] },
      ...onBrief.map((file) => ({ title: file.data.briefing?.title ?? '', children: [] })),
    ];
  }
  return [
    { title: pack.title, children: [] },
    { title: 'Contents', children: [] },
    ...inPack.map(entryOf),
    { title: 'About this pack', children: [] },
  ];
}

/** Writes metadata into every PDF output and checks its fonts and text; records the page count. */
export async function postProcessPdfs(files: BuildFiles, options: PostProcessOptions): Promise<BuildFiles> {
  const postProcess = postProcessor(files, options);
  const pdfs = files.outputs.filter(
    (output) => output.data.artifact?.kind?.endsWith('pdf') && output.value instanceof Uint8Array,
  );
  await mapWithConcurrency(pdfs, 2, (output) => postProcess(output));
  return files;
}

/**
 * The post-processing of one printed PDF, in place: metadata, bookmarks, ids, the font check and the
 * content-loss check. The build runs it on each PDF as soon as it is printed, while the browser prints
 * the next ones. `onSaved` is told once the PDF's bytes and page count are final, before its checks end.
 */
export function postProcessor(
  files: BuildFiles,
  options: PostProcessOptions,
): (output: VFile, onSaved?: () => void) => Promise<void> {
  const pack = files.pack.data.pack;
  if (!pack) throw new Error('The pack reached post-processing without being validated');
  const briefings = new Map(
    files.briefings.flatMap((file) =>
      file.data.briefing ? [[file.data.briefing.id, file.data.briefing]] : [],
    ),
  );
  const allTags = [...new Set([...briefings.values()].flatMap((briefing) => briefing.tags))];
  const date = new Date(options.epochSeconds * 1000);

  return async (output, onSaved) => {
    const artifact = output.data.artifact;
    if (!artifact?.kind?.endsWith('pdf') || !(output.value instanceof Uint8Array)) return;
    let document: PDFDocument;
    try {
      // Parsed once: the print stage may have read it already (its page count, its anchors).
      document = await takePdf(output.value);
      await turn();
      const briefing = artifact.briefingId ? briefings.get(artifact.briefingId) : undefined;
      const metadata: PdfMetadata = {
        ...metadataFor(artifact.kind, pack, briefing, allTags),
        language: pack.language,
        creator: `${generator.name} ${generator.version}`,
        producer: `${options.browserVersion} and pdf-lib, via ${generator.name}`,
        date,
      };
      document.setTitle(metadata.title, { showInWindowTitleBar: true });
      if (metadata.author) document.setAuthor(metadata.author);
      if (metadata.subject) document.setSubject(metadata.subject);
      // pdf-lib joins keywords with spaces; a separator keeps `North Korea` one keyword.
      document.setKeywords([metadata.keywords.join('; ')]);
      document.setLanguage(metadata.language);
      document.setCreator(metadata.creator);
      document.setProducer(metadata.producer);
      document.setCreationDate(date);
      document.setModificationDate(date);
      setXmpMetadata(document, metadata);

      const missingBookmarks = rewriteOutline(document, outlineFor(artifact.kind, pack, briefing, files));
      if (missingBookmarks.length > 0) {
        throw new Error(
          `no printed heading for the bookmarks ${missingBookmarks.map((title) => `«${title}»`).join(', ')}`,
        );
      }

      const foreign = [...fontNames(document)].filter((name) => !isBundledPdfFont(name));
      if (foreign.length > 0) {
        throw new Error(
          `fonts outside the bundle were embedded (${foreign.join(', ')}); a character of the source is not covered by the bundled fonts`,
        );
      }

      // Ids from what is printed, so two builds of the same source match byte for byte.
      normaliseStructureIds(document);
      setContentId(document, metadata);

      await turn();
      output.value = await document.save({
        useObjectStreams: false,
        updateFieldAppearances: false,
        objectsPerTick: inOneGo,
      });
      artifact.pages = document.getPageCount();
      onSaved?.();
      await turn();
    } catch (cause) {
      throw new StageError('post-process', output.path, { cause });
    }
    // qpdf's check is under way once this returns (on a thread of its own) while this one reads the text.
    const verifying =
      options.verify && artifact.kind
        ? pdfBytesProblem(output.value, { kind: artifact.kind, pages: artifact.pages }, options.verify.log)
        : undefined;
    verifying?.catch(() => undefined);
    // The text as printed: the edits above touch the metadata, bookmarks and structure ids, never a
    // page's content or fonts, so the parsed document still shows what the saved file does.
    await turn();
    const printedText = await readContentTextInTurns(document, turn);
    await turn();
    if (printedText === undefined) {
      options.log?.(`${output.path}: text read with pdf.js; its content is not what Chromium writes`);
    }
    const contentLoss = await checkNoContentLost(files, pack, output, printedText).then(
      () => undefined,
      (cause: unknown) => cause,
    );
    // A PDF that fails verification is reported as such, before any text found missing from it.
    const problem = await verifying;
    if (problem)
      throw new StageError('post-process', output.path, { cause: new Error(`the PDF ${problem}`) });
    if (verifying) artifact.verified = true;
    if (contentLoss) throw contentLoss;
  };
}

/** A run of text a PDF must contain, and where it comes from. */
interface Expected {
  briefingId: string;
  file: VFile;
  block: TextBlock;
}

/** What a reader must find of a briefing: its title, summary, key points, body and sources. */
function expectedText(file: VFile, part: 'all' | 'brief'): Expected[] {
  const meta = file.data.briefing;
  if (!meta) return [];
  const header = (text: string): Expected => ({
    briefingId: meta.id,
    file,
    block: { text, line: 1, column: 1 },
  });
  const front = [meta.title, meta.summary, ...meta.keyPoints].map(header);
  if (part === 'brief') return front;
  const body = (file.data.content?.blocks ?? []).map((block) => ({ briefingId: meta.id, file, block }));
  return [...front, ...body, ...meta.sources.map((source) => header(source.title))];
}

/**
 * The content-loss check: extracts the text of a PDF (`printedText`, read from its content streams,
 * or else with pdf.js) and fails, naming the briefing and the paragraph, if any run of the source's
 * text is missing from it.
 */
async function checkNoContentLost(
  files: BuildFiles,
  pack: Pack,
  output: VFile,
  printedText: string | undefined,
): Promise<void> {
  const byId = new Map(
    files.briefings.flatMap((file) => (file.data.briefing ? [[file.data.briefing.id, file]] : [])),
  );
  const artifact = output.data.artifact;
  const ids =
    artifact?.kind === 'pack-pdf'
      ? pack.briefingIds
      : artifact?.kind === 'brief-pdf'
        ? pack.brief.briefingIds
        : artifact?.briefingId
          ? [artifact.briefingId]
          : [];
  const part = artifact?.kind === 'brief-pdf' || artifact?.kind === 'briefing-brief-pdf' ? 'brief' : 'all';
  const expected = ids.flatMap((id) => {
    const file = byId.get(id);
    return file ? expectedText(file, part) : [];
  });
  // pdf.js reads what the content streams' own reader does not cover.
  const text =
    printedText === undefined
      ? await extractContentText(output.value as Uint8Array)
      : foldForComparison(printedText);
  const found = textFinder(text);
  const missing = expected.filter((entry) => !found(entry.block.text));
  if (missing.length === 0) return;
  const lines = missing.slice(0, 10).map(({ briefingId, file, block }) => {
    const where = `${path.relative(process.cwd(), file.path)}:${block.line}:${block.column}`;
    const quote = block.text.length > 70 ? `${block.text.slice(0, 69)}…` : block.text;
    return `  briefing \`${briefingId}\` (${where}): «${quote}»`;
  });
  if (missing.length > 10) lines.push(`  … and ${missing.length - 10} more`);
  throw new StageError('content-loss check', output.path, {
    cause: new Error(`text of the source is missing from the PDF:\n${lines.join('\n')}`),
  });
}
