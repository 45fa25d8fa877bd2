import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../pipeline/lib/project.ts';
import { enhancers, fieldLabel, isoDateFor } from '../pipeline/lib/schema-check.ts';
import { closest, editDistance } from '../pipeline/lib/suggest.ts';
import { generatedValidatorsPath, validatorCode } from '../pipeline/lib/validator-code.ts';

type Schema = Record<string, unknown>;

/** Every subschema of a schema with its JSON pointer. */
function subschemas(schema: Schema, pointer = ''): Array<[string, Schema]> {
  const found: Array<[string, Schema]> = [[pointer, schema]];
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' || key === '$defs') {
      for (const [name, child] of Object.entries(value as Record<string, Schema>)) {
        found.push(...subschemas(child, `${pointer}/${key}/${name}`));
      }
    } else if (key === 'items') {
      found.push(...subschemas(value as Schema, `${pointer}/items`));
    }
  }
  return found;
}

describe('the schemas', () => {
  for (const name of ['pack', 'briefing']) {
    const schema = JSON.parse(readFileSync(projectPath('schemas', `${name}.schema.json`), 'utf8')) as Schema;

    it(`${name}: are draft 2020-12 with no remote reference and no $data`, () => {
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      const text = JSON.stringify(schema);
      expect(text).not.toContain('$data');
      for (const match of text.matchAll(/"\$ref":"([^"]*)"/g)) expect(match[1]).toMatch(/^#\//);
    });

    it(`${name}: bound every string and list, close every mapping, and describe every field`, () => {
      for (const [pointer, node] of subschemas(schema)) {
        if (node.$ref) continue;
        if (node.type === 'string') expect(node.maxLength, pointer).toBeTypeOf('number');
        if (node.type === 'array') expect(node.maxItems, pointer).toBeTypeOf('number');
        if (node.type === 'object') expect(node.additionalProperties, pointer).toBe(false);
        expect(node.title, pointer).toBeTypeOf('string');
        expect(node.description, pointer).toBeTypeOf('string');
      }
    });
  }
});

describe('the compiled validators', () => {
  it('are in step with the schemas and the installed ajv', () => {
    const committed = readFileSync(generatedValidatorsPath, 'utf8');
    expect(committed, 'out of date: run `npx tsx scripts/generate-validators.ts`').toBe(validatorCode());
  });
});

describe('isoDateFor', () => {
  it('reads dates written for people, with other separators, with a time, or as a number', () => {
    expect(isoDateFor('13 July 2025')).toEqual({ kind: 'date', iso: '2025-07-13' });
    expect(isoDateFor('Jul. 13, 2025')).toEqual({ kind: 'date', iso: '2025-07-13' });
    expect(isoDateFor('2025/7/3')).toEqual({ kind: 'date', iso: '2025-07-03' });
    expect(isoDateFor('2025-07-13T09:30:00Z')).toEqual({ kind: 'date', iso: '2025-07-13' });
    expect(isoDateFor(20250713)).toEqual({ kind: 'date', iso: '2025-07-13' });
    expect(isoDateFor('13/07/2025')).toEqual({ kind: 'date', iso: '2025-07-13' });
    expect(isoDateFor('07/13/2025')).toEqual({ kind: 'date', iso: '2025-07-13' });
  });

  it('says when the day could be the month, and when the day does not exist', () => {
    expect(isoDateFor('07/08/2025')).toEqual({
      kind: 'ambiguous',
      dayFirst: '2025-08-07',
      monthFirst: '2025-07-08',
    });
    expect(isoDateFor('2025-02-30')).toEqual({ kind: 'impossible' });
    expect(isoDateFor('soon')).toBeUndefined();
  });
});

describe('fieldLabel', () => {
  it('names nested fields and list items in full', () => {
    expect(fieldLabel('/title')).toBe('`title`');
    expect(fieldLabel('/brief/title')).toBe('`brief.title`');
    expect(fieldLabel('/key_points/2')).toBe('item 3 of `key_points`');
    expect(fieldLabel('/brief/briefings/0')).toBe('item 1 of `brief.briefings`');
    expect(fieldLabel('/sources/1/url')).toBe('`url` of item 2 in `sources`');
  });
});

describe('suggestions', () => {
  it('counts a swap of two letters as one edit', () => {
    expect(editDistance('titel', 'title')).toBe(1);
    expect(editDistance('Summary', 'summary')).toBe(0);
    expect(closest('titel', ['title', 'date', 'summary'])).toBe('title');
    expect(closest('colour', ['title', 'date'])).toBeUndefined();
  });

  it('are applied by named enhancers, in a stable order', () => {
    expect(enhancers.map((enhance) => enhance.name)).toEqual([
      'suggestUnknownKey',
      'explainKeyOfOtherFile',
      'suggestEnumValue',
      'suggestIsoDate',
      'explainYamlScalars',
      'explainYesNo',
      'explainListWithoutSpace',
      'explainTextForList',
      'explainItemShape',
      'explainTopLevel',
      'explainMissingSpace',
    ]);
  });
});
