/**
 * Checks YAML sources against the JSON Schemas in `schemas/` and turns every ajv error into a message
 * an author can act on, at the exact place in the file.
 *
 * The validators are compiled once, ahead of time, from the same schemas. Raw ajv errors pass through
 * small enhancers, each `(problem, context) => problem`, that add what a person needs: "did you mean",
 * the allowed values, the date written the right way, what YAML 1.2 made of `yes` or `1984`.
 */
import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Position } from 'unist';
import type { VFile } from 'vfile';
import { briefing as validateBriefing, pack as validatePack } from './generated/validators.cjs';
import { error } from './messages.ts';
import { projectPath } from './project.ts';
import { didYouMean, listOf } from './suggest.ts';
import { findMissingSpace, rangeOf, resolvePath, type YamlSource } from './yaml-source.ts';

/** At most this many schema errors are reported per file; the rest are counted in one last message. */
export const maxSchemaErrorsPerFile = 50;

/** The two schemas: `pack.yaml` and a briefing's front matter. */
export type SchemaName = 'pack' | 'briefing';

type JsonObject = Record<string, unknown>;

function loadSchema(name: SchemaName): JsonObject {
  return JSON.parse(readFileSync(projectPath('schemas', `${name}.schema.json`), 'utf8'));
}

/** The schemas themselves, for the enhancers: field names, descriptions. */
const schemas: Record<SchemaName, JsonObject> = {
  pack: loadSchema('pack'),
  briefing: loadSchema('briefing'),
};

/**
 * The validators, compiled by ajv ahead of time (`validator-code.ts`; a test keeps them in step with
 * the schemas), so no check loads ajv or compiles a schema.
 */
const validators: Record<SchemaName, ValidateFunction> = { pack: validatePack, briefing: validateBriefing };

/** The keys a schema allows in the mapping a schema pointer names (the top level by default). */
export function schemaKeys(name: SchemaName, pointer = ''): string[] {
  const node = schemaAt(schemas[name], pointer);
  const properties = node?.properties;
  return properties && typeof properties === 'object' ? Object.keys(properties) : [];
}

/** A problem found by the schema, on its way to becoming a message. */
export interface SchemaProblem {
  reason: string;
  ruleId: string;
  place: Position;
}

/** What an enhancer may look at. */
export interface ProblemContext {
  error: ErrorObject;
  source: YamlSource;
  schema: SchemaName;
  /** The value the error is about (undefined for a missing key). */
  value: unknown;
  /** The text of the line the problem is on. */
  lineText: string;
}

/** An enhancer adds what a person needs to a raw schema problem. */
export type Enhancer = (problem: SchemaProblem, context: ProblemContext) => SchemaProblem;

/**
 * Validates a parsed YAML source against a schema; reports every problem on the file.
 * Returns whether the value is valid.
 */
