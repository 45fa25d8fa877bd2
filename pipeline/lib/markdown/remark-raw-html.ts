/**
 * Reports raw HTML in a briefing's body. remark-rehype drops it (raw HTML never reaches a page); this
 * plugin makes sure the author hears about each piece, at its position.
 */
import type { Html, Root } from 'mdast';
import { visit } from 'unist-util-visit';
import type { VFile } from 'vfile';
import { warning } from '../messages.ts';

/** Warns about every raw HTML node of the tree; the node itself is dropped later. */
export function remarkRawHtml() {
  return (tree: Root, file: VFile) => {
    visit(tree, 'html', (node: Html) => {
      const snippet = node.value.trim().split('\n')[0] ?? '';
      const shown = snippet.length > 30 ? `${snippet.slice(0, 29)}…` : snippet;
      warning(file, `Unexpected raw HTML \`${shown}\`, expected Markdown; it is left out of every artifact`, {
        ruleId: 'raw-html',
        place: node.position,
      });
    });
  };
}
