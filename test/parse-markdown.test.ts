import { describe, expect, it } from 'vitest';
import { maxMarkdownDepth, parseMarkdown } from '../pipeline/lib/markdown/parse-markdown.ts';

describe('parseMarkdown', () => {
  it('parses GitHub-flavoured Markdown with positions', async () => {
    const parsed = await parseMarkdown('\n\n| a |\n|---|\n| b |\n\nA ~~struck~~ word.[^1]\n\n[^1]: Note.\n');
    expect('tree' in parsed && parsed.tree.children.map((node) => node.type)).toEqual([
      'table',
      'paragraph',
      'footnoteDefinition',
    ]);
    expect('tree' in parsed && parsed.tree.children[0]?.position?.start).toMatchObject({
      line: 3,
      column: 1,
    });
  });

  it('refuses a body nested too deep, at the deepest node', async () => {
    const parsed = await parseMarkdown(`\n\n${'> '.repeat(maxMarkdownDepth + 10)}a\n`);
    expect(parsed).toMatchObject({ problem: { ruleId: 'markdown-depth', place: { line: 3 } } });
  });

  it('stops a body that takes longer than its budget, and parses the next one', async () => {
    // cmark's "nested strong emph": micromark needs minutes for this.
    const [slow, next] = await Promise.all([
      parseMarkdown(`${'*a **a '.repeat(5000)}b${' a** a*'.repeat(5000)}`),
      parseMarkdown('Next *body*.'),
    ]);
    expect(slow).toMatchObject({ problem: { ruleId: 'markdown-too-complex' } });
    expect('tree' in next && next.tree.children[0]?.type).toBe('paragraph');
  });
});
