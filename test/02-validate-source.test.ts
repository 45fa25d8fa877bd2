import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VFile } from 'vfile';
import { describe, expect, it } from 'vitest';
import { type RememberedHeader, validateSource } from '../pipeline/02-validate-source.ts';
import { Memo } from '../pipeline/lib/memo.ts';
import type { BuildFiles } from '../pipeline/lib/model.ts';
import { parseHumanDate } from '../pipeline/lib/schema-check.ts';
import { temporaryFolder } from './helpers.ts';

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
      'Unexpected number `1984` for `title`, expected text; YAML reads `1984` as a number, so put it in quotes: `"1984"`',
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

  it('reports positions in a file with CRLF line endings as in one with LF', async () => {
    const crlf = (text: string) => text.replaceAll('\n', '\r\n');
    const broken = '---\ntitle: T\ndate: 13 July 2025\nsumary: S.\n---\n\nBody.\n';
    const input = files(crlf(packText), { lf: broken, crlf: crlf(broken) });
    await validateSource(input);
    const [lf, withCr] = input.briefings.map((file) => report({ ...input, briefings: [] }, [file]));
    expect(lf).toEqual(['lf.md:2:1 missing-field', 'lf.md:3:7 date-format', 'lf.md:4:1 unknown-field']);
    expect(withCr?.map((line) => line.replace('crlf', 'lf'))).toEqual(lf);
    expect(input.briefings[1]?.data.bodyStart).toEqual({ line: 6, offset: 52 });
  });

  it('reads `no` as text, so the Norwegian language tag is no problem', async () => {
    const build = await validateSource(files(`${packText}language: no\n`, { a: valid }));
    expect(report(build)).toEqual([]);
    expect(build.pack.data.pack?.language).toBe('no');
  });

  it('explains `yes` and `no` where a list is expected', async () => {
    const input = files(packText, { a: valid.replace('title:', 'tags: no\nkey_points: yes\ntitle:') });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual([
      'a.md:2:7 field-type',
      'a.md:3:13 field-type',
    ]);
    expect(reasons(input.briefings[0])).toEqual([
      'Unexpected `no` for `tags`, expected a list; `no` is text in YAML 1.2, not a switch: to leave out `tags`, remove the line',
      'Unexpected `yes` for `key_points`, expected a list; `yes` is text in YAML 1.2, not a switch: write the items, one per line starting with `- `, or on one line: `[first, second]`',
    ]);
  });

  it('points a missing key of a list item at the item, and labels nested fields in full', async () => {
    const input = files(`${packText}brief:\n  briefings: [Bad Id]\n`, {
      a: valid.replace('title:', 'sources:\n  - publisher: P\n    url: example.org\ntitle:'),
    });
    await validateSource(input);
    expect(report(input)).toEqual([
      'pack.yaml:4:15 id-format',
      'a.md:3:5 missing-field',
      'a.md:4:10 url-format',
    ]);
    expect(reasons(input.pack)[0]).toContain('for item 1 of `brief.briefings`');
    expect(reasons(input.briefings[0])).toEqual([
      "Missing `title` in item 1 of `sources`; add `title: …` with the source's title",
      'Unexpected `example.org` for `url` of item 1 in `sources`, expected a web address starting `https://` or `http://`',
    ]);
  });

  it('still checks the briefing order when pack.yaml has other errors', async () => {
    const input = files(`${packText}paper: A5\nbriefings: [dprk-rusia]\n`, { 'dprk-russia': valid });
    await validateSource(input);
    expect(report(input)).toEqual([
      'pack.yaml:3:8 enum-value',
      'pack.yaml:4:13 unknown-briefing',
      'dprk-russia.md:1:1 unlisted-briefing',
    ]);
  });

  it('says where a field of the other file belongs', async () => {
    const input = files(`${packText}summary: S.\n`, { a: valid.replace('title:', 'paper: A4\ntitle:') });
    await validateSource(input);
    expect(reasons(input.pack)).toEqual([
      "Unknown field `summary` in `pack.yaml`, expected it in a briefing's header; move the line there",
    ]);
    expect(reasons(input.briefings[0])).toEqual([
      'Unknown field `paper` in the header, expected it in `pack.yaml`, for the whole pack; move the line there',
    ]);
  });

  it('words the common YAML syntax mistakes for authors, at the place to fix', async () => {
    const input = files(packText, {
      colon: '---\ntitle: Talks: the outcome\ndate: 2025-07-13\nsummary: S.\n---\n',
      quote: '---\ntitle: T\nsummary: "Open quote\ndate: 2025-07-13\n---\n',
      tab: '---\ntitle: T\ndate: 2025-07-13\nsummary: S.\nsources:\n\t- title: A\n---\n',
    });
    await validateSource(input);
    expect(report({ ...input, briefings: [] }, input.briefings)).toEqual([
      'colon.md:2:8 yaml-syntax',
      'quote.md:3:10 yaml-syntax',
      'tab.md:6:1 yaml-syntax',
    ]);
    expect(input.briefings.map((file) => reasons(file)[0])).toEqual([
      'Unexpected `: ` inside the value `Talks: the outcome`, expected one `key: value` per line; put the value in double quotes: `title: "Talks: the outcome"`',
      'Unexpected end of a value in quotes, expected a closing `"`; end the value with `"` on the line where it starts',
      'Unexpected tab used to indent, expected spaces; indent YAML with spaces only',
    ]);
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

describe('validateSource with the headers of earlier builds', () => {
  it('takes a remembered header as it was, and places messages in it as a fresh parse does', async () => {
    const tmp = await temporaryFolder('briefing-pack-headers-');
    try {
      const two = valid.replace('title:', 'id: same\ntitle:');
      const three = valid.replace('title:', 'marking: SECRET\ntitle:');
      const first = await Memo.open<RememberedHeader>(tmp.dir, 'headers', 'tool-1');
      const before = files(packText, { two, three });
      await validateSource(before, { headers: first });
      // A marking without a scale is a check across files: reported, and the header still remembered.
      expect(report({ ...before, briefings: [] }, before.briefings)).toEqual(['three.md:2:10 marking-scale']);
      expect(first.hits).toBe(0);
      await first.save();

      const second = await Memo.open<RememberedHeader>(tmp.dir, 'headers', 'tool-1');
      const after = files(packText, { one: two, two, three });
      await validateSource(after, { headers: second });
      expect(second.hits).toBe(2);
      const fresh = files(packText, { one: two, two, three });
      await validateSource(fresh);
      expect(report({ ...after, briefings: [] }, after.briefings)).toEqual([
        'two.md:2:5 duplicate-id',
        'three.md:2:10 marking-scale',
      ]);
      expect(report(after)).toEqual(report(fresh));
      expect(after.briefings.map((file) => file.data)).toEqual(fresh.briefings.map((file) => file.data));

      // Another tool (its code, templates or schemas changed) finds nothing remembered.
      await second.save();
      const other = await Memo.open<RememberedHeader>(tmp.dir, 'headers', 'tool-2');
      await validateSource(files(packText, { two, three }), { headers: other });
      expect(other.hits).toBe(0);
    } finally {
      await tmp.remove();
    }
  });

  it('does not remember a header with a message, and reads a damaged memo as empty', async () => {
    const tmp = await temporaryFolder('briefing-pack-headers-');
    try {
      const unknown = valid.replace('title:', 'colour: blue\ntitle:');
      const first = await Memo.open<RememberedHeader>(tmp.dir, 'headers', 'tool');
      await validateSource(files(packText, { a: unknown, b: valid }), { headers: first });
      await first.save();
      const second = await Memo.open<RememberedHeader>(tmp.dir, 'headers', 'tool');
      const again = files(packText, { a: unknown, b: valid });
      await validateSource(again, { headers: second });
      expect(second.hits).toBe(1);
      expect(report({ ...again, briefings: [] }, again.briefings)).toEqual(['a.md:2:1 unknown-field']);

      const file = path.join(tmp.dir, 'memo', 'headers.json');
      await writeFile(file, (await readFile(file, 'utf8')).replace('A title', 'B title'));
      const damaged = await Memo.open<RememberedHeader>(tmp.dir, 'headers', 'tool');
      const third = files(packText, { b: valid });
      await validateSource(third, { headers: damaged });
      expect(damaged.hits).toBe(0);
      expect(third.briefings[0]?.data.briefing?.title).toBe('A title');
    } finally {
      await tmp.remove();
    }
  });
});
