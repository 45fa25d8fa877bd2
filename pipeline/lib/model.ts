/**
 * The validated model of a pack and its briefings, and the build state that flows through the stages.
 *
 * Every artifact in flight is a `VFile`; what a stage learns about a file hangs on `file.data`, typed
 * here by augmenting vfile's `DataMap`.
 */
import type { VFile } from 'vfile';

/** Paper sizes a pack can be set on. */
export type Paper = 'A4' | 'Letter';

/** A source a briefing cites. */
export interface Source {
  title: string;
  publisher?: string;
  url?: string;
  date?: string;
}

/** `pack.yaml`, validated, with defaults applied and the briefing order resolved. */
export interface Pack {
  title: string;
  subtitle?: string;
  date: string;
  edition?: string;
  organisation?: string;
  audience?: string;
  language: string;
  paper: Paper;
  marking?: string;
  markings: string[];
  /** Briefing ids in pack order (resolved from `briefings` or the default order). */
  briefingIds: string[];
  brief: { title: string; briefingIds: string[] };
}

/** A briefing's front matter, validated, with defaults applied. */
export interface BriefingMeta {
  id: string;
  title: string;
  date: string;
  summary: string;
  keyPoints: string[];
  marking?: string;
  tags: string[];
  regions: string[];
  authors: string[];
  sources: Source[];
}

/** Where the Markdown body starts in its file, so body positions map to file positions. */
export interface BodyStart {
  /** 1-based line of the first body line. */
  line: number;
  /** 0-based offset of the body in the file's text. */
  offset: number;
}

/** A heading of a briefing's body, as it appears in contents, bookmarks and navigation. */
export interface Heading {
  depth: number;
  text: string;
  /** The element id in the rendered page (already prefixed, unique across the pack). */
  id: string;
  /** Whether this heading is a question of the briefing's Unpacked section. */
  question: boolean;
}

/** An image a briefing uses, read and checked, served to the browser and packaged into the EPUB. */
export interface Asset {
  /** Path relative to the root of a rendered document, e.g. `assets/3f2a…9c.png`. */
  href: string;
  mediaType: string;
  bytes: Uint8Array;
}

/** An image a briefing body read from the source folder: what it wrote, and what that gave. */
export interface ImageRead {
  /** The decoded relative path, as written in the Markdown. */
  reference: string;
  href: string;
  mediaType: string;
}

/** A run of text of a briefing (a paragraph, heading or cell, split at footnote marks) and where it starts. */
export interface TextBlock {
  text: string;
  line: number;
  column: number;
}

/** What the convert stage produces for one briefing. */
export interface Content {
  /** The body as an HTML fragment, for the print pages. */
  html: string;
  /** The same body as an XHTML fragment (well-formed XML), for the EPUB. */
  xhtml: string;
  headings: Heading[];
  /** Every run of text of the body a reader must find in the output, for the content-loss check. */
  blocks: TextBlock[];
  assets: Asset[];
  /** Whether the body has footnotes (the EPUB marks them up as such). */
  hasFootnotes: boolean;
}

/** Kinds of artifact the build writes, as named in `manifest.json`. */
export type ArtifactKind = 'pack-pdf' | 'brief-pdf' | 'briefing-pdf' | 'briefing-brief-pdf' | 'epub' | 'html';

/** What the build knows about an output file. */
export interface ArtifactInfo {
  kind?: ArtifactKind;
  briefingId?: string;
  pages?: number;
  /** Shown in `manifest.json` next to the artifact (e.g. the brief's fit decision). */
  details?: Record<string, unknown>;
  /** Taken from the build cache: printed, post-processed and verified by an earlier build. */
  cached?: boolean;
  /** Its bytes were verified (pdf-lib, page count, qpdf) once post-processed. */
  verified?: boolean;
}

/** A document rendered from templates, ready to print or package. */
export interface DocumentInfo {
  /** What the document becomes. */
  target: 'pack' | 'briefing' | 'brief' | 'briefing-brief' | 'epub';
  briefingId?: string;
}

declare module 'vfile' {
  interface DataMap {
    /** On `pack.yaml` after validation. */
    pack: Pack;
    /** On a briefing source after validation. */
    briefing: BriefingMeta;
    /** On a briefing source: where its Markdown body starts. */
    bodyStart: BodyStart;
    /** On a briefing source after conversion. */
    content: Content;
    /** On a briefing body in conversion: the real path of the source folder, for resolving images. */
    sourceDir: string;
    /** On a briefing body in conversion: the images it uses. */
    assets: Asset[];
    /** On a briefing body in conversion: each image read from the source folder, in order. */
    imageReads: ImageRead[];
    /** On a rendered document. */
    document: DocumentInfo;
    /** On a document to print: its page furniture (running heads, marking, paper size). */
    pageCss: string;
    /** On an output file. */
    artifact: ArtifactInfo;
  }
}

/** The files of a build, handed from stage to stage. */
export interface BuildFiles {
  /** Absolute path of the source folder. */
  sourceDir: string;
  pack: VFile;
  /** Briefing sources; after validation, in pack order and limited to the pack's briefings. */
  briefings: VFile[];
  /** Rendered documents (HTML to print, XHTML to package), paths relative to the output folder. */
  documents: VFile[];
  /** Files to write, paths relative to the output folder; values are text or bytes. */
  outputs: VFile[];
}
