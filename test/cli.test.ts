import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArguments } from '../pipeline/cli.ts';
import { UsageError } from '../pipeline/lib/errors.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { generatedId, generatePack, makePng } from '../scripts/generate-pack.ts';
import { runCli, temporaryFolder, writeSource } from './helpers.ts';

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
    expect(() => parseCliArguments(['build', '--browser-endpoint', 'ftp://x'])).toThrow(UsageError);
    expect(() => parseCliArguments(['build', '--browser-endpoint', '127.0.0.1:9222'])).toThrow(UsageError);
    expect(() => parseCliArguments(['build', '--port', '4173'])).toThrow(/only `dev` serves a preview/);
    expect(() => parseCliArguments(['dev', '--port', '65536'])).toThrow(UsageError);
    expect(() => parseCliArguments(['dev', '--port', 'http'])).toThrow(UsageError);
  });

  it('reads `dev` and its port (default: none given, so 4173 or the next free one)', () => {
    expect(parseCliArguments(['dev'])).toMatchObject({
      command: 'dev',
      sourceDir: 'source',
      port: undefined,
    });
    expect(parseCliArguments(['dev', '--source', 'x', '--port', '0'])).toMatchObject({
      command: 'dev',
      sourceDir: 'x',
      port: 0,
    });
  });

  it('takes a browser endpoint as a DevTools WebSocket or an HTTP address, from the flag or the environment', () => {
    const ws = 'ws://127.0.0.1:9222/devtools/browser/1f2e';
    expect(parseCliArguments(['build', '--browser-endpoint', ws])).toMatchObject({ browserEndpoint: ws });
    expect(parseCliArguments(['build', '--browser-endpoint', 'http://pool:9222'])).toMatchObject({
      browserEndpoint: 'http://pool:9222',
    });
    const saved = process.env.BRIEFING_PACK_BROWSER_ENDPOINT;
    try {
      process.env.BRIEFING_PACK_BROWSER_ENDPOINT = 'wss://pool.internal/?token=s3cret';
      expect(parseCliArguments(['build'])).toMatchObject({
        browserEndpoint: 'wss://pool.internal/?token=s3cret',
      });
      expect(parseCliArguments(['build', '--browser-endpoint', ws])).toMatchObject({ browserEndpoint: ws });
      process.env.BRIEFING_PACK_BROWSER_ENDPOINT = '';
      expect(parseCliArguments(['build'])).toMatchObject({ browserEndpoint: undefined });
      // A malformed one is named without its secret.
      process.env.BRIEFING_PACK_BROWSER_ENDPOINT = 'pool.internal:3000?token=s3cret';
      expect(() => parseCliArguments(['build'])).toThrow(
        /^Unexpected BRIEFING_PACK_BROWSER_ENDPOINT `pool\.internal:3000\?token=\*\*\*`/,
      );
      expect(() => parseCliArguments(['build'])).not.toThrow(/s3cret/);
    } finally {
      if (saved === undefined) delete process.env.BRIEFING_PACK_BROWSER_ENDPOINT;
      else process.env.BRIEFING_PACK_BROWSER_ENDPOINT = saved;
    }
  });
});

