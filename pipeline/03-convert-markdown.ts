/**
 * Stage 3: convert each briefing's Markdown body to HTML (for print) and XHTML (for the EPUB).
 *
 * remark-parse → remark-gfm (in a worker, within a time and depth budget) → (raw HTML reported) →
 * (footnotes and sections checked) → remark-rehype → Unpacked Q&A → links and images → ids →
 * rehype-sanitize (always the last tree step) → rehype-stringify. The processors are frozen once; what
 * differs per briefing travels on the file. `check` runs the same steps up to the ids, which is every
 * step that reports a problem, and serialises nothing. The XHTML is the same tree with the EPUB's
 * semantics added to a copy (`epubSemantics`), so both say the same text.
 */
import type { Root as HastRoot } from 'hast';
import { toString as hastToString } from 'hast-util-to-string';
import type { Nodes as MdastNodes, Root as MdastRoot } from 'mdast';
import { toString as mdastToString } from 'mdast-util-to-string';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';
import { visit } from 'unist-util-visit';
import { VFile } from 'vfile';
import { type ConversionCache, reportStoredWarnings } from './lib/conversion-cache.ts';
import { type ParseResult, parseMarkdown } from './lib/markdown/parse-markdown.ts';

export { startMarkdownParser } from './lib/markdown/parse-markdown.ts';

import { rehypeAnchors } from './lib/markdown/rehype-anchors.ts';
import { rehypeResources } from './lib/markdown/rehype-resources.ts';
import { rehypeUnpacked } from './lib/markdown/rehype-unpacked.ts';
import { remarkBodyChecks } from './lib/markdown/remark-body-checks.ts';
import { remarkRawHtml } from './lib/markdown/remark-raw-html.ts';
import { error } from './lib/messages.ts';
import type { BuildFiles, Content, Heading, TextBlock } from './lib/model.ts';
import { mapWithConcurrency } from './lib/pool.ts';
import type { RemoteImages } from './lib/remote-images.ts';

/**
 * The Markdown processor of `check`: every step that can report a problem, and no serialising. Its
 * parser is used only inside the parsing worker's budget (`parseMarkdown`); here it runs the rest.
 */
const checkProcessor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkRawHtml)
  .use(remarkBodyChecks)
  .use(remarkRehype, { footnoteLabel: 'Notes', footnoteBackContent: '↑', footnoteLabelTagName: 'h2' })
  .use(rehypeUnpacked)
  .use(rehypeResources)
  .use(rehypeAnchors)
  .freeze();

/**
 * The one Markdown processor of a build: the checks, then rehype-sanitize and the serialiser, with the
 * XHTML serialiser and the EPUB semantics beside it. Loaded on first use, once, so `check` never loads
 * what only serialises.
 */
async function loadBuildProcessor() {
  const [
    { default: rehypeSanitize },
    { default: rehypeStringify },
    { sanitizeSchema },
    { epubSemantics },
    { toXast },
    { toXml },
  ] = await Promise.all([
    import('rehype-sanitize'),
    import('rehype-stringify'),
    import('./lib/markdown/sanitize-schema.ts'),
    import('./lib/markdown/epub-semantics.ts'),
    import('hast-util-to-xast'),
    import('xast-util-to-xml'),
  ]);
  const processor = checkProcessor().use(rehypeSanitize, sanitizeSchema).use(rehypeStringify).freeze();
  /** The body as an XHTML fragment with the EPUB's semantics; the namespace comes from its document. */
  const toXhtmlFragment = (tree: HastRoot): string => {
    const xast = toXast(epubSemantics(tree));
    if (xast.type === 'root') {
      for (const child of xast.children) if (child.type === 'element') delete child.attributes.xmlns;
    }
    return toXml(xast, { closeEmptyElements: true });
  };
  return { processor, toXhtmlFragment };
}

let buildProcessor: ReturnType<typeof loadBuildProcessor> | undefined;

/** Options of {@link convertMarkdown}. */
export interface ConvertOptions {
  /** `check` only reports problems: no HTML, no XHTML, no `content` on the files. */
  mode?: 'build' | 'check';
  /** The build's fetcher of remote images; without it (the default) a remote image is an error. */
  remoteImages?: RemoteImages | undefined;
  /** Conversions of earlier builds (not with remote images: they can change behind an address). */
  cache?: ConversionCache | undefined;
}

/** Converts every briefing body; attaches `content` to each briefing file. */
export async function convertMarkdown(files: BuildFiles, options: ConvertOptions = {}): Promise<BuildFiles> {
  if (options.mode === 'check') {
    // A few at a time: the trees of five hundred briefings held at once cost more in garbage
    // collection than they save in waiting for image files.
    await mapWithConcurrency(files.briefings, 4, (file) => checkBriefing(file, files.sourceDir));
    return files;
  }
  await Promise.all(files.briefings.map((file) => convertBriefing(file, files.sourceDir, options)));
  return files;
}

/**
 * The body of a briefing as a file of its own. Blank lines stand in for the front matter, so every
 * position in the body is a position in the file. A briefing whose header has errors is still
 * checked, so one run reports the problems of both.
 */
