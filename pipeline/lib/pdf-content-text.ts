/**
 * The text of a PDF's content read straight from its content streams, for the content-loss check.
 *
 * pdf.js reads a PDF's text the way a viewer does: it parses every embedded font program, works out
 * each glyph's position and width, groups glyphs into lines and words, and sends the result from its
 * worker as messages. The check needs none of that: it folds the text (whitespace removed, case and
 * compatibility forms folded) and looks for each run of the source in it. What it needs is each
 * glyph's text (the font's `ToUnicode` map), in the order the content streams show them, and whether
 * the glyph is inside a marked-content sequence (Chromium marks all content; page furniture, the
 * running heads and feet of the `@page` margin boxes, sits outside).
 *
 * {@link readContentText} reads exactly that, from the document pdf-lib already parsed for the
 * post-processing. It covers what Chromium (Skia) writes: Flate-compressed content, composite fonts
 * with `Identity-H` encoding and simple fonts, each with a `ToUnicode` map, text in form XObjects.
 * For anything else (another filter, a font without a `ToUnicode` map or a glyph it does not map) it
 * answers `undefined`, and the check reads that PDF with pdf.js instead, which reads any PDF.
 * Both give the same folded text (test/pdf-content-text.test.ts).
 */
import { inflateSync } from 'node:zlib';
import { PDFArray, PDFDict, type PDFDocument, PDFName, PDFRawStream, PDFStream } from 'pdf-lib';

/** How a font's character codes become text. */
interface FontDecoder {
  /** Bytes per character code: 2 for `Identity-H` composite fonts, 1 for simple fonts. */
  width: 1 | 2;
  text: Map<number, string>;
}

/** Raised inside the reader when the PDF uses something it does not cover. */
class Unsupported extends Error {}

const names = {
  Filter: PDFName.of('Filter'),
  DecodeParms: PDFName.of('DecodeParms'),
  FlateDecode: PDFName.of('FlateDecode'),
  Font: PDFName.of('Font'),
  XObject: PDFName.of('XObject'),
  Subtype: PDFName.of('Subtype'),
  Form: PDFName.of('Form'),
  Type0: PDFName.of('Type0'),
  Encoding: PDFName.of('Encoding'),
  IdentityH: PDFName.of('Identity-H'),
  ToUnicode: PDFName.of('ToUnicode'),
  Resources: PDFName.of('Resources'),
};

/** Form XObjects inside form XObjects deeper than this are not followed (a loop, or a hostile file). */
const maxFormDepth = 12;

/**
 * The text of a PDF's marked content, in content-stream order, without separators; `undefined` when
 * the PDF uses something this reader does not cover (then read it with pdf.js).
 */
export function readContentText(document: PDFDocument): string | undefined {
  const pages = readPages(document);
  for (;;) {
    const page = pages.next();
    if (page.done) return page.value;
  }
}

/**
 * {@link readContentText}, pausing (`pause`, for example a turn of the event loop) whenever it has read
 * for `sliceMs` without one: the pages a build prints meanwhile wait on this thread for every request
 * and reply, and a pack of 200 pages takes about 0.1 s to read.
 */
export async function readContentTextInTurns(
  document: PDFDocument,
  pause: () => Promise<void>,
  sliceMs = 10,
): Promise<string | undefined> {
  const pages = readPages(document);
  let since = performance.now();
  for (;;) {
    const page = pages.next();
    if (page.done) return page.value;
    if (performance.now() - since < sliceMs) continue;
    await pause();
    since = performance.now();
  }
}

