/**
 * The oracles are only worth something if they see a leak: each form an artifact could carry the
 * token in is planted here and must be found.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { zipSync } from 'fflate';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporaryFolder } from '../helpers.ts';
import { type Canary, filesLeakingToken, startCanary } from './canary.ts';

let folder: { dir: string; remove: () => Promise<void> };
let canary: Canary;
beforeAll(async () => {
  folder = await temporaryFolder();
  canary = await startCanary(path.join(folder.dir, 'canary'));
});
afterAll(async () => {
  await canary?.close();
  await folder?.remove();
});

describe('the canary oracles', () => {
  it('find the token in a compressed PDF, a deflated EPUB entry and UTF-16 text, and nowhere else', async () => {
    const out = path.join(folder.dir, 'out');
    await mkdir(path.join(out, 'briefings'), { recursive: true });
    const pdf = await PDFDocument.create();
    const font = await pdf.embedFont(StandardFonts.Helvetica);
    pdf.addPage().drawText(canary.token, { x: 50, y: 700, size: 12, font });
    await writeFile(path.join(out, 'briefings', 'leak.pdf'), await pdf.save());
    await writeFile(
      path.join(out, 'pack.epub'),
      zipSync({ 'EPUB/b.xhtml': new TextEncoder().encode(`<p>${canary.token}</p>`) }, { level: 9 }),
    );
    await writeFile(path.join(out, 'utf16.txt'), Buffer.from(canary.token, 'utf16le'));
    await writeFile(path.join(out, 'clean.txt'), 'nothing here\n');
    expect(await filesLeakingToken(out, canary.token)).toEqual([
      'briefings/leak.pdf',
      'pack.epub',
      'utf16.txt',
    ]);
  });

  it('log every request the canary server receives', async () => {
    const response = await fetch(`http://127.0.0.1:${canary.port}/probe`);
    expect(await response.text()).toContain(canary.token);
    expect(canary.requests).toEqual(['GET /probe']);
    canary.requests.length = 0;
  });
});
