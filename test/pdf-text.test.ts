import { PDFDocument } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { containsText, extractContentText, foldForComparison, textFinder } from '../pipeline/lib/pdf-text.ts';

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

describe('textFinder', () => {
  it('answers as containsText does, for runs in the printed order, out of it, repeated or missing', () => {
    const folded = foldForComparison(
      'Contents One Two. One: the first summary. Click txt.exe now. Two: the second summary. The end.',
    );
    const runs = [
      'One',
      'the first summary.',
      'Click \u202eexe.txt\u202c now.',
      'Two: the second',
      // Before the last found, and again.
      'Contents',
      'the first summary.',
      'The end.',
      // Missing, then found again after the miss.
      'the third summary.',
      'second summary',
      '',
    ];
    const found = textFinder(folded);
    expect(runs.map((run) => found(run))).toEqual(runs.map((run) => containsText(folded, run)));
    expect(runs.map((run) => found(run))).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      true,
      true,
    ]);
  });
});

describe('extractContentText', () => {
  it('leaves Node’s own built-ins in place when it loads pdf.js', async () => {
    const native = {
      parse: JSON.parse,
      stringify: JSON.stringify,
      push: Array.prototype.push,
      toString: Function.prototype.toString,
      fromBase64: 'fromBase64' in Uint8Array,
    };
    const document = await PDFDocument.create();
    document.addPage([200, 200]);
    expect(await extractContentText(await document.save())).toBe('');
    expect(JSON.parse).toBe(native.parse);
    expect(JSON.stringify).toBe(native.stringify);
    expect(Array.prototype.push).toBe(native.push);
    expect(Function.prototype.toString).toBe(native.toString);
    // puppeteer decodes with it when it exists: pdf.js's polyfill is not left for it to find.
    expect('fromBase64' in Uint8Array).toBe(native.fromBase64);
    // What pdf.js needs and Node 20 lacks stays added.
    expect(typeof (Promise as { withResolvers?: unknown }).withResolvers).toBe('function');
  });
});
