/**
 * Stage 7: package the EPUB 3 — the XHTML content documents of stage 4 with the navigation document,
 * the package document, styles, the fonts the text needs and the images — both unzipped (readable in
 * a browser) and zipped into the `.epub`, `mimetype` first and stored, as the standard requires.
 */
import { createHash } from 'node:crypto';
import { type Zippable, zipSync } from 'fflate';
import { VFile } from 'vfile';
import { outputNames, templateAsset } from './04-apply-templates.ts';
import { facesForText, fontFaceCss, readFontFile } from './lib/fonts.ts';
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

/** The zip format cannot store dates before 1980; an earlier epoch is stored as 1980-01-01. */
const earliestZipDate = Date.UTC(1980, 0, 1, 0, 0, 2);

/** A stable identifier for the pack: derived from what names the edition, never random. */
export function packIdentifier(pack: Pack): string {
  const hex = createHash('sha256')
    .update(JSON.stringify([pack.title, pack.edition ?? '', pack.date, pack.organisation ?? '']))
    .digest('hex');
  // Shaped as a name-based UUID (version 5 bits), so reading systems accept it as `urn:uuid:`.
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
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
  const faces = facesForText(text);

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
      hasImages: assets.size > 0,
      accessibilitySummary:
        'A briefing pack: each briefing has headings for its sections and its questions, a summary, key points and sources. Every image has a text alternative. The contents link to each briefing and question.',
    },
    build: { generator: `${generator.name} ${generator.version}` },
  });
  entries.set('EPUB/package.opf', opf);

  const mtime = new Date(Math.max(options.epochSeconds * 1000, earliestZipDate));
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

  const outputs = names.map((name) => {
    const file = new VFile({ path: `${root}${name}`, value: entries.get(name) ?? '' });
    if (name === 'EPUB/index.xhtml') file.data.artifact = { kind: 'html' };
    return file;
  });
  outputs.push(new VFile({ path: outputNames.epub, value: epub, data: { artifact: { kind: 'epub' } } }));
  return { ...files, outputs: [...files.outputs, ...outputs] };
}