export function checkAgainstSchema(
  file: VFile,
  source: YamlSource,
  schema: SchemaName,
  text: string,
): boolean {
  const validate = validators[schema];
  if (validate(source.value)) return true;
  const lines = text.split('\n');
  const problems = usefulErrors(validate.errors ?? []).map((raw) => {
    const place = placeOf(raw, source);
    const context: ProblemContext = {
      error: raw,
      source,
      schema,
      value: valueAt(source, raw.instancePath),
      lineText: (lines[place.start.line - 1] ?? '').replace(/\r$/, ''),
    };
    return enhancers.reduce((problem, enhance) => enhance(problem, context), describe(context, place));
  });
  problems.sort(
    (a, b) => a.place.start.line - b.place.start.line || a.place.start.column - b.place.start.column,
  );
  const seen = new Set<string>();
  const unique = problems.filter((problem) => {
    const key = `${problem.place.start.line}:${problem.place.start.column}:${problem.ruleId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  for (const problem of unique.slice(0, maxSchemaErrorsPerFile)) {
    error(file, problem.reason, { ruleId: problem.ruleId, place: problem.place });
  }
  if (unique.length > maxSchemaErrorsPerFile) {
    const rest = unique.length - maxSchemaErrorsPerFile;
    error(file, `Unexpected ${rest} more problems in this file, not listed; fix the ones above first`, {
      ruleId: 'too-many-problems',
      place: unique[maxSchemaErrorsPerFile]?.place,
    });
  }
  return false;
}

/** Keywords that say what a value should be; a length error on the same value adds nothing to them. */
const specificKeywords = new Set(['type', 'format', 'pattern', 'enum']);

/**
 * Drops errors that only restate another of the same value: a length error beside a format error,
 * a type error beside the list of allowed values.
 */
function usefulErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const keywordsAt = new Map<string, Set<string>>();
  for (const raw of errors) {
    const keywords = keywordsAt.get(raw.instancePath) ?? new Set<string>();
    keywords.add(raw.keyword);
    keywordsAt.set(raw.instancePath, keywords);
  }
  return errors.filter((raw) => {
    const others = keywordsAt.get(raw.instancePath) ?? new Set<string>();
    if (raw.keyword === 'maxLength' || raw.keyword === 'minLength') {
      return ![...others].some((keyword) => specificKeywords.has(keyword));
    }
    if (raw.keyword === 'type') return !others.has('enum');
    return true;
  });
}

/**
 * Where an error points: `required` at the mapping that lacks the key (its key, or its first line),
 * `additionalProperties` at the unknown key, anything else at the value.
 */
function placeOf(raw: ErrorObject, source: YamlSource): Position {
  if (raw.keyword === 'additionalProperties') {
    const key = String(raw.params.additionalProperty);
    const target = resolvePath(source, `${raw.instancePath}/${escapePointer(key)}`);
    return rangeOf(source, target.key ?? target.nearest);
  }
  const target = resolvePath(source, raw.instancePath);
  if (raw.keyword === 'required') {
    const start = rangeOf(source, target.key ?? target.value ?? source.document.contents ?? undefined).start;
    return { start, end: start };
  }
  return rangeOf(source, target.value ?? target.key ?? target.nearest);
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function isIndex(segment: string | undefined): segment is string {
  return segment !== undefined && /^\d+$/.test(segment);
}

/**
 * A readable name for the place an instance path points to: `title`, `brief.title`, item 3 of
 * `key_points`, `url` of item 2 in `sources`. Empty for the whole document.
 */
export function fieldLabel(instancePath: string): string {
  const segments = instancePath.split('/').slice(1);
  const last = segments.at(-1);
  if (last === undefined) return '';
  const parent = segments.length > 1 ? `/${segments.slice(0, -1).join('/')}` : '';
  if (isIndex(last)) return `item ${Number(last) + 1} of ${fieldLabel(parent)}`;
  if (isIndex(segments.at(-2))) return `\`${last}\` of ${fieldLabel(parent).replace(/ of /, ' in ')}`;
  return `\`${segments.join('.')}\``;
}

/** The name of a whole document, for messages about it. */
function documentLabel(schema: SchemaName): string {
  return schema === 'pack' ? '`pack.yaml`' : 'the header';
}

function show(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `${value.slice(0, 39)}…` : value;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** What a value is, as the X of "Unexpected X": `empty value`, `list`, ``number `1984` ``, `` `yes` ``. */
function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'empty value';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'mapping';
  if (typeof value === 'number') return `number \`${value}\``;
  return `\`${show(value)}\``;
}

function expectedType(schemaType: unknown): string {
  switch (schemaType) {
    case 'string':
      return 'text';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping of `key: value` lines';
    default:
      return String(schemaType);
  }
}

function valueAt(source: YamlSource, instancePath: string): unknown {
  let current: unknown = source.value;
  for (const segment of instancePath.split('/').slice(1)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as JsonObject)[segment];
  }
  return current;
}

/** The base message of a raw ajv error. */
function describe(context: ProblemContext, place: Position): SchemaProblem {
  const { error: raw, value } = context;
  const label = fieldLabel(raw.instancePath);
  const limit = raw.params.limit as number | undefined;
  switch (raw.keyword) {
    case 'required': {
      const missing = String(raw.params.missingProperty);
      const where = label === '' ? documentLabel(context.schema) : label;
      const description = describeProperty(context.schema, raw.instancePath, missing);
      return {
        reason: `Missing \`${missing}\` in ${where}; add \`${missing}: …\`${description ? ` with ${description}` : ''}`,
        ruleId: 'missing-field',
        place,
      };
    }
    case 'additionalProperties': {
      const key = String(raw.params.additionalProperty);
      const allowed = schemaKeys(context.schema, schemaPointerFor(raw.instancePath));
      return {
        reason: `Unknown field \`${key}\`${label ? ` in ${label}` : ''}, expected one of ${listOf(allowed)}`,
        ruleId: 'unknown-field',
        place,
      };
    }
    case 'type':
      return {
        reason: `Unexpected ${typeName(value)} for ${label || documentLabel(context.schema)}, expected ${expectedType(raw.params.type)}`,
        ruleId: 'field-type',
        place,
      };
    case 'format':
      if (raw.params.format === 'date') {
        return {
          reason: `Unexpected \`${show(value)}\` for ${label}, expected a date like \`2025-07-13\``,
          ruleId: 'date-format',
          place,
        };
      }
      return {
        reason: `Unexpected \`${show(value)}\` for ${label}, expected a web address like \`https://example.org/page\``,
        ruleId: 'url-format',
        place,
      };
    case 'pattern':
      return describePattern(raw, label, value, place);
    case 'minLength':
      return {
        reason: `Unexpected empty ${label}, expected some text; write it or remove the line`,
        ruleId: 'empty-field',
        place,
      };
    case 'maxLength':
      return {
        reason: `Unexpected ${label} of ${[...String(value)].length} characters, expected at most ${limit}; shorten it`,
        ruleId: 'too-long',
        place,
      };
    case 'minItems':
      return {
        reason: `Unexpected ${Array.isArray(value) && value.length === 0 ? 'empty list' : 'short list'} for ${label}, expected at least ${limit} ${limit === 1 ? 'item' : 'items'}; add ${limit === 1 ? 'one' : 'more'} or remove the line`,
        ruleId: 'too-few-items',
        place,
      };
    case 'maxItems':
      return {
        reason: `Unexpected ${Array.isArray(value) ? value.length : 'too many'} items in ${label}, expected at most ${limit}; keep the most important`,
        ruleId: 'too-many-items',
        place,
      };
    case 'uniqueItems': {
      const items = Array.isArray(value) ? value : [];
      const duplicate = items[Number(raw.params.j)];
      return {
        reason: `Unexpected \`${show(duplicate)}\` twice in ${label}; remove one`,
        ruleId: 'duplicate-item',
        place: rangeOf(
          context.source,
          resolvePath(context.source, `${raw.instancePath}/${raw.params.j}`).value ?? undefined,
        ),
      };
    }
    case 'enum': {
      const allowed = (raw.params.allowedValues as unknown[]).map(String);
      return {
        reason: `Unexpected \`${show(value)}\` for ${label}, expected ${listOf(allowed)}`,
        ruleId: 'enum-value',
        place,
      };
    }
    default:
      // Not reached with the project's schemas; a keyword added to them needs its own wording above.
      return {
        reason: `Unexpected value for ${label || documentLabel(context.schema)}: ${raw.message ?? 'it does not match the schema'}`,
        ruleId: 'schema',
        place,
      };
  }
}

function describePattern(raw: ErrorObject, label: string, value: unknown, place: Position): SchemaProblem {
  const key = raw.instancePath.split('/').at(-1);
  if (key === 'language') {
    return {
      reason: `Unexpected \`${show(value)}\` for ${label}, expected a language tag like \`en\`, \`en-GB\` or \`fr\``,
      ruleId: 'language-tag',
      place,
    };
  }
  if (key === 'url') {
    return {
      reason: `Unexpected \`${show(value)}\` for ${label}, expected a web address starting \`https://\` or \`http://\``,
      ruleId: 'url-format',
      place,
    };
  }
  const suggestion = String(value)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return {
    reason: `Unexpected id \`${show(value)}\` for ${label}, expected lower-case letters, digits and hyphens${suggestion ? ` like \`${suggestion}\`` : ''}`,
    ruleId: 'id-format',
    place,
  };
}

/** The schema pointer of the object an instance path names (array indexes become `items`). */
function schemaPointerFor(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((segment) => (isIndex(segment) ? 'items' : `properties/${segment}`))
    .map((segment) => `/${segment}`)
    .join('');
}

function schemaAt(schema: JsonObject, pointer: string): JsonObject | undefined {
  let current: unknown = schema;
  for (const segment of pointer.split('/').slice(1)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as JsonObject)[segment];
    const reference = (current as { $ref?: unknown } | undefined)?.$ref;
    if (typeof reference === 'string' && reference.startsWith('#/'))
      current = schemaAt(schema, reference.slice(1));
  }
  return current !== null && typeof current === 'object' ? (current as JsonObject) : undefined;
}

function describeProperty(schema: SchemaName, instancePath: string, property: string): string {
  const node = schemaAt(schemas[schema], `${schemaPointerFor(instancePath)}/properties/${property}`);
  const description = typeof node?.description === 'string' ? node.description : '';
  const first = description.split(/(?<=\.)\s/)[0] ?? '';
  return first ? lowerFirst(first.replace(/\.$/, '')) : '';
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]?.toLowerCase() + text.slice(1) : text;
}

const monthNames = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

/** An ISO date from its parts, when that day exists. */
function isoDate(year: number, month: number, day: number): string | undefined {
  const date = new Date(Date.UTC(year, month - 1, day));
  if (year < 1000 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return date.toISOString().slice(0, 10);
}

/** Reads dates written for people (`13 July 2025`, `July 13, 2025`); numeric ones are left to {@link isoDateFor}. */
export function parseHumanDate(text: string): string | undefined {
  const cleaned = text.trim().replace(/,/g, ' ').replace(/\s+/g, ' ').toLowerCase();
  const dayFirst = /^(\d{1,2})(?:st|nd|rd|th)? ([a-z]+)\.? (\d{4})$/.exec(cleaned);
  const monthFirst = /^([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)? (\d{4})$/.exec(cleaned);
  const match = dayFirst
    ? { day: dayFirst[1], month: dayFirst[2], year: dayFirst[3] }
    : monthFirst
      ? { day: monthFirst[2], month: monthFirst[1], year: monthFirst[3] }
      : undefined;
  if (!match?.month || !match.day || !match.year) return undefined;
  const monthName = match.month;
  const monthIndex = monthNames.findIndex((name) => name === monthName || name.slice(0, 3) === monthName);
  if (monthIndex < 0) return undefined;
  return isoDate(Number(match.year), monthIndex + 1, Number(match.day));
}

/** What to write instead of a date that is not `YYYY-MM-DD`, when that can be known. */
export type DateAdvice =
  | { kind: 'date'; iso: string }
  | { kind: 'ambiguous'; dayFirst: string; monthFirst: string }
  | { kind: 'impossible' };

/**
 * Reads a date written another way: for people (`13 July 2025`), with other separators or no padding
 * (`2025/7/13`), with a time (`2025-07-13T09:00`), day or month first when only one reading is a date
 * (`13/07/2025`), or as the number YAML makes of `20250713`.
 */
export function isoDateFor(value: unknown): DateAdvice | undefined {
  const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : value;
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  const human = parseHumanDate(trimmed);
  if (human) return { kind: 'date', iso: human };
  const compact = /^(\d{4})(\d{2})(\d{2})$/.exec(trimmed);
  const yearFirst = compact ?? /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$/.exec(trimmed);
  if (yearFirst) {
    const iso = isoDate(Number(yearFirst[1]), Number(yearFirst[2]), Number(yearFirst[3]));
    return iso ? { kind: 'date', iso } : { kind: 'impossible' };
  }
  const yearLast = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/.exec(trimmed);
  if (yearLast) {
    const [first, second, year] = [Number(yearLast[1]), Number(yearLast[2]), Number(yearLast[3])];
    const dayFirst = isoDate(year, second, first);
    const monthFirst = isoDate(year, first, second);
    if (dayFirst && monthFirst && dayFirst !== monthFirst) return { kind: 'ambiguous', dayFirst, monthFirst };
    const iso = dayFirst ?? monthFirst;
    return iso ? { kind: 'date', iso } : { kind: 'impossible' };
  }
  return undefined;
}

/** The schema of the value an error is about (ajv's `parentSchema`, present with `verbose`). */
function schemaOf(raw: ErrorObject): JsonObject {
  return (raw.parentSchema ?? {}) as JsonObject;
}

/** Unknown keys: the known key it was probably meant to be. */
const suggestUnknownKey: Enhancer = (problem, { error: raw, schema }) => {
  if (raw.keyword !== 'additionalProperties') return problem;
  const key = String(raw.params.additionalProperty);
  const hint = didYouMean(key, schemaKeys(schema, schemaPointerFor(raw.instancePath)));
  if (!hint) return problem;
  const label = fieldLabel(raw.instancePath);
  return { ...problem, reason: `Unknown field \`${key}\`${label ? ` in ${label}` : ''}${hint}` };
};

