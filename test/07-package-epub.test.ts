import { unzipSync } from 'fflate';
import { VFile } from 'vfile';
import { describe, expect, it } from 'vitest';
import { packageEpub, packIdentifier } from '../pipeline/07-package-epub.ts';
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

  it('stores dates before 1980 as the earliest date a zip can hold', async () => {
    const files = await packageEpub(build(), { epochSeconds: 0 });
    expect(files.outputs.some((file) => file.path === 'pack.epub')).toBe(true);
  });
});
