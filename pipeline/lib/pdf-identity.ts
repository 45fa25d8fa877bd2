/**
 * What makes a PDF's bytes reproducible: a document `/ID` derived from what is printed (never from the
 * clock, which Chromium writes into its own dates), and an XMP metadata stream that says the same as
 * the Info dictionary, dates included.
 */
import { createHash } from 'node:crypto';
import {
  PDFArray,
  PDFDict,
  type PDFDocument,
  PDFHexString,
  PDFName,
  PDFRawStream,
  PDFRef,
  PDFStream,
  PDFString,
} from 'pdf-lib';

/** The document-level metadata written into Info and XMP. */
export interface PdfMetadata {
  title: string;
  author: string | undefined;
  subject: string | undefined;
  keywords: string[];
  language: string;
  creator: string;
  producer: string;
  /** Every date of the document: the build's epoch. */
  date: Date;
}

function streamBytes(stream: unknown): Uint8Array | undefined {
  if (stream instanceof PDFRawStream) return stream.contents;
  if (stream instanceof PDFStream) return stream.getContents();
  return undefined;
}

/**
 * Sets `/ID` to a digest of the pages' content streams and the metadata: the same printed content
 * always gets the same id, and different content a different one.
 */
export function setContentId(document: PDFDocument, metadata: PdfMetadata): void {
  const hash = createHash('sha256');
  for (const page of document.getPages()) {
    const contents = page.node.Contents();
    const streams =
      contents instanceof PDFArray
        ? contents.asArray().map((item) => document.context.lookup(item))
        : [contents];
    for (const stream of streams) {
      const bytes = streamBytes(stream);
      if (bytes) hash.update(bytes);
    }
  }
  hash.update(JSON.stringify({ ...metadata, date: metadata.date.toISOString() }));
  const id = hash.digest('hex').slice(0, 32);
  const array = PDFArray.withContext(document.context);
  array.push(PDFHexString.of(id));
  array.push(PDFHexString.of(id));
  document.context.trailerInfo.ID = array;
}

function textOf(value: unknown): string | undefined {
  return value instanceof PDFString || value instanceof PDFHexString ? value.decodeText() : undefined;
}

/**
 * Renames the ids of structure elements (`/ID`, and the `/Headers` of table cells that point to them)
 * in the order the structure tree reads. Chromium derives them from the renderer's DOM node numbers,
 * which depend on what that renderer loaded before; renamed, the same document always gets the same.
 */
