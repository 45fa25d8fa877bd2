import { PDFDocument, PDFName, type PDFObject, type PDFRef } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserSession, openBrowser } from '../pipeline/lib/browser.ts';
import { parseToUnicode, readContentText, readContentTextInTurns } from '../pipeline/lib/pdf-content-text.ts';
import { loadPdf } from '../pipeline/lib/pdf-read.ts';
import { extractContentText, foldForComparison } from '../pipeline/lib/pdf-text.ts';
import { printHtml } from './helpers.ts';

/** A CMap mapping one-byte codes: printable ASCII to itself, plus `extra` entries. */
function asciiCmap(extra = ''): string {
  return [
    '/CIDInit /ProcSet findresource begin 12 dict begin begincmap',
    '1 begincodespacerange <00> <FF> endcodespacerange',
    '1 beginbfrange <20> <7E> <0020> endbfrange',
    extra,
    'endcmap CMapName currentdict /CMap defineresource pop end end',
  ].join('\n');
}

interface Made {
  /** Content stream of the page, or of each page. */
  content: string | string[];
  /** Fonts by resource name: the text of a `ToUnicode` CMap, or null for none. */
  fonts?: Record<string, string | null>;
  /** Form XObjects by resource name: content and the fonts of their own resources. */
  forms?: Record<string, { content: string; fonts?: Record<string, string | null>; self?: boolean }>;
  /** The filter of the page's content stream. */
  filter?: 'FlateDecode' | 'ASCIIHexDecode';
}

/** A one-page PDF made by hand with pdf-lib, saved and parsed again as the build parses a print. */
async function makePdf(made: Made): Promise<{ bytes: Uint8Array; document: PDFDocument }> {
  const document = await PDFDocument.create();
  const context = document.context;
  const fontDictionary = (fonts: Record<string, string | null>) => {
    const entries: Record<string, PDFRef> = {};
    for (const [name, cmap] of Object.entries(fonts)) {
      const font: Record<string, PDFObject | string> = {
        Type: 'Font',
        Subtype: 'Type1',
        BaseFont: 'Helvetica',
      };
      if (cmap !== null) font.ToUnicode = context.register(context.flateStream(cmap));
      entries[name] = context.register(context.obj(font));
    }
    return context.obj(entries);
  };
  const xobjects: Record<string, PDFRef> = {};
  for (const [name, form] of Object.entries(made.forms ?? {})) {
    const ref = context.nextRef();
    const dictionary: Record<string, PDFObject | string | number[]> = {
      Type: 'XObject',
      Subtype: 'Form',
      BBox: [0, 0, 300, 300],
    };
    if (form.fonts) dictionary.Resources = context.obj({ Font: fontDictionary(form.fonts) });
    if (form.self) dictionary.Resources = context.obj({ XObject: context.obj({ [name]: ref }) });
    context.assign(ref, context.flateStream(form.content, dictionary));
    xobjects[name] = ref;
  }
  const resources = context.obj({
    Font: fontDictionary(made.fonts ?? { F1: asciiCmap() }),
    XObject: context.obj(xobjects),
  });
  for (const content of Array.isArray(made.content) ? made.content : [made.content]) {
    const page = document.addPage([300, 300]);
    page.node.set(PDFName.of('Resources'), resources);
    const stream =
      made.filter === 'ASCIIHexDecode'
        ? context.stream(`${Buffer.from(content, 'latin1').toString('hex')}>`, { Filter: 'ASCIIHexDecode' })
        : context.flateStream(content);
    page.node.set(PDFName.of('Contents'), context.register(stream));
  }
  const bytes = await document.save();
  return { bytes, document: await loadPdf(bytes) };
}

