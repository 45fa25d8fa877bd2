/**
 * Checks the structure of a briefing's body that a Markdown renderer passes over in silence but a
 * reader notices: footnotes used but never defined (they print as `[^1]`), footnotes defined but never
 * used or defined twice (their text is left out), and empty sections (a heading with nothing under it).
 *
 * The checks are pure functions of the tree and the text, {@link findBodyProblems}; the plugin only
 * turns what they find into messages.
 */
import type { Heading, Nodes, Root, RootContent } from 'mdast';
import { toString as mdastToString } from 'mdast-util-to-string';
import type { Point } from 'unist';
import { visit } from 'unist-util-visit';
import type { VFile } from 'vfile';
import { location } from 'vfile-location';
import { error, warning } from '../messages.ts';

/** A problem found in a body, before it becomes a message. */
export interface BodyProblem {
  severity: 'error' | 'warning';
  reason: string;
  ruleId: string;
  place: Point;
}

/** Reports the problems of {@link findBodyProblems} on the file. */
export function remarkBodyChecks() {
  return (tree: Root, file: VFile) => {
    for (const problem of findBodyProblems(tree, String(file.value))) {
      const report = problem.severity === 'error' ? error : warning;
      report(file, problem.reason, { ruleId: problem.ruleId, place: problem.place });
    }
  };
}

/** Every footnote and section problem of a body; `text` is the text the tree was parsed from. */
export function findBodyProblems(tree: Root, text: string): BodyProblem[] {
  return [...findFootnoteProblems(tree, text), ...findEmptySections(tree)];
}

function shown(label: string): string {
  return `\`[^${label.length > 30 ? `${label.slice(0, 29)}…` : label}]\``;
}

/** Footnotes used but not defined, defined but not used, and defined twice. */
export function findFootnoteProblems(tree: Root, text: string): BodyProblem[] {
  const problems: BodyProblem[] = [];
  const used = new Set<string>();
  const defined = new Map<string, Point>();
  const definitions: Array<{ identifier: string; label: string; place: Point }> = [];

  visit(tree, (node) => {
    if (node.type === 'footnoteReference') used.add(node.identifier);
    if (node.type !== 'footnoteDefinition' || !node.position) return;
    const place = node.position.start;
    const label = node.label ?? node.identifier;
    const first = defined.get(node.identifier);
    if (first) {
      problems.push({
        severity: 'error',
        reason: `Unexpected second footnote ${shown(label)}, already defined on line ${first.line}, so this one is left out; merge the two notes or give this one its own label`,
        ruleId: 'duplicate-footnote',
        place,
      });
      return;
    }
    defined.set(node.identifier, place);
    definitions.push({ identifier: node.identifier, label, place });
  });

  for (const definition of definitions) {
    if (used.has(definition.identifier)) continue;
    problems.push({
      severity: 'error',
      reason: `Unexpected footnote ${shown(definition.label)} that the text never refers to, so it is left out; add ${shown(definition.label)} where the note belongs, or remove the note`,
      ruleId: 'unused-footnote',
      place: definition.place,
    });
  }

  // A reference without a definition is not a footnote to the parser: it stays text, `[^1]`. Find it
  // in the source of each text node, where a backslash before it (`\[^1]`) still shows.
  let lines: ReturnType<typeof location> | undefined;
  visit(tree, 'text', (node) => {
    const start = node.position?.start.offset;
    const end = node.position?.end.offset;
    if (start === undefined || end === undefined || !node.value.includes('[^')) return;
    const raw = text.slice(start, end);
    for (const match of raw.matchAll(/(?<!\\)\[\^([^\]\s]+)\]/g)) {
      lines ??= location(text);
      const place = lines.toPoint(start + match.index);
      const label = match[1] ?? '';
      if (!place) continue;
      problems.push({
        severity: 'error',
        reason: `Unexpected footnote ${shown(label)} without a note, so it prints as ${shown(label)}; add a line \`[^${label}]: …\` with the note, or remove the reference`,
        ruleId: 'missing-footnote',
        place: { line: place.line, column: place.column },
      });
    }
  });
  return problems;
}

/** Nodes that print nothing where they stand: definitions, footnotes (they go to the end), raw HTML, rules. */
function printsNothing(node: RootContent): boolean {
  return (
    node.type === 'definition' ||
    node.type === 'footnoteDefinition' ||
    node.type === 'html' ||
    node.type === 'thematicBreak'
  );
}

/**
 * Headings with nothing under them: followed directly by a heading of the same or a higher rank,
 * or by the end of the body.
 */
export function findEmptySections(tree: Root): BodyProblem[] {
  const problems: BodyProblem[] = [];
  const children = tree.children.filter((node) => !printsNothing(node));
  children.forEach((node, index) => {
    if (node.type !== 'heading' || !node.position) return;
    const next = children[index + 1];
    if (next && (next.type !== 'heading' || next.depth > node.depth)) return;
    problems.push({
      severity: 'warning',
      reason: `Unexpected empty section ${headingText(node)}, expected text under its heading${next ? ' before the next heading of the same or a higher rank' : ''}; write the section or remove the heading`,
      ruleId: 'empty-section',
      place: node.position.start,
    });
  });
  return problems;
}

function headingText(node: Heading | Nodes): string {
  const text = mdastToString(node).replace(/\s+/g, ' ').trim();
  return `\`${text.length > 40 ? `${text.slice(0, 39)}…` : text}\``;
}
