import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VFile } from 'vfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkBriefing, convertBriefing } from '../pipeline/03-convert-markdown.ts';
import { briefingMeta, squash, temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  folder = await temporaryFolder();
  await mkdir(path.join(folder.dir, 'briefings'));
  await mkdir(path.join(folder.dir, 'assets'));
});
afterEach(async () => {
  await folder.remove();
});

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** Converts a body as the briefing `sample`, with the front matter taking `headerLines` lines. */
async function convert(body: string, headerLines = 4, mode: 'build' | 'check' = 'build'): Promise<VFile> {
  const header = `---\n${'x: y\n'.repeat(headerLines - 2)}---\n`;
  const file = new VFile({ path: path.join(folder.dir, 'briefings', 'sample.md'), value: header + body });
  file.data.briefing = briefingMeta('sample');
  file.data.bodyStart = { line: headerLines + 1, offset: header.length };
  await (mode === 'build' ? convertBriefing : checkBriefing)(file, folder.dir);
  return file;
}

function report(file: VFile): string[] {
  return file.messages.map((message) => `${message.line}:${message.column} ${message.ruleId}`);
}

describe('convertBriefing', () => {
  it('typesets the Unpacked section as questions with their answers', async () => {
    const file = await convert(
      'Intro.\n\n## Unpacked\n\n### Why?\n\nBecause.\n\n### How?\n\nLike so.\n\n## After\n\nEnd.\n',
    );
    const html = file.data.content?.html ?? '';
    expect(html).toContain('<section class="unpacked"><h2 id="c-sample-unpacked">Unpacked</h2>');
    expect(html).toContain(
      '<section class="qa"><h3 class="qa-question" id="c-sample-why">Why?</h3><div class="qa-answer">\n<p>Because.</p>\n</div></section>',
    );
    expect(html.indexOf('id="c-sample-after"')).toBeGreaterThan(html.indexOf('Like so.'));
    expect(
      file.data.content?.headings.filter((heading) => heading.question).map((heading) => heading.text),
    ).toEqual(['Why?', 'How?']);
    expect(report(file)).toEqual([]);
  });

  it('keeps the notes out of the last answer of the Unpacked section', async () => {
    const file = await convert('## Unpacked\n\n### Why?\n\nBecause.[^1]\n\n[^1]: A note.\n');
    const html = file.data.content?.html ?? '';
    expect(html.indexOf('<section data-footnotes')).toBeGreaterThan(html.lastIndexOf('</section></section>'));
  });

  it('warns about an Unpacked subsection that is not a question', async () => {
    const file = await convert('## Unpacked\n\n### Background\n\nText.\n');
    expect(report(file)).toEqual(['7:1 unpacked-question']);
  });

  it('drops raw HTML and reports each piece at its file position', async () => {
    const file = await convert('Text <b onclick="x()">bold</b>.\n\n<script>alert(1)</script>\n');
    expect(file.data.content?.html).not.toMatch(/<script|onclick|<b>/);
    expect(report(file)).toEqual(['5:6 raw-html', '5:27 raw-html', '7:1 raw-html']);
  });

  it('prefixes ids and follows links to headings and footnotes', async () => {
    const file = await convert(
      'See [the answer](#the-answer) and a note.[^1]\n\n## The answer\n\nYes.\n\n[^1]: A note.\n',
    );
    const html = file.data.content?.html ?? '';
    expect(html).toContain('href="#c-sample-the-answer"');
    expect(html).toContain('id="c-sample-the-answer"');
    expect(html).toContain('href="#c-sample-fn-1"');
    expect(html).toContain('id="c-sample-fn-1"');
    expect(html).not.toContain('user-content');
    expect(file.data.content?.hasFootnotes).toBe(true);
    expect(report(file)).toEqual([]);
  });

  it('reports a link to an anchor that does not exist, with a suggestion', async () => {
    const file = await convert('See [it](#the-anser).\n\n## The answer\n\nYes.\n');
    expect(report(file)).toEqual(['5:5 missing-anchor']);
    expect(file.messages[0]?.reason).toContain('did you mean `#the-answer`?');
  });

  it('keeps web and e-mail links and refuses every other scheme', async () => {
    const line =
      '[a](https://example.org/x) [b](mailto:desk@example.org) [c](javascript:alert(1)) [d](JaVaScRiPt:alert(1)) [e](file:///etc/passwd) [f](//evil.example/x) [g](other.md)';
    const file = await convert(`${line}\n`);
    const html = file.data.content?.html ?? '';
    expect(html).toContain('href="https://example.org/x"');
    expect(html).toContain('href="mailto:desk@example.org"');
    expect(html).not.toMatch(/javascript|file:|evil|other\.md/i);
    const columns = ['[c]', '[d]', '[e]', '[f]', '[g]'].map((label) => line.indexOf(label) + 1);
    expect(report(file)).toEqual(columns.map((column) => `5:${column} link-url`));
  });

  it('loads an image from the source folder under a content-addressed name', async () => {
    await writeFile(path.join(folder.dir, 'assets', 'map.png'), png);
    const file = await convert('![A map](../assets/map.png)\n');
    const asset = file.data.content?.assets[0];
    expect(asset?.mediaType).toBe('image/png');
    expect(asset?.href).toMatch(/^assets\/[0-9a-f]{20}\.png$/);
    expect(file.data.content?.html).toContain(`<img src="${asset?.href}" alt="A map">`);
    expect(report(file)).toEqual([]);
  });

  it('refuses images outside the source folder, missing, remote, linked or not images, and without alt text', async () => {
    await writeFile(path.join(folder.dir, 'assets', 'fake.png'), 'not an image');
    await writeFile(path.join(folder.dir, 'assets', 'real.png'), png);
    await symlink(path.join(folder.dir, 'assets', 'real.png'), path.join(folder.dir, 'assets', 'link.png'));
    const file = await convert(
      [
        '![a](../../outside.png)',
        '![b](../assets/none.png)',
        '![c](https://example.org/x.png)',
        '![d](../assets/link.png)',
        '![e](../assets/fake.png)',
        '![](../assets/real.png)',
        '![g](/etc/passwd)',
        '![h](data:image/png;base64,AAAA)',
      ].join('\n\n'),
    );
    expect(report(file)).toEqual([
      '5:1 image-outside-source',
      '7:1 image-missing',
      '9:1 remote-image',
      '11:1 image-not-a-file',
      '13:1 image-type',
      '15:1 image-alt',
      '17:1 image-url',
      '19:1 image-url',
    ]);
    expect(file.data.content?.html).not.toMatch(/outside|none\.png|example\.org|link\.png|fake|passwd|data:/);
  });

  it('writes a well-formed XHTML twin of the body', async () => {
    const file = await convert('A<br>line  \nbreak and a rule:\n\n---\n\nEnd.\n');
    const xhtml = file.data.content?.xhtml ?? '';
    expect(xhtml).toContain('<br />');
    expect(xhtml).not.toContain('xmlns');
    expect(xhtml).toContain('<hr />');
  });

  it('says the same text in the XHTML as in the HTML', async () => {
    const file = await convert(
      'A note[^1] and a table:\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- [x] done\n- [ ] to do\n\n## Unpacked\n\n### Why?\n\nBecause.[^2]\n\n[^1]: One.\n[^2]: Two.\n',
    );
    const text = (markup: string) => squash(markup.replace(/<[^>]+>/g, ' '));
    expect(text(file.data.content?.xhtml ?? '')).toBe(text(file.data.content?.html ?? ''));
  });

  it('marks notes up as EPUB notes in the XHTML only', async () => {
    const file = await convert('A claim.[^1]\n\n[^1]: The note.\n');
    const xhtml = file.data.content?.xhtml ?? '';
    expect(xhtml).toMatch(/<a href="#c-sample-fn-1" [^>]*epub:type="noteref" role="doc-noteref">1<\/a>/);
    expect(xhtml).toMatch(/<section [^>]*epub:type="endnotes" role="doc-endnotes">/);
    expect(xhtml).toContain('<li id="c-sample-fn-1" epub:type="endnote">');
    expect(xhtml).toMatch(/<a href="#c-sample-fnref-1" [^>]*role="doc-backlink">/);
    expect(file.data.content?.html).not.toMatch(/epub:type|role="doc-/);
  });

  it('keeps the notes out of the last answer of the Unpacked section in the XHTML', async () => {
    const file = await convert('## Unpacked\n\n### Why?\n\nBecause.[^1]\n\n[^1]: The note.\n');
    const xhtml = file.data.content?.xhtml ?? '';
    expect(xhtml).toContain('<section class="unpacked" epub:type="qna">');
    expect(xhtml).toMatch(/<\/div><\/section><\/section><section data-footnotes=""/);
    expect(xhtml.trimEnd().endsWith('</section>')).toBe(true);
  });

  it('carries the alignment of table columns as classes in the XHTML, which has no `align`', async () => {
    const file = await convert('| a | b | c |\n|:-|-:|:-:|\n| 1 | 2 | 3 |\n');
    const xhtml = file.data.content?.xhtml ?? '';
    expect(xhtml).not.toContain('align=');
    expect(xhtml).toContain('<td class="align-left">1</td>');
    expect(xhtml).toContain('<td class="align-right">2</td>');
    expect(xhtml).toContain('<td class="align-center">3</td>');
    expect(file.data.content?.html).toContain('<td align="right">2</td>');
  });

  it('turns task-list checkboxes into marks with an accessible name in the XHTML', async () => {
    const file = await convert('- [x] done\n- [ ] to do\n');
    const xhtml = file.data.content?.xhtml ?? '';
    expect(xhtml).not.toContain('<input');
    expect(xhtml).toContain('<span class="task-mark task-done" role="img" aria-label="Done" /> done');
    expect(xhtml).toContain('<span class="task-mark task-open" role="img" aria-label="Not done" /> to do');
    expect(file.data.content?.html).toContain('<input type="checkbox" checked disabled>');
  });

  it('collects the text of every block for the content-loss check, split at footnote marks', async () => {
    const file = await convert(
      'A *first*\nparagraph.\n\n| h1 | h2 |\n|---|---|\n| c1 | c2 |\n\nNoted[^n] here ![alt](x.png) too.\n\n[^n]: The note.\n',
    );
    expect(file.data.content?.blocks.map((block) => block.text)).toEqual([
      'A first paragraph.',
      'h1',
      'h2',
      'c1',
      'c2',
      'Noted',
      'here too.',
      'The note.',
    ]);
    expect(file.data.content?.blocks[0]).toEqual({ text: 'A first paragraph.', line: 5, column: 1 });
  });

  it('reports footnotes used without a note, notes never used, and notes defined twice', async () => {
    const file = await convert(
      [
        'A claim.[^1] Another.[^2] Not a note: `[^3]`, \\[^4].',
        '',
        '[^1]: The source.',
        '[^1]: The same label again.',
        '[^spare]: A note nobody cites.',
        '',
      ].join('\n'),
    );
    expect(report(file)).toEqual(['8:1 duplicate-footnote', '9:1 unused-footnote', '5:22 missing-footnote']);
    expect(file.messages.map((message) => message.reason)).toEqual([
      'Unexpected second footnote `[^1]`, already defined on line 7, so this one is left out; merge the two notes or give this one its own label',
      'Unexpected footnote `[^spare]` that the text never refers to, so it is left out; add `[^spare]` where the note belongs, or remove the note',
      'Unexpected footnote `[^2]` without a note, so it prints as `[^2]`; add a line `[^2]: …` with the note, or remove the reference',
    ]);
  });

  it('warns about a heading with nothing under it before the next of the same or a higher rank', async () => {
    const file = await convert(
      [
        '## Background',
        '',
        '### Detail',
        '',
        'Text.',
        '',
        '### Empty one',
        '',
        '## Next',
        '',
        'Text.',
        '',
        '## Notes',
        '',
        'See.[^1]',
        '',
        '## Last',
        '',
        '[^1]: A note, printed at the end, not under `Last`.',
        '',
      ].join('\n'),
    );
    expect(report(file)).toEqual(['11:1 empty-section', '21:1 empty-section']);
    expect(file.messages[0]?.reason).toBe(
      'Unexpected empty section `Empty one`, expected text under its heading before the next heading of the same or a higher rank; write the section or remove the heading',
    );
    expect(file.messages[1]?.reason).toBe(
      'Unexpected empty section `Last`, expected text under its heading; write the section or remove the heading',
    );
  });

  it('keeps positions right in a file with CRLF line endings', async () => {
    const file = await convert('Intro.\r\n\r\nSee [it](#nowhere).[^x]\r\n\r\n## Empty\r\n');
    expect(report(file)).toEqual(['7:20 missing-footnote', '9:1 empty-section', '7:5 missing-anchor']);
  });

  it('reports the same problems when checking as when converting, and converts nothing', async () => {
    const body = '<b>x</b> [a](#none) [^n]\n\n## Unpacked\n\n### Background\n\n## End\n';
    const built = await convert(body);
    const checked = await convert(body, 4, 'check');
    expect(report(checked)).toEqual(report(built));
    expect(report(checked)).toHaveLength(7);
    expect(checked.data.content).toBeUndefined();
  });
});
