/**
 * Bookmarks a reader can use. Chromium writes an outline from the headings it prints, but takes the
 * titles from the layout: upper case where the style says so, words run together where a title
 * wraps, a heading split over two pages written twice. This module keeps Chromium's destinations
 * (exact positions) and rebuilds the outline with the titles of the source, edited in place.
 */
import {
  PDFArray,
  PDFDict,
  type PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  type PDFRef,
  PDFString,
} from 'pdf-lib';
import type { Heading } from './model.ts';
import { foldForComparison } from './pdf-text.ts';

/** A bookmark to write: its title and the bookmarks under it. */
export interface OutlineEntry {
  title: string;
  children: OutlineEntry[];
}

interface PrintedEntry {
  folded: string;
  destination: PDFArray;
}

/** Bookmarks for a briefing's body headings: sections, with the questions under their section. */
export function headingOutline(headings: readonly Heading[]): OutlineEntry[] {
  const entries: OutlineEntry[] = [];
  for (const heading of headings) {
    const entry = { title: heading.text, children: [] };
    const parent = entries.at(-1);
    if (heading.depth > 2 && parent) parent.children.push(entry);
    else if (heading.depth === 2) entries.push(entry);
  }
  return entries;
}

function readPrinted(document: PDFDocument): { entries: PrintedEntry[]; refs: PDFRef[] } {
  const entries: PrintedEntry[] = [];
  const refs: PDFRef[] = [];
  const walk = (reference: unknown) => {
    let current = reference;
    while (current) {
      const node = document.context.lookup(current as PDFRef);
      if (!(node instanceof PDFDict)) break;
      refs.push(current as PDFRef);
      const title = node.lookup(PDFName.of('Title'));
      const destination = node.lookup(PDFName.of('Dest'));
      if ((title instanceof PDFString || title instanceof PDFHexString) && destination instanceof PDFArray) {
        entries.push({ folded: foldForComparison(title.decodeText()), destination });
      }
      walk(node.get(PDFName.of('First')));
      current = node.get(PDFName.of('Next'));
    }
  };
  const root = document.catalog.lookup(PDFName.of('Outlines'));
  if (root instanceof PDFDict) {
    walk(root.get(PDFName.of('First')));
    const rootRef = document.catalog.get(PDFName.of('Outlines'));
    if (rootRef) refs.push(rootRef as PDFRef);
  }
  return { entries, refs };
}

/** Whether a title Chromium printed is the expected one (allowing its doubling of split headings). */
function sameTitle(printed: string, expected: string): boolean {
  return printed === expected || printed === expected + expected;
}

/**
 * Replaces the document's outline with `entries`, each pointing where Chromium's bookmark of the same
 * heading pointed. Returns the titles that had no printed heading to point at (they are left out).
 */
export function rewriteOutline(document: PDFDocument, entries: readonly OutlineEntry[]): string[] {
  const printed = readPrinted(document);
  const missing: string[] = [];
  let cursor = 0;
  const resolve = (
    list: readonly OutlineEntry[],
  ): Array<{ title: string; destination: PDFArray; children: unknown[] }> => {
    const resolved: Array<{ title: string; destination: PDFArray; children: unknown[] }> = [];
    for (const entry of list) {
      const folded = foldForComparison(entry.title);
      let found = -1;
      for (let index = cursor; index < printed.entries.length; index++) {
        if (sameTitle(printed.entries[index]?.folded ?? '', folded)) {
          found = index;
          break;
        }
      }
      const match = found >= 0 ? printed.entries[found] : undefined;
      if (!match) {
        missing.push(entry.title);
        continue;
      }
      cursor = found + 1;
      resolved.push({
        title: entry.title,
        destination: match.destination,
        children: resolve(entry.children),
      });
    }
    return resolved;
  };
  const tree = resolve(entries);

  const context = document.context;
  const root = context.obj({ Type: 'Outlines' }) as PDFDict;
  const rootRef = context.register(root);
  type Node = { title: string; destination: PDFArray; children: Node[] };
  const writeLevel = (parentRef: PDFRef, parent: PDFDict, nodes: Node[]): number => {
    const refs = nodes.map(() => context.nextRef());
    let total = 0;
    nodes.forEach((node, index) => {
      const ref = refs[index] as PDFRef;
      const dict = context.obj({}) as PDFDict;
      dict.set(PDFName.of('Title'), PDFHexString.fromText(node.title));
      dict.set(PDFName.of('Parent'), parentRef);
      dict.set(PDFName.of('Dest'), node.destination);
      if (index > 0) dict.set(PDFName.of('Prev'), refs[index - 1] as PDFRef);
      if (index < refs.length - 1) dict.set(PDFName.of('Next'), refs[index + 1] as PDFRef);
      const below = writeLevel(ref, dict, node.children);
      // Open the top level of a briefing, so its sections and questions show.
      if (below > 0) dict.set(PDFName.of('Count'), PDFNumber.of(below));
      context.assign(ref, dict);
      total += 1 + below;
    });
    if (refs.length > 0) {
      parent.set(PDFName.of('First'), refs[0] as PDFRef);
      parent.set(PDFName.of('Last'), refs.at(-1) as PDFRef);
    }
    return total;
  };
  const count = writeLevel(rootRef, root, tree as Node[]);
  root.set(PDFName.of('Count'), PDFNumber.of(count));

  for (const ref of printed.refs) context.delete(ref);
  document.catalog.set(PDFName.of('Outlines'), rootRef);
  return missing;
}
