/**
 * Stage 7: package the EPUB 3 — the XHTML content documents of stage 4 with the navigation document,
 * the package document, styles, the fonts the text needs and the images — both unzipped (readable in
 * a browser) and zipped into the `.epub`, `mimetype` first and stored, as the standard requires.
 */
import { createHash } from 'node:crypto';
import { type Zippable, zipSync } from 'fflate';
import { VFile } from 'vfile';
import { outputNames, templateAsset } from './04-apply-templates.ts';
import { type FontFace, fontFaceCss, fontFaces, fontStacks, readFontFile } from './lib/fonts.ts';
import type { Asset, BuildFiles, Pack } from './lib/model.ts';
import { generator } from './lib/project.ts';
import { renderTemplate } from './lib/templates.ts';

/** Options of {@link packageEpub}. */
export interface PackageEpubOptions {
  epochSeconds: number;
}

interface ManifestItem {
  id: string;
  href: string;
  mediaType: string;
  properties: string | null;
}

/** The dates a zip entry can hold (MS-DOS format); an epoch outside is stored as the nearest one. */
const earliestZipDate = Date.UTC(1980, 0, 1, 0, 0, 0);
const latestZipDate = Date.UTC(2107, 11, 31, 23, 59, 58);

/** A stable identifier for the pack: derived from what names the edition, never random. */
export function packIdentifier(pack: Pack): string {
  const hex = createHash('sha256')
    .update(JSON.stringify([pack.title, pack.edition ?? '', pack.date, pack.organisation ?? '']))
    .digest('hex');
  // Shaped as a name-based UUID (version 5 bits), so reading systems accept it as `urn:uuid:`.
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** What the package document says about the publication's accessibility (schema.org, EPUB Accessibility). */
export interface AccessibilityMetadata {
  accessModes: string[];
  accessModesSufficient: string[];
  features: string[];
  hazards: string[];
  summary: string;
}

/** What the packaged content holds, for the accessibility metadata. */
export interface ContentFacts {
  briefings: number;
  questions: boolean;
  images: boolean;
  tables: boolean;
  notes: boolean;
}

/** The accessibility metadata of a pack: each value once, each claim true of this pack's content. */
export function accessibilityMetadata(facts: ContentFacts): AccessibilityMetadata {
  const summary = [
    `A pack of ${facts.briefings} ${facts.briefings === 1 ? 'briefing' : 'briefings'}, each with its title, date, summary, key points where given, body and sources, marked up with headings in reading order.`,
    facts.questions
      ? 'The contents link to every briefing and to each question of its questions and answers.'
      : 'The contents link to every briefing.',
    ...(facts.images ? ['Every image has a text alternative.'] : []),
    ...(facts.tables ? ['Every table has a header row.'] : []),
    ...(facts.notes ? ['Notes are linked from the text and back.'] : []),
    'The text reflows and follows the reader’s settings; the fonts are embedded.',
  ].join(' ');
  return {
    accessModes: facts.images ? ['textual', 'visual'] : ['textual'],
    // Every image has a text alternative (the build refuses one without), so text alone suffices.
    accessModesSufficient: facts.images ? ['textual', 'textual,visual'] : ['textual'],
    features: [
      'structuralNavigation',
      'tableOfContents',
      'readingOrder',
      'displayTransformability',
      'ARIA',
      ...(facts.images ? ['alternativeText'] : []),
    ],
    hazards: ['none'],
    summary,
  };
}

/** The families of a CSS font stack (`'Source Serif 4', 'Noto Serif KR'`), in order. */
function stackFamilies(stack: string): string[] {
  return stack.split(',').map((family) => family.trim().replace(/^'(.*)'$/, '$1'));
}

/**
 * The bundled faces the EPUB needs for `text`: for each character and each font stack, the faces of the
 * first family that covers it — the one a reading system draws it with. A Korean face comes along only
 * for characters the Source families lack, not for the Latin its files also cover.
 */
export function facesForEpub(text: string, faces: readonly FontFace[] = fontFaces): FontFace[] {
  const codePoints = new Set<number>();
  for (const character of text) codePoints.add(character.codePointAt(0) ?? 0);
  const covers = (face: FontFace, codePoint: number) =>
    face.ranges.some(([start, end]) => codePoint >= start && codePoint <= end);
  const used = new Set<FontFace>();
  for (const stack of Object.values(fontStacks)) {
    const families = stackFamilies(stack).map((family) => faces.filter((face) => face.family === family));
    for (const codePoint of codePoints) {
      for (const familyFaces of families) {
        const covering = familyFaces.filter((face) => covers(face, codePoint));
        for (const face of covering) used.add(face);
        if (covering.length > 0) break;
      }
    }
  }
  return faces.filter((face) => used.has(face));
}

/**
 * Writes the date of every entry of a zip made by fflate as UTC fields. fflate writes the local time,
 * which would make the bytes depend on the time zone of the build; the rest of the zip is untouched.
 */
export function setZipEntryDates(zip: Uint8Array, date: Date): void {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const dosTime =
    (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2);
  const dosDate = ((date.getUTCFullYear() - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate();
  // The end of central directory record: 22 bytes at the very end, as fflate writes no zip comment.
  const end = zip.byteLength - 22;
  if (end < 0 || view.getUint32(end, true) !== 0x06054b50)
    throw new Error('The EPUB zip has no end of central directory record where expected');
  const count = view.getUint16(end + 10, true);
  let offset = view.getUint32(end + 16, true);
  for (let index = 0; index < count; index++) {
    if (view.getUint32(offset, true) !== 0x02014b50)
      throw new Error(`The EPUB zip has no central directory header at ${offset}`);
    view.setUint16(offset + 12, dosTime, true);
    view.setUint16(offset + 14, dosDate, true);
    const local = view.getUint32(offset + 42, true);
    if (view.getUint32(local, true) !== 0x04034b50)
      throw new Error(`The EPUB zip has no local file header at ${local}`);
    view.setUint16(local + 10, dosTime, true);
    view.setUint16(local + 12, dosDate, true);
    offset +=
      46 +
      view.getUint16(offset + 28, true) +
      view.getUint16(offset + 30, true) +
      view.getUint16(offset + 32, true);
  }
}

function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Packages the EPUB from the XHTML documents; adds the unzipped files and the `.epub` to the outputs. */
export async function packageEpub(files: BuildFiles, options: PackageEpubOptions): Promise<BuildFiles> {
  const pack = files.pack.data.pack;
  if (!pack) throw new Error('The pack reached EPUB packaging without being validated');
  const root = `${outputNames.epubFolder}/`;
  const contentDocuments = files.documents.filter((document) => document.data.document?.target === 'epub');

  const assets = new Map<string, Asset>();
  for (const briefing of files.briefings) {
    for (const asset of briefing.data.content?.assets ?? []) assets.set(asset.href, asset);
  }
  const text = contentDocuments.map((document) => String(document.value)).join('\n');
  const faces = facesForEpub(text);

  const entries = new Map<string, string | Uint8Array>();
  entries.set('mimetype', 'application/epub+zip');
  entries.set('META-INF/container.xml', templateAsset('epub/container.xml'));
  const items: ManifestItem[] = [];
  const add = (
    href: string,
    mediaType: string,
    value: string | Uint8Array,
    properties: string | null = null,
  ) => {
    entries.set(`EPUB/${href}`, value);
    items.push({ id: `item-${items.length + 1}`, href, mediaType, properties });
  };

  const spine: string[] = [];
  for (const document of contentDocuments) {
    const href = document.path.slice(`${root}EPUB/`.length);
    add(href, 'application/xhtml+xml', String(document.value), href === 'nav.xhtml' ? 'nav' : null);
    spine.push(`item-${items.length}`);
  }
  add('styles/epub.css', 'text/css', templateAsset('styles/epub.css'));
  add('styles/fonts.css', 'text/css', `${fontFaceCss(faces, '../fonts/')}\n`);
  for (const face of faces) add(`fonts/${face.fileName}`, 'font/woff2', new Uint8Array(readFontFile(face)));
  for (const asset of assets.values()) add(asset.href, asset.mediaType, asset.bytes);

  const subjects = [...new Set(files.briefings.flatMap((file) => file.data.briefing?.tags ?? []))];
  const contents = files.briefings.flatMap((file) => (file.data.content ? [file.data.content] : []));
  const accessibility = accessibilityMetadata({
    briefings: files.briefings.length,
    questions: contents.some((content) => content.headings.some((heading) => heading.question)),
    images: assets.size > 0,
    // Our own serialisation of the sanitized tree: a table is always `<table>`.
    tables: contents.some((content) => content.xhtml.includes('<table>')),
    notes: contents.some((content) => content.hasFootnotes),
  });
  const opf = await renderTemplate('epub/package.opf', {
    pack: {
      title: pack.title,
      subtitle: pack.subtitle ?? null,
      date: pack.date,
      language: pack.language,
      organisation: pack.organisation ?? null,
    },
    epub: {
      identifier: packIdentifier(pack),
      modified: isoSeconds(options.epochSeconds),
      subjects,
      items,
      spine,
      accessibility,
    },
    build: { generator: `${generator.name} ${generator.version}` },
  });
  entries.set('EPUB/package.opf', opf);

  const entryDate = new Date(Math.min(Math.max(options.epochSeconds * 1000, earliestZipDate), latestZipDate));
  // Any date fflate can store in every time zone; setZipEntryDates writes the real one in UTC.
  const mtime = new Date(Date.UTC(2000, 0, 1));
  const zippable: Zippable = {};
  // `mimetype` first and stored; the rest in a fixed order, so the bytes never depend on the run.
  const names = [
    'mimetype',
    'META-INF/container.xml',
    ...[...entries.keys()].filter((name) => name !== 'mimetype' && name !== 'META-INF/container.xml').sort(),
  ];
  for (const name of names) {
    const value = entries.get(name) ?? '';
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    zippable[name] = [bytes, { level: name === 'mimetype' ? 0 : 9, mtime, os: 3, attrs: 0o644 << 16 }];
  }
  const epub = zipSync(zippable);
  setZipEntryDates(epub, entryDate);

  const outputs = names.map((name) => {
    const file = new VFile({ path: `${root}${name}`, value: entries.get(name) ?? '' });
    if (name === 'EPUB/index.xhtml') file.data.artifact = { kind: 'html' };
    return file;
  });
  outputs.push(new VFile({ path: outputNames.epub, value: epub, data: { artifact: { kind: 'epub' } } }));
  return { ...files, outputs: [...files.outputs, ...outputs] };
}