/** Unknown keys that are fields of the other file: a pack setting in a briefing, or the reverse. */
const explainKeyOfOtherFile: Enhancer = (problem, { error: raw, schema }) => {
  if (raw.keyword !== 'additionalProperties' || raw.instancePath !== '') return problem;
  const key = String(raw.params.additionalProperty);
  const other: SchemaName = schema === 'pack' ? 'briefing' : 'pack';
  if (!schemaKeys(other).includes(key)) return problem;
  const where = other === 'pack' ? 'in `pack.yaml`, for the whole pack' : "in a briefing's header";
  return {
    ...problem,
    reason: `Unknown field \`${key}\` in ${documentLabel(schema)}, expected it ${where}; move the line there`,
  };
};

/** Values outside an enum: the allowed value it was probably meant to be (`a4` → `A4`). */
const suggestEnumValue: Enhancer = (problem, { error: raw, value }) => {
  if (raw.keyword !== 'enum') return problem;
  const allowed = (raw.params.allowedValues as unknown[]).map(String);
  return { ...problem, reason: `${problem.reason}${didYouMean(String(value), allowed)}` };
};

/** Dates written another way: the `YYYY-MM-DD` to write, or why there is none. */
const suggestIsoDate: Enhancer = (problem, { error: raw, value }) => {
  const isDateField = schemaOf(raw).format === 'date';
  if (!isDateField || (raw.keyword !== 'format' && raw.keyword !== 'type')) return problem;
  const label = fieldLabel(raw.instancePath);
  const base =
    raw.keyword === 'type'
      ? {
          ...problem,
          reason: `Unexpected ${typeName(value)} for ${label}, expected a date like \`2025-07-13\``,
          ruleId: 'date-format',
        }
      : problem;
  const advice = isoDateFor(value);
  switch (advice?.kind) {
    case 'date':
      return { ...base, reason: `${base.reason}; write \`${advice.iso}\`` };
    case 'ambiguous':
      return {
        ...base,
        reason: `${base.reason}; write it year first, \`${advice.dayFirst}\` or \`${advice.monthFirst}\`, so no reader can take the day for the month`,
      };
    case 'impossible':
      return {
        ...base,
        reason: `${base.reason}; that day is not in the calendar, so check the month and the day`,
      };
    default:
      return base;
  }
};

