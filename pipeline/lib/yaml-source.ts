/**
 * YAML that loses nothing: parse `pack.yaml` and front matter with the `yaml` package, keep every
 * node's range, and turn offsets and JSON-pointer paths back into file positions.
 *
 * YAML 1.2 core schema only: dates stay strings, `yes` stays a string, no custom tags, no code.
 */

import type { Point, Position } from 'unist';
import type { VFile } from 'vfile';
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  type Scalar,
  visit,
  type YAMLError,
} from 'yaml';
import { countErrors, error, warning } from './messages.ts';

/** Deepest nesting of collections accepted in any YAML source. */
export const maxYamlDepth = 20;

/** A YAML text inside a file: the parsed document and how to map its offsets to the file. */
export interface YamlSource {
  document: Document.Parsed;
  /** The plain value (null-prototype objects, strings, numbers, booleans, null). */
  value: unknown;
  lineCounter: LineCounter;
  /** 1-based file line of the YAML text's first line. */
  firstLine: number;
}

/**
 * Parses YAML text found at `firstLine` of `file`. Syntax errors, duplicate keys, aliases, tags and
 * excessive nesting are reported on the file; the result is undefined when any was found.
 */
export function parseYamlSource(file: VFile, text: string, firstLine: number): YamlSource | undefined {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    lineCounter,
    version: '1.2',
    schema: 'core',
    uniqueKeys: false,
    merge: false,
    prettyErrors: false,
    strict: true,
    stringKeys: true,
  });
  const source = { document, value: undefined as unknown, lineCounter, firstLine };
  const errorsBefore = countErrors([file]);

  const problems = [...document.errors, ...document.warnings];
  const lines = problems.length > 0 ? text.split('\n') : [];
  // One mistake often trips the parser more than once on the same line; the first says it best.
  const reportedLines = new Set<number>();
  for (const problem of problems) {
    // Every tag but the plain ones is reported by `checkNodes`, at the tag.
    if (problem.code === 'TAG_RESOLVE_FAILED') continue;
    const described = describeYamlProblem(problem, source, lines);
    const line = described.place.line;
    if (reportedLines.has(line)) continue;
    reportedLines.add(line);
    error(file, described.reason, { ruleId: described.ruleId, place: described.place });
  }
  checkNodes(file, source, text);
  if (countErrors([file]) > errorsBefore) return undefined;

  source.value = toPlainValue(document.contents);
  return source;
}

/** `key:value` written without a space: what was written and what to write. */
export interface MissingSpace {
  written: string;
  fixed: string;
}

/** Finds `key:value` written without a space, which YAML reads as one piece of text. */
export function findMissingSpace(lineText: string): MissingSpace | undefined {
  const match = /^\s*(?:-\s+)?([A-Za-z_][\w-]*):([^\s/].*?)\s*$/.exec(lineText);
  if (!match) return undefined;
  return { written: `${match[1]}:${match[2]}`, fixed: `${match[1]}: ${match[2]}` };
}

/** The message for `key:value` written without a space, if the line has one. */
export function missingSpaceAfterColon(lineText: string): string | undefined {
  const found = findMissingSpace(lineText);
  if (!found) return undefined;
  return `Unexpected \`${found.written}\`, expected a space after the colon: \`${found.fixed}\``;
}

/** A YAML syntax problem, worded for an author. */
interface DescribedProblem {
  reason: string;
  ruleId: string;
  place: Point;
}

function shorten(text: string, length = 40): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

