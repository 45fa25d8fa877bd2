import { PDFDocument, PDFName } from 'pdf-lib';
import { VFile } from 'vfile';
import { describe, expect, it } from 'vitest';
import { postProcessPdfs } from '../pipeline/06-post-process-pdfs.ts';
import type { BuildFiles } from '../pipeline/lib/model.ts';

async function blankPdf(): Promise<Uint8Array> {
  const document = await PDFDocument.create({ updateMetadata: false });
  document.addPage([595, 842]);
  document.addPage([595, 842]);
  return document.save();
}

function build(pdf: Uint8Array): BuildFiles {
  const pack = new VFile({ path: '/s/pack.yaml', value: '' });
  pack.data.pack = {
    title: 'The pack',
    subtitle: 'Sub',
    date: '2025-07-13',
    organisation: 'Policy Unit',
    language: 'en-GB',
    paper: 'A4',
    markings: [],
    briefingIds: ['one'],
    brief: { title: 'The brief', briefingIds: ['one'] },
  };
  const briefing = new VFile({ path: '/s/briefings/one.md', value: '' });
  briefing.data.briefing = {
    id: 'one',
    title: 'One',
    date: '2025-07-13',
    summary: 'The summary.',
    keyPoints: [],
    tags: ['North Korea', 'Sanctions'],
    regions: [],
    authors: ['A. Author'],
    sources: [],
  };
  const outputs = [
    new VFile({ path: 'pack.pdf', value: pdf, data: { artifact: { kind: 'pack-pdf' } } }),
    new VFile({
      path: 'briefings/one.pdf',
      value: pdf,
      data: { artifact: { kind: 'briefing-pdf', briefingId: 'one' } },
    }),
  ];
  return { sourceDir: '/s', pack, briefings: [briefing], documents: [], outputs };
}

describe('postProcessPdfs', () => {
  it('writes metadata and the epoch dates in place, and counts the pages', async () => {
    const files = await postProcessPdfs(build(await blankPdf()), {
      epochSeconds: 1752364800,
      browserVersion: 'Chromium 1.0',
    });
    const [pack, briefing] = files.outputs;
    const packPdf = await PDFDocument.load(pack?.value as Uint8Array, { updateMetadata: false });
    expect(packPdf.getTitle()).toBe('The pack');
    expect(packPdf.getAuthor()).toBe('Policy Unit');
    expect(packPdf.getSubject()).toBe('Sub');
    expect(packPdf.getKeywords()).toBe('North Korea; Sanctions');
    expect(packPdf.getCreationDate()?.toISOString()).toBe('2025-07-13T00:00:00.000Z');
    expect(packPdf.getModificationDate()?.toISOString()).toBe('2025-07-13T00:00:00.000Z');
    expect(String(packPdf.catalog.get(PDFName.of('Lang')))).toContain('en-GB');
    expect(pack?.data.artifact?.pages).toBe(2);
    const briefingPdf = await PDFDocument.load(briefing?.value as Uint8Array, { updateMetadata: false });
    expect(briefingPdf.getTitle()).toBe('One');
    expect(briefingPdf.getAuthor()).toBe('A. Author');
  });

  it('gives the same bytes for the same input, whatever the clock', async () => {
    const pdf = await blankPdf();
    const first = await postProcessPdfs(build(pdf), {
      epochSeconds: 1752364800,
      browserVersion: 'Chromium 1.0',
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await postProcessPdfs(build(pdf), {
      epochSeconds: 1752364800,
      browserVersion: 'Chromium 1.0',
    });
    expect(
      Buffer.compare(first.outputs[0]?.value as Uint8Array, second.outputs[0]?.value as Uint8Array),
    ).toBe(0);
  });
});