/** Reads a PDF's pages one at a time (a step for each), and returns the text (see {@link readContentText}). */
function* readPages(document: PDFDocument): Generator<void, string | undefined> {
  const reader = new ContentReader();
  try {
    for (const page of document.getPages()) {
      const contents = page.node.Contents();
      const resources = page.node.Resources();
      if (contents === undefined) continue;
      const streams: PDFStream[] = [];
      if (contents instanceof PDFArray) {
        for (let index = 0; index < contents.size(); index++) {
          streams.push(contents.lookup(index, PDFStream));
        }
      } else streams.push(contents);
      // A page's streams are one content stream split in parts (no token spans two); each page
      // starts with a fresh graphics state and no marked content open.
      reader.startPage();
      reader.run(joinWithNewlines(streams.map(decodeStream)), resources, 0);
      yield;
    }
  } catch {
    // Unsupported, or a structure pdf-lib will not look up (a page whose contents are not a stream):
    // pdf.js reads it, and reports what is wrong with it.
    return undefined;
  }
  return reader.text;
}

function joinWithNewlines(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length + 1, 0));
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    joined[offset + part.length] = 0x0a;
    offset += part.length + 1;
  }
  return joined;
}

/** A stream's decoded bytes: Flate or no filter, without parameters. */
function decodeStream(stream: PDFStream): Uint8Array {
  if (!(stream instanceof PDFRawStream)) throw new Unsupported();
  if (stream.dict.has(names.DecodeParms)) throw new Unsupported();
  const filter = stream.dict.lookup(names.Filter);
  if (filter === undefined) return stream.contents;
  const flate =
    filter === names.FlateDecode ||
    (filter instanceof PDFArray && filter.size() === 1 && filter.lookup(0) === names.FlateDecode);
  if (!flate) throw new Unsupported();
  return inflateSync(stream.contents);
}

/** What an operand is; only strings, names and arrays are ever read back. */
const other = 0;
const name = 1;
const hex = 2;
const literal = 3;
const array = 4;

/** Operands kept per operator; no operator the reader acts on takes more. */
const operandLimit = 16;

/** How deep `q` may nest. */
const graphicsStateLimit = 4096;

class ContentReader {
  text = '';
  private readonly decoders = new Map<PDFDict, FontDecoder>();
  /** Marked-content depth: text counts only inside a marked-content sequence. */
  private depth = 0;
  private font: FontDecoder | undefined;
  private readonly saved: Array<FontDecoder | undefined> = [];
  // The operands since the last operator: kind and where each lies in the stream.
  private readonly kinds = new Uint8Array(operandLimit);
  private readonly starts = new Int32Array(operandLimit);
  private readonly ends = new Int32Array(operandLimit);
  private count = 0;
  /** The strings of the last array operand (for `TJ`). */
  private strings: Uint8Array[] = [];

  startPage(): void {
    this.depth = 0;
    this.font = undefined;
    this.saved.length = 0;
  }

