import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { VFile } from 'vfile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateSource } from '../pipeline/02-validate-source.ts';
import { startParallelBodyChecks } from '../pipeline/lib/parallel-check.ts';
import { temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
beforeEach(async () => {
  folder = await temporaryFolder();
});
afterEach(async () => {
  await folder.remove();
});

function briefings(count: number): VFile[] {
  return Array.from(
    { length: count },
    (_, index) =>
      new VFile({
        path: path.join(folder.dir, 'briefings', `b-${index}.md`),
        value: `---\ntitle: T\ndate: 2025-07-13\nsummary: S.\n---\n\nSee [it](#nowhere-${index}).\n`,
      }),
  );
}

describe('startParallelBodyChecks', () => {
  it('checks every body on this thread when the worker cannot start', async () => {
    const files = briefings(5);
    await validateSource({
      sourceDir: folder.dir,
      pack: new VFile({ path: path.join(folder.dir, 'pack.yaml'), value: 'title: P\ndate: 2025-07-13\n' }),
      briefings: files,
      documents: [],
      outputs: [],
    });
    const parallel = startParallelBodyChecks(pathToFileURL(path.join(folder.dir, 'no-such-worker.js')));
    try {
      parallel.start(folder.dir, files);
      await parallel.finish(new Set(files.slice(0, 4)));
    } finally {
      await parallel.close();
    }
    expect(
      files.map((file) =>
        file.messages.map((message) => `${message.line}:${message.column} ${message.ruleId}`),
      ),
    ).toEqual([
      ['7:5 missing-anchor'],
      ['7:5 missing-anchor'],
      ['7:5 missing-anchor'],
      ['7:5 missing-anchor'],
      [],
    ]);
  });
});
