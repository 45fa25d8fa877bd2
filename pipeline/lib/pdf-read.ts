/**
 * Reading back what Chromium wrote into a PDF: named destinations (where each anchor landed), the
 * outline, and the fonts. pdf-lib loads with `updateMetadata: false` so reading never changes a byte.
 */
import { PDFArray, PDFDict, PDFDocument, PDFHexString, PDFName, PDFRef, PDFString } from 'pdf-lib';

/**
 * pdf-lib yields to the event loop (a `setTimeout`) every 100 objects it parses and every 50 it
 * writes, to keep a browser tab responsive. Each yield waits a millisecond or more: on the pack of
 * 100 briefings (9084 objects) loading took 213 ms instead of 88, saving 468 ms instead of 66. A
 * build has no tab to keep responsive, so it parses and writes each PDF in one go.
 */
export const inOneGo = Number.POSITIVE_INFINITY;

/** Loads a PDF for reading or editing in place. */
export function loadPdf(bytes: Uint8Array): Promise<PDFDocument> {
  return PDFDocument.load(bytes, { updateMetadata: false, throwOnInvalidObject: true, parseSpeed: inOneGo });
}

/** Each PDF the print stage parsed to read, by its bytes, until {@link takePdf} hands it on. */
const parsedPdfs = new WeakMap<Uint8Array, Promise<PDFDocument>>();

/**
 * Loads a printed PDF to read (its pages, where its anchors landed), and keeps it: the
 * post-processing then edits it without parsing the same bytes again. The reader must not change it.
 */
export function readPdf(bytes: Uint8Array): Promise<PDFDocument> {
  let document = parsedPdfs.get(bytes);
  if (!document) {
    document = loadPdf(bytes);
    parsedPdfs.set(bytes, document);
  }
  return document;
}

/** Hands on a document already in memory (the pack joined from its parts), saved as `bytes`. */
export function adoptPdf(bytes: Uint8Array, document: PDFDocument): void {
  parsedPdfs.set(bytes, Promise.resolve(document));
}

/** The document {@link readPdf} parsed from these bytes, now the caller's to edit; else a new parse. */
export function takePdf(bytes: Uint8Array): Promise<PDFDocument> {
  const document = parsedPdfs.get(bytes);
  parsedPdfs.delete(bytes);
  return document ?? loadPdf(bytes);
}

/** The 1-based page of each named destination (Chromium names one per linked element id). */
export function namedDestinationPages(document: PDFDocument): Map<string, number> {
  const pageNumbers = new Map<string, number>();
  document.getPages().forEach((page, index) => {
    pageNumbers.set(page.ref.toString(), index + 1);
  });
  const result = new Map<string, number>();
  const record = (name: string, destination: unknown) => {
    const array = destination instanceof PDFDict ? destination.lookup(PDFName.of('D')) : destination;
    if (!(array instanceof PDFArray)) return;
    const target = array.get(0);
    if (target instanceof PDFRef) {
      const page = pageNumbers.get(target.toString());
      if (page !== undefined) result.set(name, page);
    }
  };
  const dests = document.catalog.lookup(PDFName.of('Dests'));
  if (dests instanceof PDFDict) {
    for (const [key, value] of dests.entries()) record(key.decodeText(), document.context.lookup(value));
  }
  const names = document.catalog.lookup(PDFName.of('Names'));
  const tree = names instanceof PDFDict ? names.lookup(PDFName.of('Dests')) : undefined;
  if (tree instanceof PDFDict) walkNameTree(document, tree, record);
  return result;
}

function walkNameTree(
  document: PDFDocument,
  node: PDFDict,
  visit: (name: string, value: unknown) => void,
): void {
  const names = node.lookup(PDFName.of('Names'));
  if (names instanceof PDFArray) {
    for (let index = 0; index + 1 < names.size(); index += 2) {
      const key = names.lookup(index);
      if (key instanceof PDFString || key instanceof PDFHexString) {
        visit(key.decodeText(), document.context.lookup(names.get(index + 1)));
      }
    }
  }
  const kids = node.lookup(PDFName.of('Kids'));
  if (kids instanceof PDFArray) {
    for (let index = 0; index < kids.size(); index++) {
      const kid = kids.lookup(index);
      if (kid instanceof PDFDict) walkNameTree(document, kid, visit);
    }
  }
}

/** The base names of every font a PDF uses (`AAAAAA+SourceSerif4-Regular`), from each page's resources. */
export function fontNames(document: PDFDocument): Set<string> {
  const found = new Set<string>();
  const seen = new Set<PDFDict>();
  const visitResources = (resources: unknown) => {
    if (!(resources instanceof PDFDict) || seen.has(resources)) return;
    seen.add(resources);
    const fonts = resources.lookup(PDFName.of('Font'));
    if (fonts instanceof PDFDict) {
      for (const [, reference] of fonts.entries()) {
        const font = document.context.lookup(reference);
        if (!(font instanceof PDFDict)) continue;
        const base = font.lookup(PDFName.of('BaseFont'));
        found.add(base instanceof PDFName ? base.decodeText() : '[Type 3]');
        const fontResources = font.lookup(PDFName.of('Resources'));
        if (fontResources) visitResources(fontResources);
      }
    }
    const objects = resources.lookup(PDFName.of('XObject'));
    if (objects instanceof PDFDict) {
      for (const [, reference] of objects.entries()) {
        const object = document.context.lookup(reference);
        const dict = object && 'dict' in object ? (object as { dict: PDFDict }).dict : undefined;
        if (dict) visitResources(dict.lookup(PDFName.of('Resources')));
      }
    }
  };
  for (const page of document.getPages()) visitResources(page.node.Resources());
  return found;
}
