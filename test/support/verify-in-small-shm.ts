/**
 * Run by test/pdf-verify.test.ts in a mount namespace of its own whose `/dev/shm` is a 64 KiB tmpfs:
 * checks a small PDF (its copy for qpdf fits in shared memory) and then one of about 200 KiB (which
 * does not), and prints where qpdf's folder was for each and what the checks found, as JSON.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { PDFDocument } from 'pdf-lib';
import { pdfBytesProblem, qpdfScratchFolder } from '../../pipeline/lib/pdf-verify.ts';

async function pdf(attachmentBytes: number): Promise<Uint8Array> {
  const document = await PDFDocument.create();
  document.addPage([200, 200]);
  // Random bytes do not compress: the file is at least this large.
  if (attachmentBytes > 0) await document.attach(randomBytes(attachmentBytes), 'data.bin');
  return document.save();
}

const small = await pdf(0);
const large = await pdf(200 * 1024);
const smallProblem = await pdfBytesProblem(small, { kind: 'pack-pdf', pages: 1 });
const smallFolder = qpdfScratchFolder();
const largeProblem = await pdfBytesProblem(large, { kind: 'pack-pdf', pages: 1 });
const largeFolder = qpdfScratchFolder();
// The copy that did not fit is not left in shared memory.
const leftInSharedMemory = smallFolder ? readdirSync(smallFolder) : [];
const afterProblem = await pdfBytesProblem(small, { kind: 'pack-pdf', pages: 1 });
process.stdout.write(
  `${JSON.stringify({
    tmpdir: os.tmpdir(),
    largeBytes: large.length,
    smallProblem: smallProblem ?? null,
    smallFolder,
    largeProblem: largeProblem ?? null,
    largeFolder,
    leftInSharedMemory,
    afterProblem: afterProblem ?? null,
    afterFolder: qpdfScratchFolder(),
  })}\n`,
);
