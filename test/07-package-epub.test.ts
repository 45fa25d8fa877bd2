import { unzipSync } from 'fflate';
import { VFile } from 'vfile';
import { describe, expect, it } from 'vitest';
import {
  accessibilityMetadata,
  facesForEpub,
  packageEpub,
  packIdentifier,
} from '../pipeline/07-package-epub.ts';
import type { BuildFiles, Pack } from '../pipeline/lib/model.ts';

const pack: Pack = {
  title: 'The pack',
  date: '2025-07-13',
  edition: '2025-W28',
  language: 'en-GB',
  paper: 'A4',
  markings: [],
  briefingIds: ['one'],
  brief: { title: 'The pack', briefingIds: ['one'] },
};

function build(): BuildFiles {
  const packFile = new VFile({ path: '/s/pack.yaml', value: '' });
  packFile.data.pack = pack;
  const xhtml = (name: string, body: string) =>
    new VFile({
      path: `epub/EPUB/${name}`,
      value: `<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body>${body}</body></html>`,
      data: { document: { target: 'epub' } },
    });
  return {
    sourceDir: '/s',
    pack: packFile,
    briefings: [],
    documents: [
      xhtml('index.xhtml', 'Title'),
      xhtml('nav.xhtml', 'Contents'),
      xhtml('b-one.xhtml', 'Одна 하나'),
    ],
    outputs: [],
  };
}

function zipEntries(bytes: Uint8Array): string[] {
  return Object.keys(unzipSync(bytes));
}

function epubBytes(files: BuildFiles): Uint8Array {
  return files.outputs.find((file) => file.path === 'pack.epub')?.value as Uint8Array;
}

function packageDocument(files: BuildFiles): string {
  return String(files.outputs.find((file) => file.path === 'epub/EPUB/package.opf')?.value);
}

/** The MS-DOS date and time of every entry, read from the central directory, as `YYYY-MM-DD hh:mm:ss`. */
function zipEntryDates(zip: Uint8Array): string[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const end = zip.byteLength - 22;
  const dates: string[] = [];
  let offset = view.getUint32(end + 16, true);
  for (let index = 0; index < view.getUint16(end + 10, true); index++) {
    const time = view.getUint16(offset + 12, true);
    const date = view.getUint16(offset + 14, true);
    const pad = (value: number) => String(value).padStart(2, '0');
    dates.push(
      `${1980 + (date >> 9)}-${pad((date >> 5) & 15)}-${pad(date & 31)} ${pad(time >> 11)}:${pad((time >> 5) & 63)}:${pad((time & 31) * 2)}`,
    );
    offset +=
      46 +
      view.getUint16(offset + 28, true) +
      view.getUint16(offset + 30, true) +
      view.getUint16(offset + 32, true);
  }
  return dates;
}

/** Runs `work` with the process in another time zone (Node reads `TZ` again when it is set). */
async function inTimeZone<T>(timeZone: string, work: () => Promise<T>): Promise<T> {
  const before = process.env.TZ;
  process.env.TZ = timeZone;
  try {
    return await work();
  } finally {
    process.env.TZ = before;
  }
}

