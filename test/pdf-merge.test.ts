/**
 * Joining the parts a document was printed in (pipeline/lib/pdf-merge.ts), on parts printed by the real
 * browser: one tagged PDF that qpdf accepts, its pages and text in order, its destinations, links,
 * structure tree and bookmarks joined as if Chromium had printed it whole, and what it refuses.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  PDFArray,
  PDFDict,
  type PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  type PDFObject,
  PDFRef,
  PDFString,
} from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserSession, openBrowser } from '../pipeline/lib/browser.ts';
import { mergePrintedParts } from '../pipeline/lib/pdf-merge.ts';
import { loadPdf } from '../pipeline/lib/pdf-read.ts';
import { pdfInfo, pdfText, printHtml, qpdfCheck, temporaryFolder } from './helpers.ts';

const name = (text: string) => PDFName.of(text);

/** A part of the document as the print stage writes it: A4, its page numbers in the bottom corner. */
function partHtml(body: string, options: { language?: string; firstPage?: number } = {}): string {
  // `counter-increment` on the first page sets its number: the part's numbers run on from the last.
  const first = options.firstPage ? `@page :first { counter-increment: page ${options.firstPage} }` : '';
  return `<!DOCTYPE html><html lang="${options.language ?? 'en-GB'}"><head><title>Part</title><link rel="stylesheet" href="fonts.css"><style>html { font-family: 'Source Serif 4' } @page { size: A4; margin: 20mm; @bottom-right { content: "Page " counter(page) } } ${first}</style></head><body>${body}</body></html>`;
}

/** A section over two pages, with an empty link to itself so that Chromium names its destination. */
function section(id: string, title: string): string {
  return `<section id="${id}"><a href="#${id}" style="position:absolute;width:0;height:0;overflow:hidden"></a><h1>${title}</h1><p>${title}: the first paragraph.</p><p>${title}: the second paragraph.</p><p style="break-before: page">${title}: the third paragraph, on a page of its own.</p></section>`;
}

const contents =
  '<h1>Contents</h1><p><a href="#b1">Go to one</a>, <a href="#b2">go to two</a>, <a href="#b3">go to three</a>.<span id="b2"></span><span id="b3"></span></p><section id="b1" style="break-before: page"><h1>Section one</h1><p>Section one: a paragraph.</p></section>';

let session: BrowserSession;
let folder: Awaited<ReturnType<typeof temporaryFolder>>;
let parts: Uint8Array[];
let partDocuments: PDFDocument[];
let file: string;
let merged: PDFDocument;

beforeAll(async () => {
  session = await openBrowser({ log: () => undefined });
  folder = await temporaryFolder();
  const first = await printHtml(session, partHtml(contents));
  const firstPages = (await loadPdf(first)).getPageCount();
  const second = await printHtml(
    session,
    partHtml(section('b2', 'Section two'), { firstPage: firstPages + 1 }),
  );
  const secondPages = (await loadPdf(second)).getPageCount();
  const third = await printHtml(
    session,
    partHtml(section('b3', 'Section three'), { firstPage: firstPages + secondPages + 1, language: 'en-US' }),
  );
  parts = [first, second, third];
  partDocuments = await Promise.all(parts.map(loadPdf));
  const document = await mergePrintedParts(parts);
  const bytes = await document.save({
    useObjectStreams: false,
    objectsPerTick: Number.POSITIVE_INFINITY,
    updateFieldAppearances: false,
  });
  file = path.join(folder.dir, 'merged.pdf');
  await writeFile(file, bytes);
  merged = await loadPdf(bytes);
});

afterAll(async () => {
  await folder?.remove();
  await session?.close();
});

function dict(document: PDFDocument, object: PDFObject | undefined): PDFDict {
  const value = object instanceof PDFRef ? document.context.lookup(object) : object;
  if (!(value instanceof PDFDict)) throw new Error(`not a dictionary: ${String(object)}`);
  return value;
}

function number(document: PDFDocument, object: PDFObject | undefined): number {
  const value = object instanceof PDFRef ? document.context.lookup(object) : object;
  if (!(value instanceof PDFNumber)) throw new Error(`not a number: ${String(object)}`);
  return value.asNumber();
}