/** Numbers, `true`/`false` and empty values where text is expected: what YAML made of them. */
const explainYamlScalars: Enhancer = (problem, { error: raw, value }) => {
  if (problem.ruleId !== 'field-type' || raw.params.type !== 'string') return problem;
  if (value === null) return { ...problem, reason: `${problem.reason}; write the text after the colon` };
  if (typeof value === 'boolean' || typeof value === 'number') {
    return {
      ...problem,
      reason: `${problem.reason}; YAML reads \`${value}\` as a ${typeof value === 'number' ? 'number' : 'true-or-false value'}, so put it in quotes: \`"${value}"\``,
    };
  }
  return problem;
};

const yesNo = /^(?:yes|no|y|n|on|off|true|false)$/i;

/**
 * `yes`, `no`, `true`, `false` where a list or a mapping is expected: in YAML 1.2 `yes` and `no` are
 * plain text, and no field of a pack or a briefing is switched on or off, so say what to write.
 */
const explainYesNo: Enhancer = (problem, { error: raw, value }) => {
  if (raw.keyword !== 'type' || (raw.params.type !== 'array' && raw.params.type !== 'object')) return problem;
  const written = typeof value === 'boolean' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!yesNo.test(written)) return problem;
  const label = fieldLabel(raw.instancePath);
  const isText = typeof value === 'string';
  const what = isText
    ? `\`${written}\` is text in YAML 1.2, not a switch`
    : `\`${written}\` is not a ${expectedType(raw.params.type).replace(/^a /, '')}`;
  const negative = /^(?:no|n|off|false)$/i.test(written);
  const todo = negative
    ? `to leave out ${label}, remove the line`
    : raw.params.type === 'array'
      ? `write the items, one per line starting with \`- \`, or on one line: \`[first, second]\``
      : 'write its fields on the lines below, indented';
  return { ...problem, reason: `${problem.reason}; ${what}: ${todo}` };
};

