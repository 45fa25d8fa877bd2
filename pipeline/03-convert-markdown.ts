/**
 * Stage 3: convert each briefing's Markdown body to HTML (for print) and XHTML (for the EPUB).
 *
 * remark-parse → remark-gfm → (raw HTML reported) → (footnotes and sections checked) → remark-rehype →
 * Unpacked Q&A → links and images → ids → rehype-sanitize (always the last tree step) → rehype-stringify.
 * The processors are frozen once; what differs per briefing travels on the file. `check` runs the same
 * steps up to the ids, which is every step that reports a problem, and serialises nothing.
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
import { rehypeAnchors } from './lib/markdown/rehype-anchors.ts';
import { rehypeResources } from './lib/markdown/rehype-resources.ts';
import { rehypeUnpacked } from './lib/markdown/rehype-unpacked.ts';
import { remarkBodyChecks } from './lib/markdown/remark-body-checks.ts';
import { remarkRawHtml } from './lib/markdown/remark-raw-html.ts';
import type { BuildFiles, Content, Heading } from './lib/model.ts';
import { mapWithConcurrency } from './lib/pool.ts';

/** The Markdown processor of `check`: every step that can report a problem, and no serialising. */
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
 * XHTML serialiser beside it. Loaded on first use, once, so `check` never loads what only serialises.
 */
async function loadBuildProcessor() {
  const [
    { default: rehypeSanitize },
    { default: rehypeStringify },
    { sanitizeSchema },
    { toXast },
    { toXml },
  ] = await Promise.all([
    import('rehype-sanitize'),
    import('rehype-stringify'),
    import('./lib/markdown/sanitize-schema.ts'),
    import('hast-util-to-xast'),
    import('xast-util-to-xml'),
  ]);
  const processor = checkProcessor().use(rehypeSanitize, sanitizeSchema).use(rehypeStringify).freeze();
  /** Serialises a body as an XHTML fragment; the namespace comes from the document it is placed in. */
  const toXhtmlFragment = (tree: HastRoot): string => {
    const xast = toXast(tree);
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
}

/** Converts every briefing body; attaches `content` to each briefing file. */
export async function convertMarkdown(files: BuildFiles, options: ConvertOptions = {}): Promise<BuildFiles> {
  if (options.mode === 'check') {
    // A few at a time: the trees of five hundred briefings held at once cost more in garbage
    // collection than they save in waiting for image files.
    await mapWithConcurrency(files.briefings, 4, (file) => checkBriefing(file, files.sourceDir));
    return files;
  }
  await Promise.all(files.briefings.map((file) => convertBriefing(file, files.sourceDir)));
  return files;
}

/**
 * The body of a briefing as a file of its own. Blank lines stand in for the front matter, so every
 * position in the body is a position in the file. A briefing whose header has errors is still
 * checked, so one run reports the problems of both.
 */
function bodyFile(file: VFile, sourceDir: string): VFile | undefined {
  const { briefing, bodyStart } = file.data;
  if (!bodyStart) return undefined;
  const text = String(file.value);
  return new VFile({
    path: file.path,
    value: '\n'.repeat(bodyStart.line - 1) + text.slice(bodyStart.offset),
    data: briefing ? { briefing, sourceDir } : { sourceDir },
  });
}

/** Checks one briefing body: reports its problems on the file, converts nothing. */
export async function checkBriefing(file: VFile, sourceDir: string): Promise<void> {
  const body = bodyFile(file, sourceDir);
  if (!body) return;
  await checkProcessor.run(checkProcessor.parse(body), body);
  file.messages.push(...body.messages);
}

/** Converts one briefing file that passed validation. */
export async function convertBriefing(file: VFile, sourceDir: string): Promise<void> {
  const body = bodyFile(file, sourceDir);
  if (!body) return;
  buildProcessor ??= loadBuildProcessor();
  const { processor, toXhtmlFragment } = await buildProcessor;
  const mdast = processor.parse(body);
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

/** The plain text of every block a reader must find in the output: paragraphs, headings, cells. */
function collectBlocks(tree: MdastRoot): string[] {
  const blocks: string[] = [];
  const take = (node: MdastNodes) => {
    const text = normaliseText(mdastToString(node, { includeHtml: false }));
    if (text) blocks.push(text);
  };
  visit(tree, (node) => {
    if (node.type === 'paragraph' || node.type === 'heading' || node.type === 'tableCell') {
      take(node);
      return 'skip';
    }
    return undefined;
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
