import { VFile } from 'vfile';
import { describe, expect, it } from 'vitest';
import { capMessages, countErrors, error, warning } from '../pipeline/lib/messages.ts';

describe('capMessages', () => {
  it('keeps the first errors, then warnings, and counts the rest in one last error', () => {
    const file = new VFile({ path: 'briefing.md' });
    for (let line = 1; line <= 8; line++)
      warning(file, `Warning ${line}`, { ruleId: 'raw-html', place: { line, column: 1 } });
    for (let line = 9; line <= 12; line++)
      error(file, `Error ${line}`, { ruleId: 'missing-anchor', place: { line, column: 1 } });
    capMessages(file, 6);
    expect(file.messages.map((message) => `${message.line} ${message.ruleId}`)).toEqual([
      '9 missing-anchor',
      '10 missing-anchor',
      '11 missing-anchor',
      '12 missing-anchor',
      '1 raw-html',
      '2 raw-html',
      '3 too-many-problems',
    ]);
    expect(file.messages.at(-1)?.reason).toBe(
      'Unexpected 6 more problems in this file, not listed; fix the ones above first',
    );
    expect(countErrors([file])).toBe(5);
  });

  it('leaves a file with few messages alone', () => {
    const file = new VFile({ path: 'briefing.md' });
    warning(file, 'One', { ruleId: 'raw-html' });
    capMessages(file, 6);
    expect(file.messages).toHaveLength(1);
  });
});
