/**
 * Stage 6: post-process the printed PDFs with pdf-lib, in place (never rebuilt with `copyPages`, which
 * would drop the tags): title, author, subject, keywords, language, creator and producer; creation
 * and modification dates from the build's epoch; a document `/ID` derived from the content. Then
 * check what a reader relies on: the page count, and that only bundled fonts are embedded.
 */
import { createHash } from 'node:crypto';
import { PDFArray, PDFHexString } from 'pdf-lib';
import { StageError } from './lib/errors.ts';
import { isBundledPdfFont } from './lib/fonts.ts';
import type { BriefingMeta, BuildFiles, Pack } from './lib/model.ts';
import { fontNames, loadPdf } from './lib/pdf-read.ts';
import { generator } from './lib/project.ts';

/** Options of {@link postProcessPdfs}. */
export interface PostProcessOptions {
  /** The build's epoch: every date written into an artifact. */
  epochSeconds: number;
  /** The browser that printed, for the producer field. */
  browserVersion: string;
}

interface Metadata {
  title: string;
  author: string | undefined;
  subject: string | undefined;
  keywords: string[];
}

function metadataFor(
  kind: string | undefined,
  pack: Pack,
  briefing: BriefingMeta | undefined,
  allTags: string[],
): Metadata {
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

/** Writes metadata into every PDF output and checks its fonts; records the page count. */
export async function postProcessPdfs(files: BuildFiles, options: PostProcessOptions): Promise<BuildFiles> {
  const pack = files.pack.data.pack;
  if (!pack) throw new Error('The pack reached post-processing without being validated');
  const briefings = new Map(
    files.briefings.flatMap((file) =>
      file.data.briefing ? [[file.data.briefing.id, file.data.briefing]] : [],
    ),
  );
  const allTags = [...new Set([...briefings.values()].flatMap((briefing) => briefing.tags))];
  const date = new Date(options.epochSeconds * 1000);

  for (const output of files.outputs) {
    const artifact = output.data.artifact;
    if (!artifact?.kind?.endsWith('pdf') || !(output.value instanceof Uint8Array)) continue;
    try {
      const document = await loadPdf(output.value);
      const briefing = artifact.briefingId ? briefings.get(artifact.briefingId) : undefined;
      const metadata = metadataFor(artifact.kind, pack, briefing, allTags);
      document.setTitle(metadata.title, { showInWindowTitleBar: true });
      if (metadata.author) document.setAuthor(metadata.author);
      if (metadata.subject) document.setSubject(metadata.subject);
      // pdf-lib joins keywords with spaces; a separator keeps `North Korea` one keyword.
      document.setKeywords([metadata.keywords.join('; ')]);
      document.setLanguage(pack.language);
      document.setCreator(`${generator.name} ${generator.version}`);
      document.setProducer(`${options.browserVersion} and pdf-lib, via ${generator.name}`);
      document.setCreationDate(date);
      document.setModificationDate(date);

      const foreign = [...fontNames(document)].filter((name) => !isBundledPdfFont(name));
      if (foreign.length > 0) {
        throw new Error(
          `fonts outside the bundle were embedded (${foreign.join(', ')}); a character of the source is not covered by the bundled fonts`,
        );
      }

      // A document /ID derived from the content, so two builds of the same source match byte for byte.
      const id = createHash('sha256')
        .update(output.value)
        .update(JSON.stringify(metadata))
        .digest('hex')
        .slice(0, 32);
      document.context.trailerInfo.ID = PDFArray.withContext(document.context);
      const idArray = document.context.trailerInfo.ID as PDFArray;
      idArray.push(PDFHexString.of(id));
      idArray.push(PDFHexString.of(id));

      output.value = await document.save({ useObjectStreams: false, updateFieldAppearances: false });
      artifact.pages = document.getPageCount();
    } catch (cause) {
      throw new StageError('post-process', output.path, { cause });
    }
  }
  return files;
}