function bodyFile(file: VFile, sourceDir: string, remoteImages?: RemoteImages): VFile | undefined {
  const { briefing, bodyStart } = file.data;
  if (!bodyStart) return undefined;
  const text = String(file.value);
  return new VFile({
    path: file.path,
    value: '\n'.repeat(bodyStart.line - 1) + text.slice(bodyStart.offset),
    data: { ...(briefing ? { briefing } : {}), sourceDir, ...(remoteImages ? { remoteImages } : {}) },
  });
}

/** Parses a body within the parser's budget; a body over it is an error on the briefing. */
async function parseBody(
  file: VFile,
  body: VFile,
  parse: (text: string) => ParseResult | Promise<ParseResult> = parseMarkdown,
): Promise<MdastRoot | undefined> {
  const parsed = await parse(String(body.value));
  if ('tree' in parsed) return parsed.tree;
  const { reason, ruleId, place } = parsed.problem;
  error(file, reason, { ruleId, place: place ?? { line: file.data.bodyStart?.line ?? 1, column: 1 } });
  return undefined;
}

/**
 * Checks one briefing body: reports its problems on the file, converts nothing. `parse` is the
 * bounded parser of {@link parseMarkdown} unless the caller bounds its own thread (`check-worker.ts`).
 */
export async function checkBriefing(
  file: VFile,
  sourceDir: string,
  parse?: (text: string) => ParseResult,
): Promise<void> {
  const body = bodyFile(file, sourceDir);
  if (!body) return;
  const mdast = await parseBody(file, body, parse);
  if (!mdast) return;
  await checkProcessor.run(mdast, body);
  file.messages.push(...body.messages);
}

/** Converts one briefing file that passed validation. */
export async function convertBriefing(
  file: VFile,
  sourceDir: string,
  options: ConvertOptions = {},
): Promise<void> {
  const body = bodyFile(file, sourceDir, options.remoteImages);
  if (!body) return;
  const cache = options.remoteImages ? undefined : options.cache;
  const stored = await cache?.get(file);
  if (stored) {
    reportStoredWarnings(file, stored.warnings);
    file.data.content = stored.content;
    return;
  }
  const mdast = await parseBody(file, body);
  if (!mdast) return;
  buildProcessor ??= loadBuildProcessor();
  const { processor, toXhtmlFragment } = await buildProcessor;
  const blocks = collectBlocks(mdast);
  const hast = (await processor.run(mdast, body)) as HastRoot;
  const html = processor.stringify(hast, body);
  const xhtml = toXhtmlFragment(hast);
  file.messages.push(...body.messages);

  const content: Content = {
    html,
    xhtml,
    headings: collectHeadings(hast),
    blocks,
    assets: body.data.assets ?? [],
    hasFootnotes: hasFootnotes(mdast),
  };
  file.data.content = content;
  cache?.put(file, content, body.messages, body.data.imageReads ?? []);
}

function hasFootnotes(tree: MdastRoot): boolean {
  let found = false;
  visit(tree, 'footnoteDefinition', () => {
    found = true;
  });
  return found;
}

/** Normalises text for comparison: one space between words, no leading or trailing space. */
export function normaliseText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Every run of text a reader must find in the output: paragraphs, headings, table cells and code,
 * split where a footnote mark sits (the printed number is not in the source) and without image
 * descriptions (they are not printed).
 */
function collectBlocks(tree: MdastRoot): TextBlock[] {
  const blocks: TextBlock[] = [];
  const take = (nodes: MdastNodes[], start: MdastNodes) => {
    const text = normaliseText(
      nodes.map((node) => mdastToString(node, { includeHtml: false, includeImageAlt: false })).join(''),
    );
    const point = start.position?.start;
    if (text) blocks.push({ text, line: point?.line ?? 1, column: point?.column ?? 1 });
  };
  visit(tree, (node) => {
    if (node.type === 'code') {
      take([node], node);
      return 'skip';
    }
    if (node.type !== 'paragraph' && node.type !== 'heading' && node.type !== 'tableCell') return undefined;
    let run: MdastNodes[] = [];
    for (const child of node.children) {
      if (child.type === 'footnoteReference') {
        if (run[0]) take(run, run[0]);
        run = [];
      } else {
        run.push(child);
      }
    }
    if (run[0]) take(run, run[0]);
    return 'skip';
  });
  return blocks;
}

/** The headings of the converted body (h2–h4), for contents, bookmarks and navigation. */
function collectHeadings(tree: HastRoot): Heading[] {
  const headings: Heading[] = [];
  visit(tree, 'element', (node) => {
    const match = /^h([2-4])$/.exec(node.tagName);
    const id = node.properties.id;
    if (!match || typeof id !== 'string' || id.endsWith('-footnote-label')) return;
    const className = node.properties.className;
    const classes = Array.isArray(className) ? className.map(String) : [];
    headings.push({
      depth: Number(match[1]),
      text: normaliseText(hastToString(node)),
      id,
      question: classes.includes('qa-question'),
    });
  });
  return headings;
}