describe('the command line', () => {
  it('exits 2 with the usage on wrong usage', async () => {
    const run = await runCli(['build', '--nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: npm run <build|check|dev>');
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
    // Off a terminal, each stage is a line with its time, up to the one that failed.
    expect(run.stderr.split('\n').filter((line) => /^[a-z-]+ +\d+ ms/.test(line))).toEqual([
      expect.stringMatching(/^read +\d+ ms$/),
      expect.stringMatching(/^validate +\d+ ms$/),
      // The lock is taken before anything costly: the bodies are not converted for nothing.
      expect.stringMatching(/^lock +\d+ ms, failed$/),
    ]);
    expect(run.stderr).not.toContain('\r');
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

  it('refuses a pathological body on two threads within the parse budget, and checks every other', async () => {
    const dir = path.join(folder.dir, 'large-pathological');
    await generatePack(dir, { count: 44 });
    const briefing = (index: number) => path.join(dir, 'briefings', `${generatedId(index)}.md`);
    const append = async (index: number, text: string) =>
      writeFile(briefing(index), `${await readFile(briefing(index), 'utf8')}${text}`);
    // cmark's "nested strong emph": micromark needs minutes for this.
    await append(5, `\n${'*a **a '.repeat(5000)}b${' a** a*'.repeat(5000)}\n`);
    await append(6, `\n${'> '.repeat(140)}deep\n`);
    for (const index of [4, 7, 8, 9, 40]) await append(index, '\nSee [the map](#nope).\n');

    const twoThreads = await runCli(['check', '--source', dir, '--json', '--verbose']);
    const oneThread = await runCli(['check', '--source', dir, '--json'], {
      env: { BRIEFING_PACK_NO_BUNDLE: '1' },
    });
    expect(twoThreads.stderr).toContain('Checking 44 briefings on two threads');
    const messages = (run: { stdout: string }) =>
      JSON.parse(run.stdout).messages as Array<{ ruleId: string }>;
    expect(messages(twoThreads)).toEqual(messages(oneThread));
    expect(messages(twoThreads).map((message) => message.ruleId)).toEqual([
      'missing-anchor',
      'markdown-too-complex',
      'markdown-depth',
      'missing-anchor',
      'missing-anchor',
      'missing-anchor',
      'missing-anchor',
    ]);
  });

  it('finishes a build whose reader went away (`npm run build | head`), leaving nothing behind', async () => {
    const out = path.join(folder.dir, 'closed-pipes');
    // A temporary folder of the build's own, where its browser profile goes.
    const tmp = path.join(folder.dir, 'closed-pipes-tmp');
    await mkdir(tmp);
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          path.join(projectRoot, 'scripts', 'run.mjs'),
          'build',
          '--source',
          source,
          '--out',
          out,
          '--no-cache',
          '--verbose',
          '--json',
        ],
        { cwd: projectRoot, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      // The reader closes both pipes after the first line, as `head -1` would.
      child.stderr.once('data', () => {
        child.stdout.destroy();
        child.stderr.destroy();
      });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    expect(existsSync(path.join(out, 'manifest.json'))).toBe(true);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('prints a JSON report on stdout with --json and keeps stdout clean of human text', async () => {
    const run = await runCli(['check', '--source', source, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ command: 'check', ok: true, exitCode: 0, messages: [] });
    expect(Object.keys(report.timings)).toEqual(['read', 'validate', 'convert']);
  });
});

/** Every file under a folder with its bytes' digest and modification time, to prove nothing changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const digest = createHash('sha256')
      .update(await readFile(full))
      .digest('hex');
    result[path.relative(dir, full)] = `${digest} ${(await stat(full)).mtimeMs}`;
  }
  return result;
}

describe('a source with ten mistakes in three files', () => {
  it('reports all ten in one run, each at its line and column, exits 1 and leaves the output folder as it was', async () => {
    const dir = path.join(folder.dir, 'ten');
    const sourceDir = path.join(dir, 'source');
    await writeSource(
      sourceDir,
      [
        'title: Weekly pack',
        'date: 13 July 2025',
        'paper: a4',
        'briefings:',
        '  - trade-talks',
        '  - energy-prices',
        '  - energy-prics',
        '',
      ].join('\n'),
      [
        {
          name: 'trade-talks',
          text: [
            '---',
            'title: Trade talks resume',
            'date: 2025-07-13',
            'summary: Negotiators meet again after a month.',
            'tags: no',
            'regions: [Asia, Asia]',
            '---',
            '',
            'See [the outlook](#outlok).',
            '',
            'The ministers agreed.[^2]',
            '',
            '## Outlook',
            '',
            'Calm.',
            '',
          ].join('\n'),
        },
        {
          name: 'energy-prices',
          text: [
            '---',
            'title: Energy prices',
            'date:2025-07-13',
            'summary: Prices fell.',
            '---',
            '',
            '![](../assets/map.png)',
            '',
            '[^spare]: A note nobody cites.',
            '',
          ].join('\n'),
        },
      ],
      { 'assets/map.png': makePng(4, 4, [0, 0, 0]) },
    );
    const outDir = path.join(dir, 'out');
    await mkdir(path.join(outDir, 'briefings'), { recursive: true });
    await writeFile(path.join(outDir, 'pack.pdf'), '%PDF-1.7 an earlier build');
    await writeFile(path.join(outDir, 'briefings', 'trade-talks.pdf'), '%PDF-1.7 an earlier briefing');
    await writeFile(path.join(outDir, 'manifest.json'), '{"artifacts": []}\n');
    const before = await snapshot(outDir);

    const run = await runCli(['build', '--source', sourceDir, '--out', outDir, '--json'], { cwd: dir });

    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { messages: Array<Record<string, unknown>> };
    expect(
      report.messages.map(
        ({ file, line, column, severity, ruleId }) => `${file}:${line}:${column} ${severity} ${ruleId}`,
      ),
    ).toEqual([
      'source/briefings/energy-prices.md:3:1 error yaml-missing-space',
      'source/briefings/energy-prices.md:7:1 error image-alt',
      'source/briefings/energy-prices.md:9:1 error unused-footnote',
      'source/briefings/trade-talks.md:5:7 error field-type',
      'source/briefings/trade-talks.md:6:17 error duplicate-item',
      'source/briefings/trade-talks.md:9:5 error missing-anchor',
      'source/briefings/trade-talks.md:11:22 error missing-footnote',
      'source/pack.yaml:2:7 error date-format',
      'source/pack.yaml:3:8 error enum-value',
      'source/pack.yaml:7:5 error unknown-briefing',
    ]);
    expect(run.stderr).toContain('10 errors; nothing was written.');
    expect(
      run.stderr.split('\n').filter((line) => /^source\/\S+:\d+:\d+ +error {2}/.test(line)),
    ).toHaveLength(10);
    expect(await snapshot(outDir)).toEqual(before);
    expect((await readdir(dir)).sort()).toEqual(['out', 'source']);
  });
});

describe('front matter that tries to run code', () => {
  it('is refused and never runs, in check and in build', async () => {
    const dir = path.join(folder.dir, 'payload');
    const sentinel = path.join(dir, 'sentinel');
    const touch = `require('child_process').execSync('touch ${sentinel}')`;
    await writeSource(path.join(dir, 'source'), 'title: Pack\ndate: 2025-07-13\n', [
      { name: 'js', text: `---js\n{ title: ${touch}, date: '2025-07-13', summary: 'S' }\n---\n\nBody.\n` },
      { name: 'javascript', text: `---javascript\nmodule.exports = { title: ${touch} }\n---\n\nBody.\n` },
      { name: 'spaced', text: `--- js\n({ title: ${touch} })\n---\n\nBody.\n` },
      {
        name: 'tagged',
        text: `---\ntitle: !!js/function "function () { ${touch.replaceAll("'", '\\"')} }"\ndate: 2025-07-13\nsummary: S.\n---\n\nBody.\n`,
      },
    ]);
    for (const command of ['check', 'build']) {
      const run = await runCli(
        [command, '--source', path.join(dir, 'source'), '--out', path.join(dir, 'out')],
        {
          cwd: dir,
        },
      );
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /^source\/briefings\/js\.md:1:4 +error +Unexpected front matter engine `js`/m,
      );
      expect(run.stderr).toMatch(/^source\/briefings\/javascript\.md:1:4 +error .* front-matter-engine$/m);
      expect(run.stderr).toMatch(/^source\/briefings\/spaced\.md:1:4 +error .* front-matter-engine$/m);
      expect(run.stderr).toMatch(
        /^source\/briefings\/tagged\.md:2:8 +error +Unexpected YAML tag `!!js\/function`/m,
      );
      await expect(stat(sentinel)).rejects.toThrow(/ENOENT/);
    }
  });
});
