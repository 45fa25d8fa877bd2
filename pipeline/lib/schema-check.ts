/**
 * Checks YAML sources against the JSON Schemas in `schemas/` and turns every ajv error into a message
 * an author can act on, at the exact place in the file.
 *
 * The validators are compiled once, when this module loads. Raw ajv errors pass through small
 * enhancers, each `(problem, context) => problem`, that add what a person needs: "did you mean",
 * the allowed values, the date written the right way.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import type { Position } from 'unist';
import type { VFile } from 'vfile';
import { error } from './messages.ts';
import { projectPath } from './project.ts';
import { didYouMean, listOf } from './suggest.ts';
import { missingSpaceAfterColon, rangeOf, resolvePath, type YamlSource } from './yaml-source.ts';

/** At most this many schema errors are reported per file; the rest are counted in one last message. */
export const maxSchemaErrorsPerFile = 50;

type SchemaName = 'pack' | 'briefing';

function loadSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(projectPath('schemas', `${name}.schema.json`), 'utf8'));
}

// ajv-formats is CommonJS: Node's default import is `module.exports`, whose `default` is the plugin.
const addFormats = formatsModule.default;

const ajv = new Ajv2020({ allErrors: true, strict: true, $data: false, validateFormats: true });
addFormats(ajv, ['date', 'uri']);

const schemas: Record<SchemaName, Record<string, unknown>> = {
  pack: loadSchema('pack'),
  briefing: loadSchema('briefing'),
};

const validators: Record<SchemaName, ValidateFunction> = {
  pack: ajv.compile(schemas.pack),
  briefing: ajv.compile(schemas.briefing),
};

/** The keys a schema allows at the top level, for suggestions. */
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
      lineText: lines[place.start.line - 1] ?? '',
    };
    return enhancers.reduce((problem, enhance) => enhance(problem, context), describe(raw, context, place));
  });
  problems.sort(
    (a, b) => a.place.start.line - b.place.start.line || a.place.start.column - b.place.start.column,
  );
  for (const problem of problems.slice(0, maxSchemaErrorsPerFile)) {
    error(file, problem.reason, { ruleId: problem.ruleId, place: problem.place });
  }
  if (problems.length > maxSchemaErrorsPerFile) {
    const rest = problems.length - maxSchemaErrorsPerFile;
    error(file, `Unexpected ${rest} more problems in this file, not listed; fix the ones above first`, {
      ruleId: 'too-many-problems',
      place: problems[maxSchemaErrorsPerFile]?.place,
    });
  }
  return false;
}

/** Keywords that say what a value should be; a length error on the same value adds nothing to them. */
const specificKeywords = new Set(['type', 'format', 'pattern', 'enum']);

/** Drops errors that only restate another: a length error beside a format error of the same value. */
function usefulErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const specific = new Set(
    errors.filter((raw) => specificKeywords.has(raw.keyword)).map((raw) => raw.instancePath),
  );
  return errors.filter(
    (raw) =>
      !((raw.keyword === 'maxLength' || raw.keyword === 'minLength') && specific.has(raw.instancePath)),
  );
}