  run(bytes: Uint8Array, resources: PDFDict | undefined, formDepth: number): void {
    const fonts = new Map<string, FontDecoder>();
    const length = bytes.length;
    this.count = 0;
    let index = 0;
    while (index < length) {
      const byte = bytes[index] as number;
      if (isWhitespace(byte)) {
        index++;
        continue;
      }
      switch (byte) {
        case 0x25 /* % */:
          while (index < length && bytes[index] !== 0x0a && bytes[index] !== 0x0d) index++;
          continue;
        case 0x3c /* < */:
          if (bytes[index + 1] === 0x3c) {
            index = skipDictionary(bytes, index + 2);
            this.operand(other, 0, 0);
          } else {
            const end = bytes.indexOf(0x3e, index + 1);
            if (end < 0) throw new Unsupported();
            this.operand(hex, index + 1, end);
            index = end + 1;
          }
          continue;
        case 0x28 /* ( */:
          {
            const end = skipLiteral(bytes, index + 1);
            this.operand(literal, index + 1, end);
            index = end;
            continue;
          }
        case 0x5b /* [ */:
          {
            const [strings, end] = readArray(bytes, index + 1);
            this.strings = strings;
            this.operand(array, 0, 0);
            index = end;
            continue;
          }
        case 0x2f /* / */:
          {
            let end = index + 1;
            while (end < length && isRegular(bytes[end] as number)) end++;
            this.operand(name, index + 1, end);
            index = end;
            continue;
          }
        case 0x29:
        case 0x3e:
        case 0x5d:
        case 0x7b:
        case 0x7d:
          throw new Unsupported();
      }
      let end = index + 1;
      while (end < length && isRegular(bytes[end] as number)) end++;
      const start = index;
      index = end;
      if ((byte >= 0x30 && byte <= 0x39) || byte === 0x2b || byte === 0x2d || byte === 0x2e) {
        this.operand(other, 0, 0);
        continue;
      }
      const second = end - start > 1 ? (bytes[start + 1] as number) : -1;
      switch (end - start) {
        case 1:
          if (byte === 0x71 /* q */) {
            if (this.saved.length > graphicsStateLimit) throw new Unsupported();
            this.saved.push(this.font);
          } else if (byte === 0x51 /* Q */) {
            if (this.saved.length > 0) this.font = this.saved.pop();
          } else if (byte === 0x27 /* ' */ || byte === 0x22 /* " */) {
            this.showLast(bytes);
          }
          break;
        case 2:
          if (byte === 0x54 /* T */ && second === 0x6a /* j */) this.showLast(bytes);
          else if (byte === 0x54 && second === 0x4a /* J */) this.showArray();
          else if (byte === 0x54 && second === 0x66 /* f */) {
            const fontName = this.nameAt(bytes, 0);
            let font = fonts.get(fontName);
            if (!font) {
              font = this.decoderFor(resources, fontName);
              fonts.set(fontName, font);
            }
            this.font = font;
          } else if (byte === 0x44 /* D */ && second === 0x6f /* o */) {
            this.form(resources, this.nameAt(bytes, this.count - 1), formDepth);
          } else if (byte === 0x42 /* B */ && second === 0x49 /* I */) {
            index = skipInlineImage(bytes, index);
          }
          break;
        case 3:
          if (
            bytes[start + 2] === 0x43 /* C */ &&
            second === 0x4d /* M */ &&
            (byte === 0x42 || byte === 0x45)
          ) {
            // BMC opens a marked-content sequence, EMC closes one.
            this.depth = byte === 0x42 ? this.depth + 1 : Math.max(0, this.depth - 1);
          } else if (byte === 0x42 && second === 0x44 /* D */ && bytes[start + 2] === 0x43) {
            this.depth++;
          }
          break;
        case 4:
        case 5: {
          const word = latin1(bytes, start, end);
          if (word === 'true' || word === 'false' || word === 'null') {
            this.operand(other, 0, 0);
            continue;
          }
          break;
        }
      }
      this.count = 0;
    }
  }

  private operand(kind: number, start: number, end: number): void {
    const at = this.count++;
    if (at >= operandLimit) return;
    this.kinds[at] = kind;
    this.starts[at] = start;
    this.ends[at] = end;
  }

