/**
 * Typesets a briefing's "Unpacked" section as questions and answers.
 *
 * `## Unpacked` and the `### …?` headings under it become:
 * `<section class="unpacked"><h2>Unpacked</h2><section class="qa"><h3 class="qa-question">…</h3>
 * <div class="qa-answer">…</div></section>…</section>`, so print can keep a question with its answer
 * and the EPUB can mark the section up as such.
 */
import type { Element, ElementContent, Root, RootContent } from 'hast';
import { toString as hastToString } from 'hast-util-to-string';
import type { VFile } from 'vfile';
import { warning } from '../messages.ts';

/** Whether a heading's text names the Unpacked section (`Unpacked`, `Unpacked:`, any case). */
export function isUnpackedHeading(text: string): boolean {
  return /^unpacked:?$/i.test(text.trim());
}

function headingRank(node: RootContent | ElementContent): number | undefined {
  if (node.type !== 'element') return undefined;
  const match = /^h([1-6])$/.exec(node.tagName);
  return match ? Number(match[1]) : undefined;
}

/** Groups the Unpacked section of a body into question-and-answer sections. */
export function rehypeUnpacked() {
  return (tree: Root, file: VFile) => {
    const children = tree.children;
    const start = children.findIndex(
      (node) => headingRank(node) === 2 && isUnpackedHeading(hastToString(node as Element)),
    );
    if (start < 0) return;
    let end = start + 1;
    while (end < children.length) {
      const node = children[end] as RootContent;
      const rank = headingRank(node);
      if (rank !== undefined && rank <= 2) break;
      // The notes remark-rehype appends belong to the whole briefing, not to the last answer.
      if (node.type === 'element' && node.properties.dataFootnotes !== undefined) break;
      end++;
    }
    const heading = children[start] as Element;
    const inner = children.slice(start + 1, end) as ElementContent[];
    const section: Element = {
      type: 'element',
      tagName: 'section',
      properties: { className: ['unpacked'] },
      children: [heading, ...groupQuestions(inner, file)],
    };
    if (heading.position) section.position = heading.position;
    children.splice(start, end - start, section);
  };
}

function groupQuestions(nodes: ElementContent[], file: VFile): ElementContent[] {
  const result: ElementContent[] = [];
  let current: { question: Element; answer: ElementContent[] } | undefined;
  const flush = () => {
    if (!current) return;
    result.push({
      type: 'element',
      tagName: 'section',
      properties: { className: ['qa'] },
      children: [
        current.question,
        {
          type: 'element',
          tagName: 'div',
          properties: { className: ['qa-answer'] },
          children: current.answer,
        },
      ],
    });
    current = undefined;
  };
  for (const node of nodes) {
    if (headingRank(node) === 3) {
      flush();
      const question = node as Element;
      question.properties = { ...question.properties, className: ['qa-question'] };
      const text = hastToString(question).trim();
      if (!text.endsWith('?')) {
        warning(
          file,
          `Unexpected heading \`${text}\` in the Unpacked section, expected a question ending with \`?\`; rephrase it as a question or move it out of \`## Unpacked\``,
          { ruleId: 'unpacked-question', place: question.position },
        );
      }
      current = { question, answer: [] };
    } else if (current) {
      current.answer.push(node);
    } else {
      result.push(node);
    }
  }
  flush();
  return result;
}