/** Where an error points: `required` at the parent mapping, `additionalProperties` at the unknown key. */
function placeOf(raw: ErrorObject, source: YamlSource): Position {
  if (raw.keyword === 'additionalProperties') {
    const key = String(raw.params.additionalProperty);
    const target = resolvePath(source, `${raw.instancePath}/${escapePointer(key)}`);
    return rangeOf(source, target.key ?? target.nearest);
  }
  const target = resolvePath(source, raw.instancePath);
  if (raw.keyword === 'required') {
    // Point at the key that holds the incomplete mapping; at the top level, at the first key.
    if (target.key) return rangeOf(source, target.key);
    const contents = source.document.contents;
    const start = rangeOf(source, contents ?? undefined).start;
    return { start, end: start };
  }
  return rangeOf(source, target.value ?? target.key ?? target.nearest);
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A readable name for the place an instance path points to: `title`, `url` of source 2, key point 3. */
export function fieldLabel(instancePath: string): string {
  const segments = instancePath.split('/').slice(1);
  const last = segments.at(-1);
  if (last === undefined) return 'the header';
  if (/^\d+$/.test(last)) {
    const list = segments.at(-2) ?? 'list';
    return `item ${Number(last) + 1} of \`${list}\``;
  }
  const parentIndex = segments.at(-2);
  if (parentIndex !== undefined && /^\d+$/.test(parentIndex)) {
    return `\`${last}\` of item ${Number(parentIndex) + 1} in \`${segments.at(-3)}\``;
  }
  return `\`${last}\``;
}

function show(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `${value.slice(0, 37)}…` : value;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return `the number \`${value}\``;
  if (typeof value === 'boolean') return `\`${value}\``;
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
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/** The base message of a raw ajv error. */
function describe(raw: ErrorObject, context: ProblemContext, place: Position): SchemaProblem {
  const label = fieldLabel(raw.instancePath);
  const value = valueAt(context.source, raw.instancePath);
  const limit = raw.params.limit as number | undefined;
  switch (raw.keyword) {
    case 'required': {
      const missing = String(raw.params.missingProperty);
      const where = raw.instancePath === '' ? 'header' : label;
      const description = describeProperty(context.schema, raw.instancePath, missing);
      return {
        reason: `Missing \`${missing}\` in the ${where === 'header' ? 'header' : `mapping ${where}`}; add \`${missing}: …\`${description ? ` with ${description}` : ''}`,
        ruleId: 'missing-field',
        place,
      };
    }
    case 'additionalProperties': {
      const key = String(raw.params.additionalProperty);
      const allowed = schemaKeys(context.schema, schemaPointerFor(raw.instancePath));
      return {
        reason: `Unknown field \`${key}\`${raw.instancePath ? ` in ${label}` : ''}, expected one of ${listOf(allowed)}`,
        ruleId: 'unknown-field',
        place,
      };
    }
    case 'type':
      return {
        reason: `Unexpected ${typeName(value)} for ${label}, expected ${expectedType(raw.params.type)}`,
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
        reason: `Unexpected empty ${label}; write some text or remove the line`,
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
        reason: `Unexpected ${Array.isArray(value) && value.length === 0 ? 'empty list' : 'short list'} for ${label}, expected at least ${limit} ${limit === 1 ? 'item' : 'items'}`,
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
        reason: `Unexpected \`${show(value)}\` for ${label}, expected ${listOf(allowed)}${didYouMean(String(value), allowed)}`,
        ruleId: 'enum-value',
        place,
      };
    }
    default:
      return {
        reason: `Unexpected value for ${label}: ${raw.message ?? 'it does not match the schema'}`,
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
    .map((segment) => (/^\d+$/.test(segment) ? 'items' : `properties/${segment}`))
    .map((segment) => `/${segment}`)
    .join('');
}

function schemaAt(schema: Record<string, unknown>, pointer: string): Record<string, unknown> | undefined {
  let current: unknown = schema;
  for (const segment of pointer.split('/').slice(1)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[segment];
    const reference = (current as { $ref?: unknown } | undefined)?.$ref;
    if (typeof reference === 'string' && reference.startsWith('#/'))
      current = schemaAt(schema, reference.slice(1));
  }
  return current !== null && typeof current === 'object' ? (current as Record<string, unknown>) : undefined;
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

/** Reads dates written for people (`13 July 2025`, `July 13, 2025`, `13/07/2025` is ambiguous and skipped). */
export function parseHumanDate(text: string): string | undefined {
  const cleaned = text.trim().replace(/,/g, ' ').replace(/\s+/g, ' ').toLowerCase();
  const dayFirst = /^(\d{1,2})(?:st|nd|rd|th)? ([a-z]+) (\d{4})$/.exec(cleaned);
  const monthFirst = /^([a-z]+) (\d{1,2})(?:st|nd|rd|th)? (\d{4})$/.exec(cleaned);
  const match = dayFirst
    ? { day: dayFirst[1], month: dayFirst[2], year: dayFirst[3] }
    : monthFirst
      ? { day: monthFirst[2], month: monthFirst[1], year: monthFirst[3] }
      : undefined;
  if (!match?.month || !match.day || !match.year) return undefined;
  const monthName = match.month;
  const monthIndex = monthNames.findIndex((name) => name === monthName || name.slice(0, 3) === monthName);
  if (monthIndex < 0) return undefined;
  const day = Number(match.day);
  const date = new Date(Date.UTC(Number(match.year), monthIndex, day));
  if (date.getUTCDate() !== day) return undefined;
  return date.toISOString().slice(0, 10);
}

const suggestUnknownKey: Enhancer = (problem, { error: raw, schema }) => {
  if (raw.keyword !== 'additionalProperties') return problem;
  const key = String(raw.params.additionalProperty);
  const hint = didYouMean(key, schemaKeys(schema, schemaPointerFor(raw.instancePath)));
  if (!hint) return problem;
  return { ...problem, reason: `Unknown field \`${key}\`${hint}` };
};

const suggestIsoDate: Enhancer = (problem, { error: raw, source }) => {
  if (raw.keyword !== 'format' || raw.params.format !== 'date') return problem;
  const value = valueAt(source, raw.instancePath);
  const iso = typeof value === 'string' ? parseHumanDate(value) : undefined;
  return iso ? { ...problem, reason: `${problem.reason}; write \`${iso}\`` } : problem;
};

const explainYamlScalars: Enhancer = (problem, { error: raw, source }) => {
  if (raw.keyword !== 'type' || raw.params.type !== 'string') return problem;
  const value = valueAt(source, raw.instancePath);
  if (typeof value === 'boolean' || typeof value === 'number' || value === null) {
    const hint =
      value === null
        ? 'write the text after the colon, or remove the line'
        : `YAML reads \`${value}\` as a ${typeof value}; put it in quotes: \`"${value}"\``;
    return { ...problem, reason: `${problem.reason}; ${hint}` };
  }
  return problem;
};

const explainMissingSpace: Enhancer = (problem, { lineText }) => {
  const explanation = missingSpaceAfterColon(lineText);
  return explanation ? { ...problem, reason: `${problem.reason}; ${lowerFirst(explanation)}` } : problem;
};

const explainTopLevel: Enhancer = (problem, { error: raw, source }) => {
  if (raw.instancePath !== '' || raw.keyword !== 'type') return problem;
  const what = source.value === null ? 'an empty header' : `a header that is ${typeName(source.value)}`;
  return { ...problem, reason: `Unexpected ${what}, expected \`key: value\` lines such as \`title: …\`` };
};

/** The enhancers, applied in order to every problem. */
export const enhancers: readonly Enhancer[] = [
  suggestUnknownKey,
  suggestIsoDate,
  explainYamlScalars,
  explainTopLevel,
  explainMissingSpace,
];