describe('packageEpub', () => {
  it('stores `mimetype` first and uncompressed, as the standard requires', async () => {
    const files = await packageEpub(build(), { epochSeconds: 1752364800 });
    const epub = files.outputs.find((file) => file.data.artifact?.kind === 'epub')?.value as Uint8Array;
    // The first local header: signature, then at offset 8 the method (0 = stored), at 30 the name.
    expect(Buffer.from(epub.subarray(0, 4)).toString('hex')).toBe('504b0304');
    expect(epub[8]).toBe(0);
    expect(Buffer.from(epub.subarray(30, 38)).toString()).toBe('mimetype');
    expect(Buffer.from(epub.subarray(38, 58)).toString()).toBe('application/epub+zip');
    expect(zipEntries(epub).slice(0, 2)).toEqual(['mimetype', 'META-INF/container.xml']);
  });

  it('lists every document, style, font and the navigation document in the package', async () => {
    const files = await packageEpub(build(), { epochSeconds: 1752364800 });
    const opf = String(files.outputs.find((file) => file.path === 'epub/EPUB/package.opf')?.value);
    expect(opf).toContain('href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"');
    expect(opf).toContain('href="b-one.xhtml"');
    expect(opf).toMatch(/href="fonts\/source-serif-4-cyrillic-400-normal\.woff2" media-type="font\/woff2"/);
    expect(opf).toMatch(/href="fonts\/noto-serif-kr-\d+-400-normal\.woff2"/);
    expect(opf).toContain('<meta property="dcterms:modified">2025-07-13T00:00:00Z</meta>');
    expect(opf).toContain(`<dc:identifier id="pub-id">${packIdentifier(pack)}</dc:identifier>`);
  });

  it('gives the same bytes for the same pack and epoch, and derives a stable identifier', async () => {
    const first = await packageEpub(build(), { epochSeconds: 1752364800 });
    const second = await packageEpub(build(), { epochSeconds: 1752364800 });
    const bytes = (files: BuildFiles) =>
      files.outputs.find((file) => file.path === 'pack.epub')?.value as Uint8Array;
    expect(Buffer.compare(bytes(first), bytes(second))).toBe(0);
    expect(packIdentifier(pack)).toMatch(
      /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(packIdentifier({ ...pack, edition: '2025-W29' })).not.toBe(packIdentifier(pack));
  });

  it('stores the epoch as the date of every entry in UTC, whatever the time zone of the build', async () => {
    const inUtc = await packageEpub(build(), { epochSeconds: 1752364800 });
    const inSantiago = await inTimeZone('America/Santiago', () =>
      packageEpub(build(), { epochSeconds: 1752364800 }),
    );
    expect(Buffer.compare(epubBytes(inUtc), epubBytes(inSantiago))).toBe(0);
    expect(new Set(zipEntryDates(epubBytes(inUtc)))).toEqual(new Set(['2025-07-13 00:00:00']));
  });

  it('stores dates outside what a zip can hold as the nearest it can', async () => {
    const early = await inTimeZone('America/New_York', () => packageEpub(build(), { epochSeconds: 0 }));
    expect(new Set(zipEntryDates(epubBytes(early)))).toEqual(new Set(['1980-01-01 00:00:00']));
    const late = await packageEpub(build(), { epochSeconds: 253402300799 });
    expect(new Set(zipEntryDates(epubBytes(late)))).toEqual(new Set(['2107-12-31 23:59:58']));
    expect(packageDocument(late)).toContain('<meta property="dcterms:modified">9999-12-31T23:59:59Z</meta>');
  });

  it('declares its accessibility once per property and value, claiming only what the pack holds', async () => {
    const opf = packageDocument(await packageEpub(build(), { epochSeconds: 1752364800 }));
    const metas = [...opf.matchAll(/<meta property="(schema:[^"]+)"[^>]*>([^<]*)<\/meta>/g)].map(
      ([, property, value]) => `${property} ${value}`,
    );
    expect(new Set(metas).size).toBe(metas.length);
    expect(metas).toEqual(
      expect.arrayContaining([
        'schema:accessMode textual',
        'schema:accessModeSufficient textual',
        'schema:accessibilityFeature tableOfContents',
        'schema:accessibilityFeature structuralNavigation',
        'schema:accessibilityHazard none',
      ]),
    );
    // No image in this pack: no visual mode and no claim about text alternatives.
    expect(opf).not.toMatch(/visual|alternativeText/);
    expect(metas.filter((meta) => meta.startsWith('schema:accessibilitySummary'))).toHaveLength(1);
  });

  it('describes a pack with images, tables and notes in its accessibility metadata', () => {
    const metadata = accessibilityMetadata({
      briefings: 3,
      questions: true,
      images: true,
      tables: true,
      notes: true,
    });
    expect(metadata.accessModes).toEqual(['textual', 'visual']);
    expect(metadata.accessModesSufficient).toEqual(['textual', 'textual,visual']);
    expect(metadata.features).toContain('alternativeText');
    expect(metadata.summary).toContain('Every image has a text alternative.');
    expect(metadata.summary).toContain('Every table has a header row.');
    expect(metadata.summary).toContain('Notes are linked from the text and back.');
    expect(
      accessibilityMetadata({ briefings: 1, questions: false, images: false, tables: false, notes: false })
        .summary,
    ).not.toMatch(/image|table|Notes|question/);
  });

  it('packs only the font faces a reading system draws the text with', () => {
    const latin = facesForEpub('Plain English text, with “quotes” — and dashes.').map(
      (face) => face.fileName,
    );
    expect(latin.length).toBeGreaterThan(0);
    expect(latin.every((name) => /^source-(serif-4|sans-3)-latin-/.test(name))).toBe(true);
    const mixed = facesForEpub('Одна 하나').map((face) => face.fileName);
    expect(mixed).toContain('source-serif-4-cyrillic-400-normal.woff2');
    expect(mixed.some((name) => /^noto-serif-kr-\d+-400-normal\.woff2$/.test(name))).toBe(true);
    expect(mixed.some((name) => name.startsWith('noto-serif-kr-latin'))).toBe(false);
  });
});