export function normaliseStructureIds(document: PDFDocument): void {
  const root = document.catalog.lookup(PDFName.of('StructTreeRoot'));
  if (!(root instanceof PDFDict)) return;
  const elements: PDFDict[] = [];
  const seen = new Set<PDFDict>();
  const walk = (value: unknown) => {
    const node = value instanceof PDFRef ? document.context.lookup(value) : value;
    if (node instanceof PDFArray) {
      for (const item of node.asArray()) walk(item);
    } else if (node instanceof PDFDict && !seen.has(node)) {
      seen.add(node);
      elements.push(node);
      walk(node.get(PDFName.of('K')));
    }
  };
  walk(root.get(PDFName.of('K')));

  const renamed = new Map<string, string>();
  for (const element of elements) {
    const id = textOf(element.lookup(PDFName.of('ID')));
    if (id === undefined) continue;
    const next = `e${renamed.size + 1}`;
    renamed.set(id, next);
    element.set(PDFName.of('ID'), PDFString.of(next));
  }
  if (renamed.size === 0) return;

  const renameHeaders = (attributes: unknown) => {
    const value = attributes instanceof PDFRef ? document.context.lookup(attributes) : attributes;
    if (value instanceof PDFArray) {
      for (const item of value.asArray()) renameHeaders(item);
      return;
    }
    if (!(value instanceof PDFDict)) return;
    const headers = value.lookup(PDFName.of('Headers'));
    if (!(headers instanceof PDFArray)) return;
    const names = headers.asArray().map((item) => {
      const text = textOf(item instanceof PDFRef ? document.context.lookup(item) : item);
      return PDFString.of(text === undefined ? '' : (renamed.get(text) ?? text));
    });
    value.set(PDFName.of('Headers'), document.context.obj(names));
  };
  for (const element of elements) renameHeaders(element.get(PDFName.of('A')));

  // The id tree, rebuilt as one sorted leaf under the new names.
  const pairs: Array<[string, unknown]> = [];
  const oldNodes: PDFRef[] = [];
  const collect = (value: unknown) => {
    if (value instanceof PDFRef) oldNodes.push(value);
    const node = value instanceof PDFRef ? document.context.lookup(value) : value;
    if (!(node instanceof PDFDict)) return;
    const names = node.lookup(PDFName.of('Names'));
    if (names instanceof PDFArray) {
      for (let index = 0; index + 1 < names.size(); index += 2) {
        const key = textOf(names.lookup(index));
        if (key !== undefined) pairs.push([renamed.get(key) ?? key, names.get(index + 1)]);
      }
    }
    const kids = node.lookup(PDFName.of('Kids'));
    if (kids instanceof PDFArray) for (const kid of kids.asArray()) collect(kid);
  };
  collect(root.get(PDFName.of('IDTree')));
  if (pairs.length === 0) return;
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const leaf = document.context.obj({}) as PDFDict;
  leaf.set(
    PDFName.of('Names'),
    document.context.obj(pairs.flatMap(([key, value]) => [PDFString.of(key), value as PDFRef])),
  );
  root.set(PDFName.of('IDTree'), document.context.register(leaf));
  // pdf-lib writes every object it holds: the old tree, with the old names, must go.
  for (const reference of oldNodes) document.context.delete(reference);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The XMP packet for the metadata, dates in ISO 8601 with the time zone (always UTC). */
export function xmpPacket(metadata: PdfMetadata): string {
  const date = metadata.date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const optional = (tag: string, value: string | undefined) =>
    value ? `\n      ${tag.replace('$', escapeXml(value))}` : '';
  return `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
  <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
    <rdf:Description rdf:about=""
        xmlns:dc="http://purl.org/dc/elements/1.1/"
        xmlns:xmp="http://ns.adobe.com/xap/1.0/"
        xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
      <dc:format>application/pdf</dc:format>
      <dc:title><rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(metadata.title)}</rdf:li></rdf:Alt></dc:title>${optional('<dc:creator><rdf:Seq><rdf:li>$</rdf:li></rdf:Seq></dc:creator>', metadata.author)}${optional('<dc:description><rdf:Alt><rdf:li xml:lang="x-default">$</rdf:li></rdf:Alt></dc:description>', metadata.subject)}
      <dc:language><rdf:Bag><rdf:li>${escapeXml(metadata.language)}</rdf:li></rdf:Bag></dc:language>
      <pdf:Keywords>${escapeXml(metadata.keywords.join('; '))}</pdf:Keywords>
      <pdf:Producer>${escapeXml(metadata.producer)}</pdf:Producer>
      <xmp:CreatorTool>${escapeXml(metadata.creator)}</xmp:CreatorTool>
      <xmp:CreateDate>${date}</xmp:CreateDate>
      <xmp:ModifyDate>${date}</xmp:ModifyDate>
      <xmp:MetadataDate>${date}</xmp:MetadataDate>
    </rdf:Description>
  </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`;
}

/** Writes the XMP metadata stream into the catalog (uncompressed, as readers expect to find it). */
export function setXmpMetadata(document: PDFDocument, metadata: PdfMetadata): void {
  const stream = document.context.stream(new TextEncoder().encode(xmpPacket(metadata)), {
    Type: 'Metadata',
    Subtype: 'XML',
  });
  document.catalog.set(PDFName.of('Metadata'), document.context.register(stream));
}
