/**
 * The text a reader gets out of a PDF, extracted with pdf.js, for the content-loss check of the PDFs
 * that `pdf-content-text.ts`, which reads Chromium's content streams directly, does not cover; and
 * how that text is compared with the source's.
 *
 * Chromium's tagged PDFs wrap all content in marked-content sequences; page furniture (the running
 * heads and feet of the `@page` margin boxes) sits outside them and is left out, so a paragraph broken
 * across two pages reads as one.
 */
import { loadPdfjs } from './pdfjs.ts';

interface TextItemLike {
  str?: string;
  type?: string;
}

/**
 * Folds text for comparison: compatibility forms (ligatures), case, apostrophes (pdf.js reads U+2019
 * back as U+02BC), invisible format characters (bidi controls, zero-width spaces, soft hyphens: they
 * print nothing) and all whitespace removed.
 */
export function foldForComparison(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc\u2032]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\s\p{Cf}]+/gu, '');
}

/** Explicit bidi embeddings, overrides and isolates: the text they mark is printed in another order. */
const bidiControls = /[\u202a-\u202e\u2066-\u2069]/;

/**
 * Whether the folded text of a PDF contains a run of the source's text. A run with explicit bidi
 * controls is printed (and extracted) in visual order, so each of its words is looked for as written
 * or reversed.
 */
export function containsText(folded: string, run: string): boolean {
  if (!bidiControls.test(run)) return folded.includes(foldForComparison(run));
  return run
    .split(/\s+/)
    .map((word) => foldForComparison(word))
    .filter(Boolean)
    .every((word) => folded.includes(word) || folded.includes([...word].reverse().join('')));
}

/**
 * {@link containsText} for many runs of one PDF, with the same answers, asked for in about the order
 * the PDF prints them (a briefing's title, summary, key points, body and sources; the pack's briefings
 * in turn): each run is looked for from where the last one was found, and only a run not found from
 * there is looked for from the start. A pack's check then reads its text about once, not once per run
 * (in a pack of 100 briefings, 2,000 runs in 360,000 characters).
 */
export function textFinder(folded: string): (run: string) => boolean {
  let from = 0;
  return (run) => {
    if (bidiControls.test(run)) return containsText(folded, run);
    const wanted = foldForComparison(run);
    let at = folded.indexOf(wanted, from);
    if (at < 0) at = folded.indexOf(wanted);
    if (at < 0) return false;
    from = at;
    return true;
  };
}

/** The folded text of a PDF's content (without page furniture), all pages joined. */
export async function extractContentText(bytes: Uint8Array): Promise<string> {
  // pdf.js takes ownership of the buffer it is given: hand it a copy.
  const { getDocument } = await loadPdfjs();
  const document = await getDocument({
    data: new Uint8Array(bytes),
    verbosity: 0,
    disableFontFace: true,
    useSystemFonts: false,
    isEvalSupported: false,
    stopAtErrors: true,
  }).promise;
  try {
    const parts: string[] = [];
    for (let number = 1; number <= document.numPages; number++) {
      const page = await document.getPage(number);
      const content = await page.getTextContent({ includeMarkedContent: true });
      let depth = 0;
      for (const item of content.items as TextItemLike[]) {
        if (item.type === 'beginMarkedContent' || item.type === 'beginMarkedContentProps') depth++;
        else if (item.type === 'endMarkedContent') depth = Math.max(0, depth - 1);
        else if (depth > 0 && item.str) parts.push(item.str);
      }
      page.cleanup();
    }
    return foldForComparison(parts.join(''));
  } finally {
    await document.destroy();
  }
}