function items(document: PDFDocument, object: PDFObject | undefined): PDFObject[] {
  const value = object instanceof PDFRef ? document.context.lookup(object) : object;
  if (value instanceof PDFArray) return value.asArray();
  return value === undefined ? [] : [object as PDFObject];
}

function structTreeRoot(document: PDFDocument): PDFDict {
  return dict(document, document.catalog.get(name('StructTreeRoot')));
}

/** The parent tree's entries by key, from its flat `/Nums`. */
function parentTree(document: PDFDocument): Map<number, PDFObject> {
  const tree = dict(document, structTreeRoot(document).get(name('ParentTree')));
  expect(tree.has(name('Kids'))).toBe(false);
  const nums = items(document, tree.get(name('Nums')));
  const entries = new Map<number, PDFObject>();
  for (let at = 0; at < nums.length; at += 2) {
    const key = number(document, nums[at]);
    expect(key).toBeGreaterThan(Math.max(-1, ...entries.keys()));
    entries.set(key, nums[at + 1] as PDFObject);
  }
  return entries;
}

function pageIndex(document: PDFDocument, destination: PDFObject | undefined): number {
  const target = items(document, destination)[0];
  return document.getPages().findIndex((page) => page.ref === target);
}

/** The top-level bookmarks, in order, checking their links to the root and to each other. */
function bookmarks(document: PDFDocument): Array<{ title: string; item: PDFDict }> {
  const rootRef = document.catalog.get(name('Outlines'));
  const root = dict(document, rootRef);
  const found: Array<{ title: string; item: PDFDict }> = [];
  let previous: PDFObject | undefined;
  for (let ref = root.get(name('First')); ref !== undefined; ref = dict(document, ref).get(name('Next'))) {
    const item = dict(document, ref);
    expect(item.get(name('Parent'))).toBe(rootRef);
    expect(item.get(name('Prev'))).toBe(previous);
    const title = item.lookup(name('Title'));
    found.push({
      title: title instanceof PDFString || title instanceof PDFHexString ? title.decodeText() : '',
      item,
    });
    previous = ref;
  }
  expect(root.get(name('Last'))).toBe(previous);
  return found;
}

