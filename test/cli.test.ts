import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArguments } from '../pipeline/cli.ts';
import { UsageError } from '../pipeline/lib/errors.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { generatedId, generatePack } from '../scripts/generate-pack.ts';
import { runCli, temporaryFolder } from './helpers.ts';

let folder: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  folder = await temporaryFolder();
});
afterAll(async () => {
  await folder.remove();
});

const source = path.join(projectRoot, 'source');

describe('parseCliArguments', () => {
  it('reads the options of SPEC.md with their defaults', () => {
    expect(parseCliArguments(['build'])).toMatchObject({
      command: 'build',
      sourceDir: 'source',
      outDir: 'dist',
      json: false,
    });
    expect(parseCliArguments(['check', '--source', 'x', '--out', 'y', '--json', '--quiet'])).toMatchObject({
      command: 'check',
      sourceDir: 'x',
      outDir: 'y',
      json: true,
      quiet: true,
    });
  });

  it('refuses unknown options, commands and values as wrong usage', () => {
    expect(() => parseCliArguments(['build', '--frobnicate'])).toThrow(UsageError);
    expect(() => parseCliArguments(['publish'])).toThrow(/Unexpected command `publish`/);
    expect(() => parseCliArguments(['build', '--quiet', '--verbose'])).toThrow(UsageError);
    expect(() => parseCliArguments(['build', '--concurrency', '0'])).toThrow(UsageError);
    expect(() => parseCliArguments(['build', '--browser-endpoint', 'http://x'])).toThrow(UsageError);
  });
});

describe('the command line', () => {
  it('exits 2 with the usage on wrong usage', async () => {
    const run = await runCli(['build', '--nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: npm run <build|check>');
  });

  it('exits 2 on a malformed SOURCE_DATE_EPOCH', async () => {
    const run = await runCli(['check', '--source', source], { env: { SOURCE_DATE_EPOCH: '2025-07-13' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('SOURCE_DATE_EPOCH is `2025-07-13`, expected a whole number of seconds');
  });

  it('exits 2 when the source folder does not exist', async () => {
    const run = await runCli(['check', '--source', path.join(folder.dir, 'missing')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('does not exist');
  });

  it('exits 3 naming the browser when the one given cannot be used', async () => {
    const run = await runCli([
      'build',
      '--source',
      source,
      '--out',
      path.join(folder.dir, 'out'),
      '--browser',
      '/nonexistent/chrome',
    ]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('`/nonexistent/chrome`, is not an executable file');
  });

  it('exits 3 when the output folder cannot be written', async () => {
    const blocker = path.join(folder.dir, 'a-file');
    await writeFile(blocker, 'not a folder');
    const run = await runCli(['build', '--source', source, '--out', path.join(blocker, 'dist')]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('no permission to write');
  });

  it('checks a large pack on two threads with the same report as on one', async () => {
    const dir = path.join(folder.dir, 'large');
    await generatePack(dir, { count: 48, footnotes: true, images: true, tables: true });
    const briefing = (index: number) => path.join(dir, 'briefings', `${generatedId(index)}.md`);
    const append = async (index: number, text: string) =>
      writeFile(briefing(index), `${await readFile(briefing(index), 'utf8')}${text}`);
    await append(3, '\nSee [the map](#nope) and a note.[^none]\n\n## Empty\n');
    await append(20, '\n![](../assets/chart.png)\n\n<b>raw</b>\n');
    await append(41, '\n[^spare]: Never cited.\n');
    const header = await readFile(briefing(30), 'utf8');
    await writeFile(briefing(30), header.replace(/^title:/m, 'titel:').concat('\n## Also empty\n'));

    const twoThreads = await runCli(['check', '--source', dir, '--json', '--verbose']);
    const oneThread = await runCli(['check', '--source', dir, '--json'], {
      env: { BRIEFING_PACK_NO_BUNDLE: '1' },
    });
    expect(twoThreads.stderr).toContain('Checking 48 briefings on two threads');
    expect(oneThread.stderr).not.toContain('two threads');
    expect(twoThreads.code).toBe(1);
    expect(oneThread.code).toBe(1);
    const messages = (run: { stdout: string }) =>
      JSON.parse(run.stdout).messages as Array<{ ruleId: string }>;
    expect(messages(twoThreads)).toEqual(messages(oneThread));
    expect(messages(twoThreads).map((message) => message.ruleId)).toEqual([
      'missing-anchor',
      'missing-footnote',
      'empty-section',
      'image-alt',
      'raw-html',
      'raw-html',
      'missing-field',
      'unknown-field',
      'empty-section',
      'unused-footnote',
    ]);
  });

  it('prints a JSON report on stdout with --json and keeps stdout clean of human text', async () => {
    const run = await runCli(['check', '--source', source, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ command: 'check', ok: true, exitCode: 0, messages: [] });
    expect(Object.keys(report.timings)).toEqual(['read', 'validate', 'convert']);
  });
});
