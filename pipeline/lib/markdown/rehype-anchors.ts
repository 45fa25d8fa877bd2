/**
 * Gives every heading an id and prefixes every id of a briefing's body with the briefing's id, so ids
 * are unique across the pack and content can never clobber an id of the templates. Links to anchors
 * inside the body (`[see](#a-heading)`, footnote references) follow; a link to an anchor that does not
 * exist is an error.
 */

import GithubSlugger from 'github-slugger';
import type { Element, Root } from 'hast';
import { toString as hastToString } from 'hast-util-to-string';
import { visit } from 'unist-util-visit';
import type { VFile } from 'vfile';
import { error } from '../messages.ts';
import { closest } from '../suggest.ts';

/** The prefix of every id in a briefing's body. Template ids never start with `c-`. */
export function contentIdPrefix(briefingId: string): string {
  return `c-${briefingId}-`;
}

/** Property names that hold id references (space-separated lists). */
const idReferenceProperties = ['ariaDescribedBy', 'ariaLabelledBy'] as const;

/** Assigns heading ids and prefixes all ids and in-body fragment links of a briefing. */
export function rehypeAnchors() {
  return (tree: Root, file: VFile) => {
    const briefingId = file.data.briefing?.id ?? 'briefing';
    const prefix = contentIdPrefix(briefingId);
    const slugger = new GithubSlugger();
    const renamed = new Map<string, string>();

    visit(tree, 'element', (node: Element) => {
      if (/^h[1-6]$/.test(node.tagName) && typeof node.properties.id !== 'string') {
        node.properties.id = slugger.slug(hastToString(node).trim() || 'section');
      }
      const id = node.properties.id;
      if (typeof id === 'string') {
        const next = prefix + id.replace(/^user-content-/, '');
        renamed.set(id, next);
        node.properties.id = next;
      }
    });

    visit(tree, 'element', (node: Element) => {
      for (const property of idReferenceProperties) {
        const value: unknown = node.properties[property];
        const ids: string[] = Array.isArray(value)
          ? value.map(String)
          : typeof value === 'string'
            ? value.split(/\s+/)
            : [];
        if (ids.length > 0) node.properties[property] = ids.map((id) => renamed.get(id) ?? prefix + id);
      }
      const href = node.tagName === 'a' ? node.properties.href : undefined;
      if (typeof href !== 'string' || !href.startsWith('#')) return;
      const target = safeDecode(href.slice(1));
      const next = renamed.get(target) ?? renamed.get(`user-content-${target}`);
      if (next) {
        node.properties.href = `#${next}`;
        return;
      }
      error(
        file,
        `Unexpected link to \`${href}\`, expected an anchor of a heading in this briefing${suggestAnchor(target, renamed)}`,
        { ruleId: 'missing-anchor', place: node.position },
      );
      node.properties.href = undefined;
    });
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function suggestAnchor(target: string, renamed: Map<string, string>): string {
  const headings = [...renamed.keys()].filter(
    (id) => !id.startsWith('user-content-') && id !== 'footnote-label',
  );
  const suggestion = closest(target, headings);
  return suggestion === undefined ? '' : `; did you mean \`#${suggestion}\`?`;
}