describe('mergePrintedParts', () => {
  it('joins the parts into one tagged PDF that qpdf accepts', async () => {
    await qpdfCheck(file);
    const info = await pdfInfo(file);
    expect(info.Tagged).toBe('yes');
    const pageCounts = partDocuments.map((document) => document.getPageCount());
    expect(pageCounts).toEqual([2, 2, 2]);
    expect(Number(info.Pages)).toBe(6);
    expect(merged.catalog.lookup(name('Lang'))?.toString()).toBe('(en-GB)');
  });

  it('keeps the parts’ text in order, with the page numbers running on', async () => {
    const text = await pdfText(file);
    const order = ['Contents', 'Section one', 'Section two', 'Section three'].map((title) =>
      text.indexOf(title),
    );
    expect(order[0]).toBeGreaterThanOrEqual(0);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    const pages = text.split('\f').slice(0, -1);
    expect(pages.map((page) => /Page (\d+)/.exec(page)?.[1])).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('points each named destination at the page its section starts on, and each link at one of them', () => {
    const dests = dict(merged, merged.catalog.get(name('Dests')));
    const where = (id: string) => pageIndex(merged, dests.get(name(id)));
    expect([where('b1'), where('b2'), where('b3')]).toEqual([1, 2, 4]);
    // In part 1, b2 and b3 were placeholders on its first page.
    const partDests = dict(partDocuments[0] as PDFDocument, partDocuments[0]?.catalog.get(name('Dests')));
    expect(pageIndex(partDocuments[0] as PDFDocument, partDests.get(name('b2')))).toBe(0);

    const contentsPage = merged.getPages()[0];
    const links = items(merged, contentsPage?.node.get(name('Annots'))).map((ref) => dict(merged, ref));
    expect(links).toHaveLength(3);
    for (const link of links) {
      const destination = link.get(name('Dest'));
      expect(destination).toBeInstanceOf(PDFName);
      expect(dests.has(destination as PDFName)).toBe(true);
    }
  });

  it('joins the structure trees: each page’s parent tree entry lists elements on that page', () => {
    const entries = parentTree(merged);
    const partEntries = partDocuments.map((document) => parentTree(document).size);
    expect(entries.size).toBe(partEntries.reduce((a, b) => a + b));
    const root = structTreeRoot(merged);
    expect(number(merged, root.get(name('ParentTreeNextKey')))).toBeGreaterThan(Math.max(...entries.keys()));

    for (const page of merged.getPages()) {
      const listed = entries.get(number(merged, page.node.get(name('StructParents'))));
      expect(listed).toBeDefined();
      const elements = items(merged, listed);
      expect(elements.length).toBeGreaterThan(0);
      for (const element of elements) expect(dict(merged, element).get(name('Pg'))).toBe(page.ref);
      for (const annotation of items(merged, page.node.get(name('Annots')))) {
        const owner = entries.get(number(merged, dict(merged, annotation).get(name('StructParent'))));
        const references = items(merged, dict(merged, owner).get(name('K'))).filter(
          (kid) => kid instanceof PDFDict && kid.get(name('Type')) === name('OBJR'),
        );
        expect(references.map((reference) => dict(merged, reference).get(name('Obj')))).toContain(annotation);
      }
    }

    const elementRef = root.get(name('K'));
    const element = dict(merged, elementRef);
    expect(element.get(name('S'))).toBe(name('Document'));
    const kids = items(merged, element.get(name('K')));
    const partKids = partDocuments.map(
      (document) =>
        items(document, dict(document, structTreeRoot(document).get(name('K'))).get(name('K'))).length,
    );
    expect(kids).toHaveLength(partKids.reduce((a, b) => a + b));
    for (const kid of kids) expect(dict(merged, kid).get(name('P'))).toBe(elementRef);
  });

  it('keeps the language of a part whose language is not the first part’s, on its elements', () => {
    const kids = items(merged, dict(merged, structTreeRoot(merged).get(name('K'))).get(name('K')));
    const [first, second] = partDocuments.map(
      (document) =>
        items(document, dict(document, structTreeRoot(document).get(name('K'))).get(name('K'))).length,
    );
    const languages = kids.map((kid) => dict(merged, kid).lookup(name('Lang'))?.toString());
    const own = (first ?? 0) + (second ?? 0);
    expect(languages.slice(0, own).every((language) => language === undefined)).toBe(true);
    expect(languages.slice(own).every((language) => language === '(en-US)')).toBe(true);
  });

  it('appends the bookmarks of each part in order, pointing into the joined structure', () => {
    const found = bookmarks(merged);
    expect(found.map((bookmark) => bookmark.title)).toEqual([
      'Contents',
      'Section one',
      'Section two',
      'Section three',
    ]);
    expect(found.map((bookmark) => pageIndex(merged, bookmark.item.get(name('Dest'))))).toEqual([0, 1, 2, 4]);
    const counts = partDocuments.map((document) =>
      number(document, dict(document, document.catalog.get(name('Outlines'))).get(name('Count'))),
    );
    const root = dict(merged, merged.catalog.get(name('Outlines')));
    expect(number(merged, root.get(name('Count')))).toBe(counts.reduce((a, b) => a + b));
    const documentElement = structTreeRoot(merged).get(name('K'));
    for (const { item } of found) {
      let element: PDFObject | undefined = item.get(name('SE'));
      for (let depth = 0; depth < 20 && element !== documentElement; depth++) {
        element = dict(merged, element).get(name('P'));
      }
      expect(element).toBe(documentElement);
    }
  });

  it('leaves no second catalog, page tree, structure tree root or outline root in the file', () => {
    const counted = new Map<string, number>();
    for (const [, object] of merged.context.enumerateIndirectObjects()) {
      if (!(object instanceof PDFDict)) continue;
      const type = object.get(name('Type'));
      const label = object.get(name('S')) === name('Document') ? 'Document' : type?.toString();
      if (label) counted.set(label, (counted.get(label) ?? 0) + 1);
    }
    expect(counted.get('/Catalog')).toBe(1);
    expect(counted.get('/Pages')).toBe(1);
    expect(counted.get('/StructTreeRoot')).toBe(1);
    expect(counted.get('/Outlines')).toBe(1);
    expect(counted.get('/ParentTree')).toBe(1);
    expect(counted.get('Document')).toBe(1);
  });

  it('returns a single part as it is', async () => {
    const single = await mergePrintedParts([parts[0] as Uint8Array]);
    const fresh = await loadPdf(parts[0] as Uint8Array);
    expect(single.getPageCount()).toBe(fresh.getPageCount());
    expect(structTreeRoot(single).toString()).toBe(structTreeRoot(fresh).toString());
    expect(parentTree(single)).toEqual(parentTree(fresh));
    expect(single.context.enumerateIndirectObjects().length).toBe(
      fresh.context.enumerateIndirectObjects().length,
    );
  });

  it('refuses a part whose structure tree has a /RoleMap', async () => {
    const part = await loadPdf(parts[1] as Uint8Array);
    structTreeRoot(part).set(name('RoleMap'), part.context.obj({}));
    await expect(mergePrintedParts([parts[0] as Uint8Array, await part.save()])).rejects.toThrow(
      /printed part 2: it has \/RoleMap in its structure tree root/,
    );
  });

  it('joins the id trees of tables, each id once, every header cell citing an id of its own part', async () => {
    // Chromium names a table's header cells after its node numbers, which two documents can share.
    const table = (title: string) =>
      `<h1>${title}</h1><table><thead><tr><th>Year</th><th>${title}</th></tr></thead><tbody><tr><td>2024</td><td>1</td></tr><tr><td>2025</td><td>2</td></tr></tbody></table>`;
    const tables = [
      await printHtml(session, partHtml(table('Exports'))),
      await printHtml(session, partHtml(table('Imports'))),
      await printHtml(session, partHtml(table('Tariffs'))),
    ];
    const ids = (document: PDFDocument) => {
      // Chromium writes the tree with a level of /Kids; the join writes one leaf.
      const pairs: PDFObject[] = [];
      const walk = (node: PDFDict) => {
        pairs.push(...items(document, node.get(name('Names'))));
        for (const kid of items(document, node.get(name('Kids')))) walk(dict(document, kid));
      };
      walk(dict(document, structTreeRoot(document).get(name('IDTree'))));
      const found = new Map<string, PDFDict>();
      for (let at = 0; at < pairs.length; at += 2) {
        const key = document.context.lookup(pairs[at] as PDFObject);
        const text = key instanceof PDFString || key instanceof PDFHexString ? key.decodeText() : '';
        expect(found.has(text), text).toBe(false);
        found.set(text, dict(document, pairs[at + 1]));
      }
      return found;
    };
    // The second table's document given the first's ids, as two renderers could.
    const [exports, imports] = [
      await loadPdf(tables[0] as Uint8Array),
      await loadPdf(tables[1] as Uint8Array),
    ];
    const same = new Map([...ids(imports).keys()].map((id, at) => [id, [...ids(exports).keys()][at] ?? id]));
    const swap = (value: PDFObject | undefined) => {
      const text =
        value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : undefined;
      return text === undefined ? undefined : PDFString.of(same.get(text) ?? text);
    };
    for (const [, object] of imports.context.enumerateIndirectObjects()) {
      if (!(object instanceof PDFDict)) continue;
      const id = swap(object.get(name('ID')));
      if (id) object.set(name('ID'), id);
      for (const attribute of items(imports, object.get(name('A')))) {
        const headers = attribute instanceof PDFDict ? attribute.lookup(name('Headers')) : undefined;
        if (headers instanceof PDFArray)
          for (const [at, header] of headers.asArray().entries()) headers.set(at, swap(header) ?? header);
      }
    }
    // The leaves keep their references to the elements.
    const leaves: PDFObject[] = [];
    const relabel = (node: PDFDict) => {
      const pairs = items(imports, node.get(name('Names')));
      for (let at = 0; at < pairs.length; at += 2)
        leaves.push(
          swap(imports.context.lookup(pairs[at] as PDFObject)) as PDFObject,
          pairs[at + 1] as PDFObject,
        );
      for (const kid of items(imports, node.get(name('Kids')))) relabel(dict(imports, kid));
    };
    relabel(dict(imports, structTreeRoot(imports).get(name('IDTree'))));
    structTreeRoot(imports).set(name('IDTree'), imports.context.obj({ Names: leaves }));
    tables[1] = await imports.save();
    expect([...ids(await loadPdf(tables[1])).keys()]).toEqual([...ids(exports).keys()]);
    const perPart = await Promise.all(tables.map(loadPdf));
    const partIds = perPart.map((document) => ids(document).size);
    expect(Math.min(...partIds)).toBeGreaterThan(0);
    const joined = await loadPdf(
      await (await mergePrintedParts(tables)).save({
        useObjectStreams: false,
        objectsPerTick: Number.POSITIVE_INFINITY,
      }),
    );
    const found = ids(joined);
    expect(found.size).toBe(partIds.reduce((sum, count) => sum + count, 0));
    for (const [id, element] of found) {
      const own = element.lookup(name('ID'));
      expect(own instanceof PDFString || own instanceof PDFHexString ? own.decodeText() : '', id).toBe(id);
    }
    // Each data cell cites header cells by id: each must be in the tree, and in the cell's own table.
    let cited = 0;
    for (const [, object] of joined.context.enumerateIndirectObjects()) {
      if (!(object instanceof PDFDict)) continue;
      for (const attribute of items(joined, object.get(name('A')))) {
        const headers = attribute instanceof PDFDict ? attribute.lookup(name('Headers')) : undefined;
        if (!(headers instanceof PDFArray)) continue;
        for (const header of headers.asArray()) {
          const text =
            header instanceof PDFString || header instanceof PDFHexString ? header.decodeText() : '';
          const cell = found.get(text);
          expect(cell, text).toBeDefined();
          // The header cell and the citing cell share their table (the row's parent's parent).
          const tableOf = (element: PDFDict) => {
            let node: PDFDict | undefined = element;
            while (node && node.get(name('S')) !== name('Table')) {
              const parent = node.get(name('P'));
              node = parent ? dict(joined, parent) : undefined;
            }
            return node;
          };
          expect(tableOf(cell as PDFDict)).toBe(tableOf(object));
          cited++;
        }
      }
    }
    expect(cited).toBeGreaterThan(0);
    const file = path.join(folder.dir, 'tables.pdf');
    await writeFile(file, await joined.save());
    expect(await qpdfCheck(file)).toContain('No syntax or stream encoding errors');
  });

  it('refuses to join an untagged part to tagged ones', async () => {
    const part = await loadPdf(parts[2] as Uint8Array);
    part.catalog.delete(name('StructTreeRoot'));
    await expect(
      mergePrintedParts([parts[0] as Uint8Array, parts[1] as Uint8Array, await part.save()]),
    ).rejects.toThrow(/part 1 is tagged and part 3 is not tagged/);
  });

  it('takes a destination whose part is named from that part only, not from a later placeholder', async () => {
    // A later part linking back to an earlier part's section holds a placeholder for it, and Chromium
    // names a destination there too.
    const firstPages = (partDocuments[0] as PDFDocument).getPageCount();
    const back = await printHtml(
      session,
      partHtml(`<p><a href="#b2">Back to two</a><span id="b2"></span></p>${section('b3', 'Section three')}`),
    );
    const joinedParts = [parts[0] as Uint8Array, parts[1] as Uint8Array, back];
    const owners = new Map([
      ['b1', 0],
      ['b2', 1],
      ['b3', 2],
    ]);
    const owned = await mergePrintedParts(joinedParts, { owners });
    const dests = dict(owned, owned.catalog.get(name('Dests')));
    expect(pageIndex(owned, dests.get(name('b2')))).toBe(firstPages);
    expect(pageIndex(owned, dests.get(name('b3')))).toBeGreaterThan(firstPages);
    // Without owners, the last part's placeholder would win.
    const unowned = await mergePrintedParts(joinedParts);
    const placeholders = dict(unowned, unowned.catalog.get(name('Dests')));
    expect(pageIndex(unowned, placeholders.get(name('b2')))).toBeGreaterThan(firstPages);
  });
});