  private nameAt(bytes: Uint8Array, at: number): string {
    if (at < 0 || at >= Math.min(this.count, operandLimit) || this.kinds[at] !== name)
      throw new Unsupported();
    const raw = latin1(bytes, this.starts[at] as number, this.ends[at] as number);
    // `#xx` writes a byte in hex.
    return raw.includes('#')
      ? raw.replace(/#([0-9A-Fa-f]{2})/g, (_, code: string) => String.fromCharCode(Number.parseInt(code, 16)))
      : raw;
  }

  /** Shows the last operand, a string (`Tj`, `'` and `"`). */
  private showLast(bytes: Uint8Array): void {
    const at = this.count - 1;
    if (at < 0 || at >= operandLimit) throw new Unsupported();
    const font = this.font;
    if (!font) throw new Unsupported();
    const kind = this.kinds[at];
    const start = this.starts[at] as number;
    const end = this.ends[at] as number;
    if (kind === hex) this.showHex(font, bytes, start, end);
    else if (kind === literal) this.showBytes(font, literalBytes(bytes, start, end));
    else throw new Unsupported();
  }

  private showArray(): void {
    const at = this.count - 1;
    if (at < 0 || at >= operandLimit || this.kinds[at] !== array) throw new Unsupported();
    const font = this.font;
    if (!font) throw new Unsupported();
    for (const string of this.strings) this.showBytes(font, string);
  }

  private showHex(font: FontDecoder, bytes: Uint8Array, start: number, end: number): void {
    if (this.depth === 0) return;
    const digitsPerCode = font.width * 2;
    let code = 0;
    let digits = 0;
    for (let index = start; index < end; index++) {
      const byte = bytes[index] as number;
      if (isWhitespace(byte)) continue;
      const value = hexValue(byte);
      if (value < 0) throw new Unsupported();
      code = (code << 4) | value;
      if (++digits === digitsPerCode) {
        this.append(font, code);
        code = 0;
        digits = 0;
      }
    }
    // An odd last digit is followed by 0; a code cut short is not text.
    if (digits === 1 && digitsPerCode === 2) this.append(font, code << 4);
    else if (digits > 0) throw new Unsupported();
  }

  private showBytes(font: FontDecoder, string: Uint8Array): void {
    if (this.depth === 0) return;
    if (font.width === 2 && string.length % 2 !== 0) throw new Unsupported();
    for (let index = 0; index < string.length; index += font.width) {
      const code =
        font.width === 2
          ? ((string[index] as number) << 8) | (string[index + 1] as number)
          : (string[index] as number);
      this.append(font, code);
    }
  }

  private append(font: FontDecoder, code: number): void {
    const value = font.text.get(code);
    if (value === undefined) throw new Unsupported();
    this.text += value;
  }

  private decoderFor(resources: PDFDict | undefined, fontName: string): FontDecoder {
    const fonts = resources?.lookupMaybe(names.Font, PDFDict);
    const font = fonts?.lookupMaybe(PDFName.of(fontName), PDFDict);
    if (!font) throw new Unsupported();
    let decoder = this.decoders.get(font);
    if (!decoder) {
      decoder = fontDecoder(font);
      this.decoders.set(font, decoder);
    }
    return decoder;
  }

  private form(resources: PDFDict | undefined, formName: string, formDepth: number): void {
    const xobjects = resources?.lookupMaybe(names.XObject, PDFDict);
    const xobject = xobjects?.lookupMaybe(PDFName.of(formName), PDFStream);
    if (!xobject) throw new Unsupported();
    if (xobject.dict.lookup(names.Subtype) !== names.Form) return;
    if (formDepth >= maxFormDepth) throw new Unsupported();
    const own = xobject.dict.lookupMaybe(names.Resources, PDFDict);
    // A form runs in a saved graphics state, as if between q and Q; its operands are its own.
    const font = this.font;
    const saved = this.saved.length;
    this.run(decodeStream(xobject), own ?? resources, formDepth + 1);
    this.saved.length = saved;
    this.font = font;
  }
}

/**
 * How a font's codes become text. A font this reader does not cover gets a decoder that maps nothing:
 * text shown with it inside marked content sends the PDF to pdf.js, text outside is never read.
 */
function fontDecoder(font: PDFDict): FontDecoder {
  const composite = font.lookup(names.Subtype) === names.Type0;
  const toUnicode = font.lookupMaybe(names.ToUnicode, PDFStream);
  if (!toUnicode || (composite && font.lookup(names.Encoding) !== names.IdentityH)) {
    return { width: 1, text: new Map() };
  }
  return {
    width: composite ? 2 : 1,
    text: parseToUnicode(latin1(decodeStream(toUnicode), 0, Number.POSITIVE_INFINITY)),
  };
}

/** The `bfchar` and `bfrange` entries of a `ToUnicode` CMap: character code → text. */
export function parseToUnicode(cmap: string): Map<number, string> {
  const text = new Map<number, string>();
  const sections = /begin(bfchar|bfrange)([\s\S]*?)end\1/g;
  for (const [, kind, body] of cmap.matchAll(sections)) {
    const tokens = [...(body as string).matchAll(/<([0-9A-Fa-f\s]*)>|\[|\]/g)].map((match) =>
      match[1] === undefined ? match[0] : match[1].replace(/\s+/g, ''),
    );
    let index = 0;
    const next = () => {
      const token = tokens[index++];
      if (token === undefined) throw new Unsupported();
      return token;
    };
    while (index < tokens.length) {
      const source = Number.parseInt(next(), 16);
      if (kind === 'bfchar') {
        text.set(source, utf16(next()));
        continue;
      }
      const last = Number.parseInt(next(), 16);
      if (!(last >= source) || last - source > 0xffff) throw new Unsupported();
      const target = next();
      if (target === '[') {
        for (let code = source; code <= last; code++) text.set(code, utf16(next()));
        if (next() !== ']') throw new Unsupported();
      } else {
        // The last UTF-16 unit of the target counts up through the range.
        const units = utf16Units(target);
        const base = units.pop() ?? 0;
        const prefix = String.fromCharCode(...units);
        for (let code = source; code <= last; code++) {
          text.set(code, prefix + String.fromCharCode(base + code - source));
        }
      }
    }
  }
  return text;
}

function utf16Units(hex: string): number[] {
  const units: number[] = [];
  for (let index = 0; index + 4 <= hex.length; index += 4) {
    units.push(Number.parseInt(hex.slice(index, index + 4), 16));
  }
  if (hex.length % 4 !== 0) throw new Unsupported();
  return units;
}

function utf16(hex: string): string {
  return String.fromCharCode(...utf16Units(hex));
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09 || byte === 0x0c || byte === 0x00;
}

/** Not whitespace and not a delimiter. */
function isRegular(byte: number): boolean {
  return (
    !isWhitespace(byte) &&
    byte !== 0x28 &&
    byte !== 0x29 &&
    byte !== 0x3c &&
    byte !== 0x3e &&
    byte !== 0x5b &&
    byte !== 0x5d &&
    byte !== 0x7b &&
    byte !== 0x7d &&
    byte !== 0x2f &&
    byte !== 0x25
  );
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString(
    'latin1',
    start,
    Math.min(end, bytes.length),
  );
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

/** The bytes of a hex string between `start` and `end` (exclusive); an odd last digit is padded with 0. */
function hexBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array((end - start + 1) >> 1);
  let count = 0;
  let high = -1;
  for (let index = start; index < end; index++) {
    const byte = bytes[index] as number;
    if (isWhitespace(byte)) continue;
    const value = hexValue(byte);
    if (value < 0) throw new Unsupported();
    if (high < 0) high = value;
    else {
      out[count++] = (high << 4) | value;
      high = -1;
    }
  }
  if (high >= 0) out[count++] = high << 4;
  return out.subarray(0, count);
}

const escapes: Record<number, number> = { 110: 0x0a, 114: 0x0d, 116: 0x09, 98: 0x08, 102: 0x0c };

/** The index after a literal string that starts at `start` (after its opening parenthesis). */
function skipLiteral(bytes: Uint8Array, start: number): number {
  let nesting = 1;
  let index = start;
  while (index < bytes.length) {
    const byte = bytes[index++] as number;
    if (byte === 0x5c /* \ */) index++;
    else if (byte === 0x28) nesting++;
    else if (byte === 0x29 && --nesting === 0) return index;
  }
  throw new Unsupported();
}

/** The bytes of a literal string from `start` (after its opening parenthesis) to `end` (after its closing one). */
function literalBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out: number[] = [];
  let index = start;
  const last = end - 1;
  while (index < last) {
    const byte = bytes[index++] as number;
    if (byte !== 0x5c /* \ */) {
      out.push(byte);
      continue;
    }
    const next = bytes[index++] as number;
    if (next >= 0x30 && next <= 0x37) {
      let value = next - 0x30;
      for (let digits = 1; digits < 3 && index < last; digits++) {
        const digit = bytes[index] as number;
        if (digit < 0x30 || digit > 0x37) break;
        value = value * 8 + digit - 0x30;
        index++;
      }
      out.push(value & 0xff);
    } else if (next === 0x0d) {
      // A backslash before an end of line continues the string on the next line.
      if (bytes[index] === 0x0a) index++;
    } else if (next !== 0x0a) {
      out.push(escapes[next] ?? next);
    }
  }
  return Uint8Array.from(out);
}

