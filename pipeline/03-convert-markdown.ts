/**
 * Stage 3: convert each briefing's Markdown body to HTML (for print) and XHTML (for the EPUB).
 *
 * remark-parse → remark-gfm (in a worker, within a time and depth budget) → (raw HTML reported) →
 * remark-rehype → Unpacked Q&A → links and images → ids → rehype-sanitize (always the last tree step)
 * → rehype-stringify. The processor is frozen once; what differs per briefing travels on the file.
 * The XHTML is the same tree with the EPUB's semantics added to a copy (`epubSemantics`), so both say
 * the same text.
 */
import type { Root as HastRoot } from 'hast';
import { toString as hastToString } from 'hast-util-to-string';
import { toXast } from 'hast-util-to-xast';
import type { Nodes as MdastNodes, Root as MdastRoot } from 'mdast';
import { toString as mdastToString } from 'mdast-util-to-string';
import rehypeSanitize from 'rehype-sanitize';
import rehypeStringify from 'rehype-stringify';
import remarkGfm from 'remark-gfm';
import remarkParse from 'remark-parse';
import remarkRehype from 'remark-rehype';
import { unified } from 'unified';
import { visit } from 'unist-util-visit';
import { VFile } from 'vfile';
import { toXml } from 'xast-util-to-xml';
import { epubSemantics } from './lib/markdown/epub-semantics.ts';
import { parseMarkdown } from './lib/markdown/parse-markdown.ts';
import { rehypeAnchors } from './lib/markdown/rehype-anchors.ts';
import { rehypeResources } from './lib/markdown/rehype-resources.ts';
import { rehypeUnpacked } from './lib/markdown/rehype-unpacked.ts';
import { remarkRawHtml } from './lib/markdown/remark-raw-html.ts';
import { sanitizeSchema } from './lib/markdown/sanitize-schema.ts';
import { error } from './lib/messages.ts';
import type { BuildFiles, Content, Heading, TextBlock } from './lib/model.ts';
import type { RemoteImages } from './lib/remote-images.ts';

/** The one Markdown processor of the process. */
const processor = unified()
  .use(remarkParse)
  .use(remarkGfm)
  .use(remarkRawHtml)
  .use(remarkRehype, { footnoteLabel: 'Notes', footnoteBackContent: '↑', footnoteLabelTagName: 'h2' })
  .use(rehypeUnpacked)
  .use(rehypeResources)
  .use(rehypeAnchors)
  .use(rehypeSanitize, sanitizeSchema)
  .use(rehypeStringify)
  .freeze();

/** Options of {@link convertMarkdown}. */
export interface ConvertOptions {
  /** The build's fetcher of remote images; without it (the default) a remote image is an error. */
  remoteImages?: RemoteImages | undefined;
}

/** Converts every briefing body; attaches `content` to each briefing file. */
export async function convertMarkdown(files: BuildFiles, options: ConvertOptions = {}): Promise<BuildFiles> {
  await Promise.all(files.briefings.map((file) => convertBriefing(file, files.sourceDir, options)));
  return files;
}

/** Converts one briefing file that passed validation. */
export async function convertBriefing(
  file: VFile,
  sourceDir: string,
  options: ConvertOptions = {},
): Promise<void> {
  const { briefing, bodyStart } = file.data;
  if (!briefing || !bodyStart) return;
  const text = String(file.value);
  // Blank lines stand in for the front matter, so every position in the body is a position in the file.
  const body = new VFile({
    path: file.path,
    value: '\n'.repeat(bodyStart.line - 1) + text.slice(bodyStart.offset),
    data: { briefing, sourceDir, ...(options.remoteImages ? { remoteImages: options.remoteImages } : {}) },
  });
  // Parsed apart, within a time, memory and depth budget: see parse-markdown.ts.
  const parsed = await parseMarkdown(String(body.value));
  if ('problem' in parsed) {
    const { reason, ruleId, place } = parsed.problem;
    error(file, reason, { ruleId, place: place ?? { line: bodyStart.line, column: 1 } });
    return;
  }
  const mdast = parsed.tree;
  const blocks = collectBlocks(mdast);
  const hast = (await processor.run(mdast, body)) as HastRoot;
  const html = processor.stringify(hast, body);
  const xhtml = toXhtmlFragment(epubSemantics(hast));
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
}

/** Serialises a body as an XHTML fragment; the namespace comes from the document it is placed in. */
function toXhtmlFragment(tree: HastRoot): string {
  const xast = toXast(tree);
  if (xast.type === 'root') {
    for (const child of xast.children) if (child.type === 'element') delete child.attributes.xmlns;
  }
  return toXml(xast, { closeEmptyElements: true });
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
