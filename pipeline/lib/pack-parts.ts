/**
 * The pack printed in parts. A pack of many briefings is printed as a few documents of its own (the
 * cover and contents with the first briefings, then the next briefings, the last part ending with the
 * colophon), each with the page numbers it has in the whole, and the parts are joined into one PDF
 * (`pdf-merge.ts`). Each part is kept in the build cache under a digest of its document, so a rebuild
 * after one briefing changed prints only the part that holds it, not the whole pack: Chromium lays a
 * document out whole for every print, and the pack is the longest thing a rebuild prints.
 *
 * The template writes {@link partMarker} before each briefing and before the colophon. A part's page
 * numbers continue from the parts before it (`@page :first { counter-increment: page N }`), and "of N"
 * is written out, since `counter(pages)` counts the part's own pages. Chromium writes a link, and a
 * named destination, only for a target in the same document: each part lists the briefings that live
 * in other parts as empty anchors (the contents' links are then written, to a placeholder the join
 * replaces), and links to its own briefings and its colophon from an empty, invisible link, so that
 * their destinations are written where they really are.
 */

/** Written by `templates/print/pack.liquid` before each briefing and before the colophon. */
export const partMarker = '<!--pack-part-->';

/** Briefings in each part: a one-edit rebuild reprints about this many. */
export const briefingsPerPart = 10;

/** A pack split into parts: what each part holds, and how to write its document. */
export interface PackParts {
  /** The anchor of each briefing, in pack order. */
  anchors: string[];
  /** Each part's briefings, as indexes into {@link PackParts.anchors}; the first part also holds the front. */
  parts: number[][];
  /** The cover and contents alone, to count their pages. */
  frontOnly: string;
  /** The HTML of part `index`, with the contents numbered `starts` (first page of each briefing). */
  html(index: number, starts: readonly number[]): string;
  /** The page CSS of a part whose first page is `first`, of a pack of `total` pages. */
  css(first: number, total: number): string;
}

/**
 * Where the printed parts of the pack are kept between builds, by a key of everything a part's bytes
 * depend on (its document, its page CSS, and what the build cache keys every PDF by: the fonts, the
 * browser and the tool).
 */
export interface PartCache {
  key(html: string, pageCss: string): string;
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
}

/** The page count written into the pack's page CSS, replaced in each part by the pack's. */
const pagesCounter = 'counter(pages)';

/**
 * The pack's document in parts, or undefined when it should be printed whole: a pack of no more
 * briefings than one part holds, or a document whose markers or page CSS are not as the templates
 * write them.
 */
export function splitPack(html: string, pageCss: string, anchors: readonly string[]): PackParts | undefined {
  if (anchors.length <= briefingsPerPart) return undefined;
  const segments = html.split(partMarker);
  if (segments.length !== anchors.length + 2) return undefined;
  if (pageCss.split(pagesCounter).length !== 2) return undefined;
  const first = segments[0] as string;
  const last = segments[segments.length - 1] as string;
  const bodyOpen = first.indexOf('<body');
  const bodyStart = bodyOpen < 0 ? -1 : first.indexOf('>', bodyOpen) + 1;
  const bodyEnd = last.lastIndexOf('</body>');
  if (bodyStart <= 0 || bodyEnd < 0) return undefined;
  const head = first.slice(0, bodyStart);
  const front = first.slice(bodyStart);
  const colophon = last.slice(0, bodyEnd);
  const closing = last.slice(bodyEnd);
  const articles = segments.slice(1, -1);
  const parts: number[][] = [];
  for (let start = 0; start < anchors.length; start += briefingsPerPart) {
    parts.push(anchors.slice(start, start + briefingsPerPart).map((_, offset) => start + offset));
  }
  const lastPart = parts.length - 1;
  return {
    anchors: [...anchors],
    parts,
    frontOnly: `${head}${front}${closing}`,
    html(index, starts) {
      const held = parts[index] ?? [];
      const elsewhere = anchors.filter((_, briefing) => !held.includes(briefing));
      const own = held.map((briefing) => anchors[briefing] as string);
      if (index === lastPart) own.push('colophon');
      const body = [
        index === 0 ? numberContents(front, starts) : '',
        ...held.map((briefing) => articles[briefing] as string),
        index === lastPart ? colophon : '',
      ].join('');
      return `${head}${partAnchors(elsewhere, own)}${body}${closing}`;
    },
    css(firstPage, total) {
      const numbered = pageCss.replace(pagesCounter, `"${total}"`);
      return firstPage === 1
        ? numbered
        : `${numbered}\n@page :first { counter-increment: page ${firstPage}; }\n`;
    },
  };
}

/** Empty anchors for the briefings printed in other parts, and invisible links to this part's own. */
function partAnchors(elsewhere: readonly string[], own: readonly string[]): string {
  const anchors = elsewhere.map((anchor) => `<span id="${anchor}"></span>`).join('');
  const links = own.map((anchor) => `<a href="#${anchor}" tabindex="-1" aria-hidden="true"></a>`).join('');
  return `<div class="pack-part-anchors" aria-hidden="true">${anchors}${links}</div>`;
}

/** The contents with each entry's page number written in, in order. */
function numberContents(front: string, starts: readonly number[]): string {
  let entry = 0;
  return front.replace(
    /(<span class="contents-page">)[^<]*(<\/span>)/g,
    (_, open: string, close: string) => `${open}${starts[entry++] ?? ''}${close}`,
  );
}
