/**
 * The EPUB's reading of a briefing body: semantics its XHTML needs and the print HTML must not carry.
 *
 * A pure function over a copy of the converted, sanitized tree, applied on the XHTML path only:
 * - footnote references become `noteref`s and the notes an `endnotes` section of `endnote`s (EPUB
 *   Structural Semantics and DPUB-ARIA), so reading systems can show a note in place; the section goes
 *   back to the end of the body, where remark-rehype put it before the Unpacked Q&A took it in;
 * - the Unpacked section is marked as a `qna` section;
 * - `align` on table cells, which EPUB's XHTML does not allow, becomes a class;
 * - task-list checkboxes, form controls with no label, become marks with an accessible name.
 */
import type { Element, Properties, Root } from 'hast';
import { CONTINUE, SKIP, visit } from 'unist-util-visit';

/** What a task-list mark says to assistive technology. */
const taskMarkLabels = { done: 'Done', open: 'Not done' } as const;

/** The class that replaces a table cell's `align`. */
function alignClass(align: string): string {
  return `align-${align}`;
}

function classes(node: Element): string[] {
  const value: unknown = node.properties.className;
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(/\s+/) : [];
}

function addClass(properties: Properties, name: string): void {
  const current: unknown = properties.className;
  const list = Array.isArray(current) ? current.map(String) : typeof current === 'string' ? [current] : [];
  properties.className = [...list, name];
}

function isNotesSection(node: Element): boolean {
  return node.tagName === 'section' && node.properties.dataFootnotes !== undefined;
}

/** Marks footnote references and the links back from a note. */
function markNoteLinks(node: Element): void {
  if (node.tagName !== 'a') return;
  if (node.properties.dataFootnoteRef !== undefined) {
    node.properties['epub:type'] = 'noteref';
    node.properties.role = 'doc-noteref';
  } else if (node.properties.dataFootnoteBackref !== undefined) {
    node.properties.role = 'doc-backlink';
  }
}

/** Marks the notes section and each note in its list (a note may itself refer to a note). */
function markNotes(section: Element): void {
  section.properties['epub:type'] = 'endnotes';
  section.properties.role = 'doc-endnotes';
  for (const list of section.children) {
    if (list.type !== 'element' || list.tagName !== 'ol') continue;
    for (const item of list.children) {
      if (item.type === 'element' && item.tagName === 'li') item.properties['epub:type'] = 'endnote';
    }
  }
  visit(section, 'element', markNoteLinks);
}

/** Returns the tree of a body as the EPUB reads it; the tree given is left as it was. */
export function epubSemantics(tree: Root): Root {
  const result = structuredClone(tree);
  let notes: Element | undefined;

  visit(result, 'element', (node, index, parent) => {
    if (isNotesSection(node)) {
      markNotes(node);
      if (parent && parent !== result && index !== undefined) {
        notes = node;
        parent.children.splice(index, 1);
        return index;
      }
      return SKIP;
    }
    const properties = node.properties;
    markNoteLinks(node);
    if (node.tagName === 'section' && classes(node).includes('unpacked')) {
      properties['epub:type'] = 'qna';
    } else if ((node.tagName === 'td' || node.tagName === 'th') && typeof properties.align === 'string') {
      addClass(properties, alignClass(properties.align));
      delete properties.align;
    } else if (node.tagName === 'input' && properties.type === 'checkbox') {
      const done = properties.checked === true;
      node.tagName = 'span';
      node.properties = {
        className: ['task-mark', done ? 'task-done' : 'task-open'],
        role: 'img',
        ariaLabel: done ? taskMarkLabels.done : taskMarkLabels.open,
      };
    }
    return CONTINUE;
  });
  if (notes) result.children.push(notes);
  return result;
}
