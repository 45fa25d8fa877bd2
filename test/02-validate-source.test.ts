import { VFile } from 'vfile';
import { describe, expect, it } from 'vitest';
import { validateSource } from '../pipeline/02-validate-source.ts';
import type { BuildFiles } from '../pipeline/lib/model.ts';
import { parseHumanDate } from '../pipeline/lib/schema-check.ts';

const packText = 'title: Pack\ndate: 2025-07-13\n';

function files(pack: string, briefings: Record<string, string>): BuildFiles {
  return {
    sourceDir: '/source',
    pack: new VFile({ path: '/source/pack.yaml', value: pack }),
    briefings: Object.entries(briefings).map(
      ([name, value]) => new VFile({ path: `/source/briefings/${name}.md`, value }),
    ),
    documents: [],
    outputs: [],
  };
}

/** `line:column rule-id` of every message of the build, pack first. */
function report(build: BuildFiles, all: VFile[] = [build.pack, ...build.briefings]): string[] {
  return all.flatMap((file) =>
    file.messages.map((message) => `${file.basename}:${message.line}:${message.column} ${message.ruleId}`),
  );
}

function reasons(file: VFile | undefined): string[] {
  return file?.messages.map((message) => message.reason) ?? [];
}

const valid = '---\ntitle: A title\ndate: 2025-07-13\nsummary: A summary.\n---\n\nBody.\n';