/** The index after a dictionary whose `<<` ends just before `start`. */
function skipDictionary(bytes: Uint8Array, start: number): number {
  let nesting = 1;
  let index = start;
  while (index < bytes.length) {
    const byte = bytes[index] as number;
    if (byte === 0x28) index = skipLiteral(bytes, index + 1);
    else if (byte === 0x25) {
      while (index < bytes.length && bytes[index] !== 0x0a && bytes[index] !== 0x0d) index++;
    } else if (byte === 0x3c) {
      if (bytes[index + 1] === 0x3c) {
        nesting++;
        index += 2;
      } else {
        const end = bytes.indexOf(0x3e, index + 1);
        if (end < 0) throw new Unsupported();
        index = end + 1;
      }
    } else if (byte === 0x3e) {
      if (bytes[index + 1] !== 0x3e) throw new Unsupported();
      index += 2;
      if (--nesting === 0) return index;
    } else index++;
  }
  throw new Unsupported();
}

/** The strings of an array whose `[` ends just before `start`, and the index after its `]`. */
function readArray(bytes: Uint8Array, start: number): [Uint8Array[], number] {
  const strings: Uint8Array[] = [];
  let index = start;
  while (index < bytes.length) {
    const byte = bytes[index] as number;
    if (byte === 0x5d) return [strings, index + 1];
    if (byte === 0x28) {
      const end = skipLiteral(bytes, index + 1);
      strings.push(literalBytes(bytes, index + 1, end));
      index = end;
    } else if (byte === 0x3c) {
      if (bytes[index + 1] === 0x3c) index = skipDictionary(bytes, index + 2);
      else {
        const end = bytes.indexOf(0x3e, index + 1);
        if (end < 0) throw new Unsupported();
        strings.push(hexBytes(bytes, index + 1, end));
        index = end + 1;
      }
    } else if (byte === 0x5b || byte === 0x29 || byte === 0x3e || byte === 0x25) {
      throw new Unsupported();
    } else index++;
  }
  throw new Unsupported();
}

/** The index after an inline image's data (`BI … ID data EI`), from just after `BI`. */
function skipInlineImage(bytes: Uint8Array, start: number): number {
  let index = start;
  // The image's dictionary runs to the `ID` operator, which one whitespace byte follows.
  for (;;) {
    index = bytes.indexOf(0x49 /* I */, index);
    if (index < 0) throw new Unsupported();
    if (
      bytes[index + 1] === 0x44 &&
      isWhitespace(bytes[index - 1] as number) &&
      isWhitespace(bytes[index + 2] as number)
    ) {
      index += 3;
      break;
    }
    index++;
  }
  // The data runs to `EI` between whitespace.
  for (;;) {
    index = bytes.indexOf(0x45 /* E */, index);
    if (index < 0) throw new Unsupported();
    const after = bytes[index + 2];
    if (
      bytes[index + 1] === 0x49 &&
      isWhitespace(bytes[index - 1] as number) &&
      (after === undefined || isWhitespace(after))
    ) {
      return index + 2;
    }
    index++;
  }
}