/** Words a problem the `yaml` parser found, from its code, its message and the line it is on. */
function describeYamlProblem(problem: YAMLError, source: YamlSource, lines: string[]): DescribedProblem {
  const place = pointAt(source, problem.pos[0]);
  const lineText = (lines[place.line - source.firstLine] ?? '').replace(/\r$/, '');
  const syntax = (reason: string, at: Point = place): DescribedProblem => ({
    reason,
    ruleId: 'yaml-syntax',
    place: at,
  });
  const missingSpace = missingSpaceAfterColon(lineText);
  if (missingSpace) return { reason: missingSpace, ruleId: 'yaml-missing-space', place };
  const detail = problem.message.split('\n')[0] ?? problem.message;
  switch (problem.code) {
    case 'TAB_AS_INDENT':
      return syntax('Unexpected tab used to indent, expected spaces; indent YAML with spaces only');
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY': {
      const pair = /^\s*(?:-\s+)?([^\s:#][^:#]*?):\s+(.*:\s.*)$/.exec(lineText);
      if (pair?.[2] && !/^["']/.test(pair[2])) {
        const value = pair[2].trim();
        return syntax(
          `Unexpected \`: \` inside the value \`${shorten(value)}\`, expected one \`key: value\` per line; put the value in double quotes: \`${pair[1]}: "${shorten(value)}"\``,
        );
      }
      return syntax(
        'Unexpected line indented under this value, expected the keys of a mapping lined up under each other; line the next key up with this one, or put a value that runs over several lines in quotes',
      );
    }
    case 'MISSING_CHAR': {
      if (/quote/i.test(detail)) {
        const opening = openingQuoteBefore(source, problem.pos[0]);
        const quote = /single/i.test(detail) ? "'" : '"';
        return syntax(
          `Unexpected end of a value in quotes, expected a closing \`${quote}\`; end the value with \`${quote}\` on the line where it starts`,
          opening ?? place,
        );
      }
      if (/without - indicator/.test(detail)) {
        return syntax(
          'Unexpected line in a list without `- `, expected each item to start with `- `, lined up with the others',
        );
      }
      if (/followed by map values/.test(detail)) {
        return syntax(
          'Unexpected line that is not `key: value`, expected a key, a colon and a space; check the indentation of this line',
        );
      }
      return syntax(`Unexpected YAML syntax: ${detail}; check the quotes and brackets on this line`);
    }
    case 'BAD_INDENT':
      if (/^Flow (sequence|mapping)/.test(detail)) {
        const [open, close] = detail.startsWith('Flow sequence') ? ['[', ']'] : ['{', '}'];
        return syntax(
          `Unexpected end of a \`${open}…${close}\` list, expected a closing \`${close}\`; close it, or write one item per line starting with \`- \``,
        );
      }
      return syntax(
        'Unexpected indentation, expected the lines of one mapping or list lined up under each other; indent with spaces, two per level',
      );
    case 'BAD_SCALAR_START': {
      const character = detail.trim().at(-1) ?? '';
      return syntax(
        `Unexpected \`${character}\` at the start of a value, expected plain text; put the whole value in double quotes`,
      );
    }
    case 'BAD_DQ_ESCAPE': {
      const sequence = /\\./.exec(detail)?.[0] ?? '\\';
      return syntax(
        `Unexpected \`${sequence}\` in double quotes, expected text; write \`\\\\\` for a backslash, or use single quotes`,
      );
    }
    case 'MULTIPLE_DOCS':
      return syntax(
        'Unexpected second YAML document after a `---` line, expected one; remove the `---` line',
      );
    case 'NON_STRING_KEY':
      return syntax('Unexpected key that is a list or a mapping, expected a name like `title`');
    case 'UNEXPECTED_TOKEN': {
      const rest = lineText.slice(place.column - 1).trim();
      if (rest !== '') {
        return syntax(
          `Unexpected \`${shorten(rest)}\` after the end of a value, expected the end of the line; put a value that holds quotes in double quotes, or double a single quote inside single quotes (\`''\`)`,
        );
      }
      return syntax(
        `Unexpected YAML syntax: ${detail}; check the indentation, colons and quotes on this line`,
      );
    }
    default:
      return syntax(
        `Unexpected YAML syntax: ${detail}; check the indentation, colons and quotes on this line`,
      );
  }
}

/** Where the quoted value that runs to `offset` opens: the last quoted scalar starting before it. */
function openingQuoteBefore(source: YamlSource, offset: number): Point | undefined {
  let start: number | undefined;
  visit(source.document, {
    Scalar(_key, node) {
      const begin = node.range?.[0];
      if (begin === undefined || begin >= offset) return;
      if (node.type !== 'QUOTE_DOUBLE' && node.type !== 'QUOTE_SINGLE') return;
      if (start === undefined || begin > start) start = begin;
    },
  });
  return start === undefined ? undefined : pointAt(source, start);
}

/** Reports what the parser accepts but this tool refuses: duplicate keys, aliases, tags, deep nesting. */
function checkNodes(file: VFile, source: YamlSource, text: string): void {
  // A plain recursive walk: yaml's `visit` hands every node its whole ancestry, which costs more
  // than the parse itself on a header of fifty nodes.
  const walk = (node: unknown, depth: number): boolean => {
    if (isAlias(node)) {
      error(
        file,
        `Unexpected YAML alias \`*${node.source}\`, expected a plain value; write the value out in full`,
        { ruleId: 'yaml-alias', place: rangeOf(source, node) },
      );
      return true;
    }
    if (!isNode(node)) return true;
    if (node.anchor) {
      const start = node.range?.[0] ?? 0;
      const at = text.lastIndexOf(`&${node.anchor}`, start);
      error(file, `Unexpected YAML anchor \`&${node.anchor}\`, expected a plain value; remove the anchor`, {
        ruleId: 'yaml-alias',
        place: pointAt(source, at >= 0 ? at : start),
      });
    }
    if (node.tag && !isDefaultTag(node.tag)) {
      const written = node.tag.replace(/^tag:yaml\.org,2002:/, '!!');
      const start = node.range?.[0] ?? 0;
      // The node's range starts at its value; the tag is written before it, as the anchor is.
      const at = text.lastIndexOf(written, start);
      error(file, `Unexpected YAML tag \`${written}\`, expected a plain value; remove the tag`, {
        ruleId: 'yaml-tag',
        place: pointAt(source, at >= 0 ? at : start),
      });
    }
    if (isScalar(node) && node.type === 'PLAIN') reportCommentInValue(file, source, text, node);
    if (!isMap(node) && !isSeq(node)) return true;
    if (depth > maxYamlDepth) {
      error(
        file,
        `Unexpected nesting ${depth} levels deep, expected at most ${maxYamlDepth}; flatten the lists and mappings`,
        { ruleId: 'yaml-depth', place: rangeOf(source, node) },
      );
      return false;
    }
    if (isMap(node)) {
      reportDuplicateKeys(file, source, node.items);
      for (const pair of node.items) {
        if (!walk(pair.key, depth + 1) || !walk(pair.value, depth + 1)) return false;
      }
      return true;
    }
    for (const item of node.items) if (!walk(item, depth + 1)) return false;
    return true;
  };
  walk(source.document.contents, 1);
}

/**
 * `title: Issue #3` is the text `Issue` and a comment: YAML starts a comment at a space and `#`. A `#`
 * followed directly by a word after a plain value was almost always meant as part of the value.
 */
function reportCommentInValue(file: VFile, source: YamlSource, text: string, node: Scalar): void {
  const valueEnd = node.range?.[1];
  if (valueEnd === undefined) return;
  const lineEnd = text.indexOf('\n', valueEnd);
  const rest = text.slice(valueEnd, lineEnd === -1 ? undefined : lineEnd).replace(/\r$/, '');
  const comment = /^[ \t]+(#\S.*)$/.exec(rest)?.[1];
  if (!comment) return;
  const value = String(node.source ?? node.value);
  const whole = `${value}${rest.trimEnd()}`;
  warning(
    file,
    `Unexpected comment \`${comment}\` after the value \`${value}\`, which YAML leaves out; if it is part of the value, put the whole value in double quotes: \`"${whole}"\``,
    { ruleId: 'yaml-comment', place: pointAt(source, valueEnd + rest.indexOf('#')) },
  );
}

function isDefaultTag(tag: string): boolean {
  return ['tag:yaml.org,2002:str', 'tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq'].includes(tag);
}

function reportDuplicateKeys(
  file: VFile,
  source: YamlSource,
  pairs: readonly Pair<unknown, unknown>[],
): void {
  const seen = new Map<string, Node>();
  for (const pair of pairs) {
    if (!isScalar(pair.key)) continue;
    const name = String(pair.key.value);
    const first = seen.get(name);
    if (first) {
      const firstLine = pointAt(source, first.range?.[0] ?? 0).line;
      error(file, `Unexpected second \`${name}\`, already set on line ${firstLine}; keep one of the two`, {
        ruleId: 'duplicate-key',
        place: rangeOf(source, pair.key),
      });
    } else {
      seen.set(name, pair.key);
    }
  }
}

/** Converts a YAML node to plain data; objects have no prototype, so no key can reach `Object.prototype`. */
function toPlainValue(node: unknown): unknown {
  if (isMap(node)) {
    const result: Record<string, unknown> = Object.create(null);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      result[key] = toPlainValue(pair.value);
    }
    return result;
  }
  if (isSeq(node)) return node.items.map((item) => toPlainValue(item));
  if (isScalar(node)) return node.value;
  if (isAlias(node)) return undefined;
  return node ?? null;
}

/** The file position of an offset in the YAML text. */
export function pointAt(source: YamlSource, offset: number): Point {
  const { line, col } = source.lineCounter.linePos(offset);
  return { line: Math.max(line, 1) + source.firstLine - 1, column: col };
}

/** The file range of a node. */
export function rangeOf(source: YamlSource, node: Node | undefined): Position {
  const [start, valueEnd] = node?.range ?? [0, 0];
  return { start: pointAt(source, start), end: pointAt(source, valueEnd) };
}

/** What a JSON-pointer path leads to in a YAML document: the pair holding it and the value node. */
export interface PathTarget {
  /** The key node, when the path ends at a mapping entry. */
  key?: Node;
  /** The value node (absent when the key has no value). */
  value?: Node;
  /** The deepest node reached, when the path goes further than the document. */
  nearest: Node | undefined;
}

/** Walks a JSON-pointer path (`/sources/0/url`) through a YAML document to the node it names. */
export function resolvePath(source: YamlSource, pointer: string): PathTarget {
  const segments = pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  let current: unknown = source.document.contents;
  let key: Node | undefined;
  for (const segment of segments) {
    if (isMap(current)) {
      const pair = current.items.find((item) => isScalar(item.key) && String(item.key.value) === segment);
      if (!pair) return { nearest: current };
      key = isNode(pair.key) ? pair.key : undefined;
      current = pair.value;
      if (!isNode(current)) return key ? { key, nearest: key } : { nearest: undefined };
    } else if (isSeq(current)) {
      const item = current.items[Number(segment)];
      key = undefined;
      if (!isNode(item)) return { nearest: current };
      current = item;
    } else {
      break;
    }
  }
  const value = isNode(current) ? current : undefined;
  const target: PathTarget = { nearest: value ?? key };
  if (key) target.key = key;
  if (value) target.value = value;
  return target;
}
