import { describe, expect, it } from 'vitest';
import { containsText, foldForComparison } from '../pipeline/lib/pdf-text.ts';

describe('foldForComparison', () => {
  it('ignores case, whitespace, ligatures, curly apostrophes and invisible format characters', () => {
    expect(foldForComparison('Russia’s ﬁeld\u00adwork,\u200b Done')).toBe("russia'sfieldwork,done");
    expect(foldForComparison('RUSSIAʼS')).toBe(foldForComparison('Russia’s'));
  });
});

describe('containsText', () => {
  it('finds a run of the source in the extracted text, across line and page breaks', () => {
    const folded = foldForComparison('The treaty, signed in\nJune 2024, covers political');
    expect(containsText(folded, 'The treaty, signed in June 2024,')).toBe(true);
    expect(containsText(folded, 'The treaty, signed in July 2024,')).toBe(false);
  });

  it('finds text under bidi overrides in the order it is printed', () => {
    const printed = foldForComparison('Click txt.exe and zerowidth.');
    expect(containsText(printed, 'Click \u202eexe.txt\u202c and \u200bzero\u200bwidth.')).toBe(true);
    expect(containsText(printed, 'Click \u202eexe.doc\u202c and zero width.')).toBe(false);
  });
});