describe('readContentText', () => {
  it('reads the text inside marked content, in content order, with every way of showing text', async () => {
    const { bytes, document } = await makePdf({
      fonts: {
        F1: asciiCmap(),
        // A second font maps A, B, C to X, Y, Z; { to two letters; | to one outside the BMP.
        F2: asciiCmap(
          '3 beginbfchar <7B> <00660069> <7C> <D835DC00> <44> <0044> endbfchar\n1 beginbfrange <41> <43> [<0058> <0059> <005A>] endbfrange',
        ),
      },
      forms: { X1: { content: 'BT /F3 9 Tf (In the form) Tj ET', fonts: { F3: asciiCmap() } } },
      content: [
        // Page furniture: outside any marked-content sequence.
        'BT /F1 9 Tf 10 290 Td (Page 1 of 2) Tj ET',
        '/P <</MCID 0>> BDC',
        'BT /F1 12 Tf 10 250 Td',
        '(Plain \\(nested (parens)\\) and \\101\\102C) Tj',
        '[(Kern) -120 (ed) 30 <2021>] TJ',
        "(next line) '",
        '1 2 (quoted) "',
        'ET EMC',
        // A property list with delimiters inside its strings.
        '/Span <</ActualText (a>b\\)) /Alt <3E3E> /Nested <</K [1 2]>>>> BDC',
        'q BT /F2 12 Tf <4142437B7C44> Tj ET Q',
        // After Q the font is F1 again.
        'BT (after) Tj ET EMC',
        '/Figure BMC /X1 Do EMC',
        // An inline image whose data looks like operators.
        '/P BMC BI /W 8 /H 1 /BPC 8 /CS /G ID EMC(x)Tj EI BT /F1 12 Tf (end) Tj ET EMC',
        'BT /F1 9 Tf (Page foot) Tj ET',
      ].join('\n'),
    });
    const text = readContentText(document);
    expect(text).toBe(
      'Plain (nested (parens)) and ABCKerned !next linequotedXYZfi\u{1d400}DafterIn the formend',
    );
    // pdf.js reads the same text.
    expect(await extractContentText(bytes)).toBe(foldForComparison(text ?? ''));
  });

  it('starts each page with no font and no marked content open', async () => {
    const { document } = await makePdf({
      content: [
        '/P BMC BT /F1 12 Tf (one) Tj ET',
        'BT /F1 12 Tf (furniture) Tj ET /P BMC BT /F1 12 Tf (two) Tj ET EMC',
      ],
    });
    expect(readContentText(document)).toBe('onetwo');
    // In turns: the same text, with a pause between pages once a slice of time is used up (here 0 ms).
    let pauses = 0;
    const pause = async () => {
      pauses++;
    };
    expect(await readContentTextInTurns(document, pause, 0)).toBe('onetwo');
    expect(pauses).toBe(2);
    const { document: fontless } = await makePdf({
      content: ['BT /F1 12 Tf ET', '/P BMC BT (two) Tj ET EMC'],
    });
    expect(readContentText(fontless)).toBeUndefined();
    expect(await readContentTextInTurns(fontless, pause)).toBeUndefined();
  });

  it('answers undefined, for pdf.js to read, what it does not cover', async () => {
    const cases: Made[] = [
      { content: '/P BMC BT /F1 12 Tf (no map) Tj ET EMC', fonts: { F1: null } },
      { content: '/P BMC BT /F1 12 Tf <0102> Tj ET EMC' },
      { content: '/P BMC BT /F1 12 Tf (hex encoded) Tj ET EMC', filter: 'ASCIIHexDecode' },
      { content: '/P BMC BT (no font) Tj ET EMC' },
      { content: '/P BMC BT /F9 12 Tf (unknown font) Tj ET EMC' },
      { content: '/P BMC /X1 Do EMC', forms: { X1: { content: '/X1 Do', self: true } } },
    ];
    for (const made of cases) {
      const { document } = await makePdf(made);
      expect(readContentText(document), String(made.content)).toBeUndefined();
    }
    // Text outside marked content needs no font map: it is not read.
    const { document } = await makePdf({ content: 'BT /F1 12 Tf (furniture) Tj ET', fonts: { F1: null } });
    expect(readContentText(document)).toBe('');
  });

  it('never throws on a damaged content stream', async () => {
    const pieces = [
      'BT',
      'ET',
      '/F1 12 Tf',
      '(a',
      'b)',
      '<41',
      '>',
      '[',
      ']',
      '<<',
      '>>',
      'Tj',
      'TJ',
      "'",
      'BDC',
      'EMC',
      '/P',
      'BMC',
      'q',
      'Q',
      'BI',
      'ID',
      'EI',
      '%',
      '\\',
      '1.5',
      'Do',
      '/X1',
      ')',
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 60; round++) {
      const content = Array.from({ length: 40 }, () => pieces[Math.floor(random() * pieces.length)]).join(
        ' ',
      );
      const { document } = await makePdf({ content, forms: { X1: { content: '/X1 Do', self: true } } });
      const text = readContentText(document);
      expect(text === undefined || typeof text === 'string', content).toBe(true);
    }
  });
});

describe('parseToUnicode', () => {
  it('reads bfchar and both forms of bfrange, with targets of several UTF-16 units', () => {
    const map = parseToUnicode(
      '2 beginbfchar <0003> <0020> <0004> <D83DDE00> endbfchar 2 beginbfrange <0010> <0012> <0041> <0020> <0021> [<0066006C> <00E9>] endbfrange',
    );
    expect(Object.fromEntries(map)).toEqual({
      3: ' ',
      4: '\u{1f600}',
      16: 'A',
      17: 'B',
      18: 'C',
      32: 'fl',
      33: 'é',
    });
  });
});

describe('readContentText on what Chromium prints', () => {
  let session: BrowserSession;
  beforeAll(async () => {
    session = await openBrowser({ log: () => undefined });
  });
  afterAll(async () => {
    await session?.close();
  });

  it('reads the same text as pdf.js, without the running heads', async () => {
    const html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title><link rel="stylesheet" href="fonts.css"><style>
      html { font-family: 'Source Serif 4', 'Noto Serif KR' }
      @page { margin: 20mm; @top-center { content: "Running head text" } @bottom-right { content: counter(page) } }
      .faded { opacity: 0.5 }
      .moved { transform: rotate(3deg) }
      </style></head><body>
      <h1>Official figures, affluent fjords</h1>
      <p>Сергей Лавров and 김정은 met; the ministry’s “statement” — in full.</p>
      <p class="faded">A faded paragraph, drawn in a group of its own.</p>
      <p class="moved">A turned paragraph.</p>
      <p>Click <bdo dir="rtl">txt.exe</bdo> now.</p>
      <table><tr><th>Cell one</th><td>Cell two</td></tr></table>
      <svg width="300" height="40"><text x="0" y="20" font-family="Source Sans 3, Noto Sans KR">Text in a drawing</text></svg>
      <p style="break-before: page">The second page.</p>
      </body></html>`;
    const bytes = await printHtml(session, html);
    const text = readContentText(await loadPdf(bytes));
    expect(text).toBeDefined();
    const folded = foldForComparison(text ?? '');
    expect(folded).toBe(await extractContentText(bytes));
    for (const expected of [
      'Official figures, affluent fjords',
      'Сергей Лавров and 김정은',
      'A faded paragraph',
      'A turned paragraph',
      'Cell two',
      'Text in a drawing',
      'The second page.',
    ]) {
      expect(folded).toContain(foldForComparison(expected));
    }
    expect(folded).not.toContain('runninghead');
  });
});