/** `-item` written without a space is text, not a list item. */
const explainListWithoutSpace: Enhancer = (problem, { error: raw, value }) => {
  if (raw.keyword !== 'type' || raw.params.type !== 'array' || typeof value !== 'string') return problem;
  if (!/^-\S/.test(value.trim())) return problem;
  return {
    ...problem,
    reason: `${problem.reason}; put a space after each \`-\` that starts an item: \`- item\``,
  };
};

/** One piece of text where a list is expected: the same as a list of one. */
const explainTextForList: Enhancer = (problem, { error: raw, value }) => {
  if (raw.keyword !== 'type' || raw.params.type !== 'array' || typeof value !== 'string') return problem;
  const text = value.trim();
  if (yesNo.test(text) || text.startsWith('-') || text.includes('\n')) return problem;
  const key = raw.instancePath.split('/').at(-1) ?? '';
  return {
    ...problem,
    reason: `${problem.reason}; write a list, even of one item: \`${key}: [${show(text)}]\``,
  };
};

/** Text where a mapping is expected, in a list of mappings such as `sources`: show the key to add. */
const explainItemShape: Enhancer = (problem, { error: raw, value }) => {
  if (raw.keyword !== 'type' || raw.params.type !== 'object' || typeof value !== 'string') return problem;
  if (yesNo.test(value.trim()) || findMissingSpace(value) || !isIndex(raw.instancePath.split('/').at(-1)))
    return problem;
  const required = schemaOf(raw).required;
  const key = Array.isArray(required) && typeof required[0] === 'string' ? required[0] : undefined;
  if (!key) return problem;
  return { ...problem, reason: `${problem.reason}; write \`- ${key}: ${show(value)}\`` };
};

/** A header or `pack.yaml` that is not a mapping at all. */
const explainTopLevel: Enhancer = (problem, { error: raw, source, schema }) => {
  if (raw.instancePath !== '' || raw.keyword !== 'type') return problem;
  const what =
    source.value === null
      ? `empty ${documentLabel(schema).replace(/^the /, '')}`
      : `${typeName(source.value)} as ${documentLabel(schema)}`;
  return { ...problem, reason: `Unexpected ${what}, expected \`key: value\` lines such as \`title: …\`` };
};

/** `key:value` without a space, which YAML reads as one piece of text. */
const explainMissingSpace: Enhancer = (problem, { lineText }) => {
  const found = findMissingSpace(lineText);
  return found
    ? { ...problem, reason: `${problem.reason}; put a space after the colon: \`${found.fixed}\`` }
    : problem;
};

/** The enhancers, applied in order to every problem. */
export const enhancers: readonly Enhancer[] = [
  suggestUnknownKey,
  explainKeyOfOtherFile,
  suggestEnumValue,
  suggestIsoDate,
  explainYamlScalars,
  explainYesNo,
  explainListWithoutSpace,
  explainTextForList,
  explainItemShape,
  explainTopLevel,
  explainMissingSpace,
];