describe('validateSource', () => {
  it('attaches the model of a valid pack and briefing, with defaults', async () => {
    const build = await validateSource(files(packText, { 'first-one': valid }));
    expect(report(build)).toEqual([]);
    expect(build.pack.data.pack).toMatchObject({
      title: 'Pack',
      language: 'en',
      paper: 'A4',
      briefingIds: ['first-one'],
      brief: { title: 'Pack', briefingIds: ['first-one'] },
    });
    expect(build.briefings[0]?.data.briefing).toMatchObject({ id: 'first-one', keyPoints: [], tags: [] });
    expect(build.briefings[0]?.data.bodyStart).toEqual({ line: 6, offset: 60 });
  });

  it('reports a missing title at the start of the header', async () => {
    const input = files(packText, { a: '---\ndate: 2025-07-13\nsummary: S.\n---\n' });
    const build = await validateSource(input);
    expect(report(build, input.briefings)).toEqual(['a.md:2:1 missing-field']);
    expect(reasons(input.briefings[0])[0]).toBe(
      "Missing `title` in the header; add `title: …` with the briefing's title",
    );
  });

  it('reports a date written for people at the value, with the ISO form to write', async () => {
    const input = files(packText, { a: '---\ntitle: T\ndate: 13 July 2025\nsummary: S.\n---\n' });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['a.md:3:7 date-format']);
    expect(reasons(input.briefings[0])[0]).toBe(
      'Unexpected `13 July 2025` for `date`, expected a date like `2025-07-13`; write `2025-07-13`',
    );
  });

  it('suggests the field an unknown key was meant to be, pointing at the key', async () => {
    const input = files(packText, { a: '---\ntitle: T\ndate: 2025-07-13\nsumary: S.\n---\n' });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual([
      'a.md:2:1 missing-field',
      'a.md:4:1 unknown-field',
    ]);
    expect(reasons(input.briefings[0])).toContain('Unknown field `sumary`; did you mean `summary`?');
  });

  it('reports every problem of several files at once', async () => {
    const input = files('title: Pack\ndate: 2025-13-01\npaper: A5\n', {
      a: '---\ntitle: T\ndate: 2025-07-13\nsummary: S.\ntags: [x, x]\n---\n',
      b: '---\ntitle: 42\ndate: 2025-07-13\nsummary: S.\nkey_points: []\n---\n',
    });
    await validateSource(input);
    expect(report(input)).toEqual([
      'pack.yaml:2:7 date-format',
      'pack.yaml:3:8 enum-value',
      'a.md:5:11 duplicate-item',
      'b.md:2:8 field-type',
      'b.md:5:13 too-few-items',
    ]);
  });

  it('explains a YAML number where text is expected', async () => {
    const input = files(packText, { a: '---\ntitle: 1984\ndate: 2025-07-13\nsummary: S.\n---\n' });
    await validateSource(input);
    expect(reasons(input.briefings[0])[0]).toBe(
      'Unexpected the number `1984` for `title`, expected text; YAML reads `1984` as a number; put it in quotes: `"1984"`',
    );
  });

  it('names both lines of a duplicate key', async () => {
    const input = files(packText, { a: '---\ntitle: T\ndate: 2025-07-13\ntitle: U\nsummary: S.\n---\n' });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['a.md:4:1 duplicate-key']);
    expect(reasons(input.briefings[0])[0]).toBe(
      'Unexpected second `title`, already set on line 2; keep one of the two',
    );
  });

  it('refuses front matter with an engine tag and never evaluates it', async () => {
    const input = files(packText, { a: "---js\n{ title: require('child_process') }\n---\n" });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['a.md:1:4 front-matter-engine']);
  });

  it('refuses YAML aliases and custom tags', async () => {
    const input = files(packText, {
      a: '---\ntitle: &t T\ndate: 2025-07-13\nsummary: *t\n---\n',
      b: '---\ntitle: !!js/function "x"\ndate: 2025-07-13\nsummary: S.\n---\n',
    });
    await validateSource(input);
    const rules = report({ ...input, briefings: [] }, input.briefings);
    expect(rules).toContain('a.md:2:8 yaml-alias');
    expect(reasons(input.briefings[0])[0]).toBe(
      'Unexpected YAML anchor `&t`, expected a plain value; remove the anchor',
    );
    expect(rules).toContain('a.md:4:10 yaml-alias');
    expect(rules.some((line) => line.startsWith('b.md:2:8 yaml-'))).toBe(true);
  });

  it('keeps a `__proto__` key as data and reports it as unknown', async () => {
    const input = files(packText, {
      a: '---\ntitle: T\ndate: 2025-07-13\nsummary: S.\n__proto__: { polluted: true }\n---\n',
    });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['a.md:5:1 unknown-field']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports an unknown briefing in the pack order with a suggestion', async () => {
    const input = files(`${packText}briefings:\n  - dprk-rusia\n`, { 'dprk-russia': valid });
    await validateSource(input);
    expect(report(input)).toEqual(['pack.yaml:4:5 unknown-briefing', 'dprk-russia.md:1:1 unlisted-briefing']);
    expect(reasons(input.pack)[0]).toBe(
      'Unknown briefing `dprk-rusia` in `briefings`; did you mean `dprk-russia`?',
    );
  });

  it('orders briefings newest first, then by id, when the pack lists none', async () => {
    const dated = (date: string) => valid.replace('2025-07-13', date);
    const build = await validateSource(
      files(packText, { b: dated('2025-07-01'), c: dated('2025-07-09'), a: dated('2025-07-01') }),
    );
    expect(build.pack.data.pack?.briefingIds).toEqual(['c', 'a', 'b']);
  });

  it('reports duplicate ids case-insensitively, naming the other file', async () => {
    const input = files(packText, {
      one: valid.replace('title:', 'id: same\ntitle:'),
      two: valid.replace('title:', 'id: same\ntitle:'),
    });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['two.md:2:5 duplicate-id']);
  });

  it('checks a briefing marking against the scale and the pack marking', async () => {
    const pack = `${packText}marking: OFFICIAL\nmarkings: [OFFICIAL, OFFICIAL-SENSITIVE, SECRET]\n`;
    const marked = (marking: string) => valid.replace('title:', `marking: ${marking}\ntitle:`);
    const input = files(pack, { a: marked('SECRET'), b: marked('OFFICAL'), c: marked('OFFICIAL') });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual([
      'a.md:2:10 marking-above-pack',
      'b.md:2:10 unknown-marking',
    ]);
    expect(reasons(input.briefings[1])[0]).toContain('did you mean `OFFICIAL`?');
  });

  it('reports control characters at their position', async () => {
    const input = files(packText, { a: valid.replace('A summary.', 'A sum\u0007mary.') });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['a.md:4:15 control-character']);
  });

  it('refuses a file name that cannot be an id unless the header gives one', async () => {
    const input = files(packText, {
      'My Briefing': valid,
      'Other One': valid.replace('title:', 'id: other-one\ntitle:'),
    });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['My Briefing.md:1:1 id-format']);
  });

  it('explains `key:value` written without a space', async () => {
    const input = files(packText, { a: '---\ntitle: T\ndate:2025-07-13\nsummary: S.\n---\n' });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual(['a.md:3:1 yaml-missing-space']);
    expect(reasons(input.briefings[0])[0]).toBe(
      'Unexpected `date:2025-07-13`, expected a space after the colon: `date: 2025-07-13`',
    );
  });
});

describe('parseHumanDate', () => {
  it('reads dates written for people', () => {
    expect(parseHumanDate('13 July 2025')).toBe('2025-07-13');
    expect(parseHumanDate('13 July, 2025')).toBe('2025-07-13');
    expect(parseHumanDate('July 13, 2025')).toBe('2025-07-13');
    expect(parseHumanDate('1st Feb 2024')).toBe('2024-02-01');
  });

  it('refuses impossible or ambiguous dates', () => {
    expect(parseHumanDate('31 February 2025')).toBeUndefined();
    expect(parseHumanDate('07/13/2025')).toBeUndefined();
  });
});
