import { describe, expect, it } from 'vitest';
import { formatMessages, visibleControls } from '../pipeline/lib/report.ts';

describe('the human report', () => {
  it('shows control characters quoted from a source instead of sending them to the terminal', () => {
    expect(visibleControls('a\u001b]0;title\u0007b\u009bc\nd')).toBe('a\\u001B]0;title\\u0007b\\u009Bc d');
    const [line] = formatMessages([
      {
        file: 'source/briefings/x.md',
        line: 3,
        column: 7,
        severity: 'error',
        message: 'Unexpected `\u001b[2K\u001b[1A` for `date`',
        ruleId: 'date-format',
      },
    ]);
    expect(line).toBe(
      'source/briefings/x.md:3:7  error  Unexpected `\\u001B[2K\\u001B[1A` for `date`  date-format',
    );
  });
});
