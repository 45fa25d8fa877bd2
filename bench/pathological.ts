/**
 * Pathological inputs: cmark's pathological tests (test/pathological_tests.py in commonmark/cmark),
 * a few of YAML's, and a 10 MB briefing (cmark's backticks case is cut to 1 500 runs so it fits the
 * 2 MiB briefing cap and reaches the parser), each validated by the real CLI (`node scripts/run.mjs check`)
 * in a child process of its own. Each must finish or be refused within 4 s of validation time and
 * 512 MiB of memory.
 *
 * Run: `npx tsx bench/pathological.ts`. Appends a table to `bench/RESULTS.md` ("pathological inputs").
 * Memory is the child's peak resident set, from `/usr/bin/time -v` when it exists, else by polling
 * `/proc/<pid>/status` (VmHWM). Validation time is the pipeline's own (read, validate, convert and
 * templates, from the `--json` report); wall time adds Node's and tsx's start-up.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const limits = { seconds: 4, mebibytes: 512 };

/** One input: a briefing body (or a whole file, for the size cases). */
interface Input {
  name: string;
  /** The Markdown body, after a valid header; or the whole file when `wholeFile` is set. */
  body: string;
  wholeFile?: boolean;
}

const header = '---\ntitle: Pathological\ndate: 2025-07-13\nsummary: A pathological input.\n---\n\n';

/** cmark's pathological cases, at cmark's sizes where they fit in the 2 MiB briefing cap. */
const inputs: Input[] = [
  { name: 'nested strong emph', body: `${'*a **a '.repeat(65_000)}b${' a** a*'.repeat(65_000)}` },
  { name: 'many emph closers with no openers', body: 'a_ '.repeat(65_000) },
  { name: 'many emph openers with no closers', body: '_a '.repeat(65_000) },
  { name: 'many 3-emph openers with no closers', body: '_**a '.repeat(65_000) },
  { name: 'many link closers with no openers', body: 'a]'.repeat(65_000) },
  { name: 'many link openers with no closers', body: '[a'.repeat(65_000) },
  { name: 'mismatched openers and closers', body: '*a_ '.repeat(50_000) },
  { name: 'openers and closers multiple of 3', body: `a**b${'c* '.repeat(50_000)}` },
  { name: 'link openers and emph closers', body: '[ a_'.repeat(50_000) },
  { name: 'pattern [ (]( repeated', body: '[ (]('.repeat(80_000) },
  { name: 'pattern ![[]() repeated', body: '![[]()'.repeat(160_000) },
  { name: 'hard link/emph case', body: '**x [a*b**c*](d)' },
  { name: 'nested brackets', body: `${'['.repeat(50_000)}a${']'.repeat(50_000)}` },
  { name: 'nested block quotes', body: `${'> '.repeat(50_000)}a` },
  {
    name: 'deeply nested lists',
    body: Array.from({ length: 1000 }, (_, depth) => `${'  '.repeat(depth)}* a`).join('\n'),
  },
  { name: 'U+0000 in input', body: 'abc\u0000de\u0000' },
  {
    name: 'backticks',
    body: Array.from({ length: 1500 }, (_, count) => `e${'`'.repeat(count + 1)}`).join(''),
  },
  { name: 'unclosed links A', body: '[a](<b'.repeat(30_000) },
  { name: 'unclosed links B', body: '[a](b'.repeat(30_000) },
  { name: 'unclosed <!--', body: `</${'<!--'.repeat(300_000)}` },
  {
    name: 'many references',
    body: `${Array.from({ length: 50_000 }, (_, i) => `[${i}]: u`).join('\n')}\n\n${'[0] '.repeat(50_000)}`,
  },
  {
    name: 'nested images and links',
    body: `${'![a]('.repeat(20_000)}x${')'.repeat(20_000)} ${'[![a](b)]('.repeat(20_000)}c${')'.repeat(20_000)}`,
  },
  {
    name: 'many footnotes',
    body: `${Array.from({ length: 20_000 }, (_, i) => `x[^${i}]`).join(' ')}\n\n${Array.from({ length: 20_000 }, (_, i) => `[^${i}]: n`).join('\n')}`,
  },
  {
    name: 'wide table',
    body: `|${' a |'.repeat(30_000)}\n|${'---|'.repeat(30_000)}\n|${' b |'.repeat(30_000)}`,
  },
  {
    name: 'YAML: 10 000 aliases',
    wholeFile: true,
    body: `---\ntitle: t\ndate: 2025-07-13\nsummary: s\nx: &a [1]\ntags: [${Array.from({ length: 10_000 }, () => '*a').join(', ')}]\n---\n\nBody.\n`,
  },
  {
    name: 'YAML: flow nesting 100 000 deep',
    wholeFile: true,
    body: `---\ntitle: t\ndate: 2025-07-13\nsummary: s\ntags: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n---\n\nBody.\n`,
  },
  {
    name: 'large ordinary briefing (1.9 MB)',
    body: 'A plain sentence of the body, with *some* emphasis and a [link](https://example.org).\n\n'.repeat(
      22_000,
    ),
  },
  {
    name: '10 MB briefing',
    body: 'A plain sentence of the body, repeated until the file is ten megabytes.\n\n'.repeat(140_000),
  },
];

interface Measure {
  exitCode: number;
  wallSeconds: number;
  validationSeconds: number | undefined;
  peakMebibytes: number;
  outcome: string;
}

/** Peak resident set of a process so far, from /proc, in KiB. */
async function peakKib(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function measure(sourceDir: string): Promise<Measure> {
  const useTime = existsSync('/usr/bin/time');
  const node = [
    process.execPath,
    path.join(root, 'scripts', 'run.mjs'),
    'check',
    '--source',
    sourceDir,
    '--json',
  ];
  const [command = '', ...args] = useTime ? ['/usr/bin/time', '-v', ...node] : node;
  const started = performance.now();
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  let polledKib = 0;
  const poll = setInterval(async () => {
    if (child.pid) polledKib = Math.max(polledKib, await peakKib(child.pid));
  }, 25);
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  clearInterval(poll);
  const wallSeconds = (performance.now() - started) / 1000;
  const timeKib = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? 0);
  let validationSeconds: number | undefined;
  let outcome = `exit ${exitCode}`;
  try {
    const report = JSON.parse(stdout) as {
      timings: Record<string, number>;
      messages: Array<{ severity: string; ruleId: string }>;
    };
    validationSeconds = Object.values(report.timings).reduce((sum, ms) => sum + ms, 0) / 1000;
    const rules = [...new Set(report.messages.filter((m) => m.severity === 'error').map((m) => m.ruleId))];
    outcome = exitCode === 0 ? 'valid' : `refused: ${rules.slice(0, 3).join(', ')}`;
  } catch {
    outcome = `no report (exit ${exitCode})`;
  }
  return {
    exitCode,
    wallSeconds,
    validationSeconds,
    peakMebibytes: Math.max(timeKib, polledKib) / 1024,
    outcome,
  };
}

async function main(): Promise<void> {
  // The machine may be shared: its load is part of the result.
  const loadBefore = os.loadavg()[0]?.toFixed(1);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'briefing-pack-bench-'));
  const rows: string[] = [];
  let failures = 0;
  try {
    for (const input of inputs) {
      const sourceDir = path.join(scratch, input.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase());
      await mkdir(path.join(sourceDir, 'briefings'), { recursive: true });
      await writeFile(path.join(sourceDir, 'pack.yaml'), 'title: Pathological\ndate: 2025-07-13\n');
      const text = input.wholeFile ? input.body : header + input.body;
      await writeFile(path.join(sourceDir, 'briefings', 'input.md'), text);
      const result = await measure(sourceDir);
      const seconds = result.validationSeconds ?? result.wallSeconds;
      const ok =
        (result.exitCode === 0 || result.exitCode === 1) &&
        seconds <= limits.seconds &&
        result.peakMebibytes <= limits.mebibytes;
      if (!ok) failures++;
      const size = Buffer.byteLength(text);
      const row = `| ${input.name} | ${(size / 1024).toFixed(0)} KiB | ${result.outcome} | ${result.validationSeconds?.toFixed(2) ?? '–'} | ${result.wallSeconds.toFixed(2)} | ${result.peakMebibytes.toFixed(0)} | ${ok ? 'yes' : '**no**'} |`;
      rows.push(row);
      process.stdout.write(`${row}\n`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const loadAfter = os.loadavg()[0]?.toFixed(1);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const machine = `${cpu}, ${os.availableParallelism()} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.versions.node}`;
  const table = [
    '',
    '## pathological inputs',
    '',
    `${new Date().toISOString().slice(0, 10)}, \`npx tsx bench/pathological.ts\`, on ${machine}; one \`node scripts/run.mjs check\` per input, run alone. Limits: ${limits.seconds} s of validation time, ${limits.mebibytes} MiB peak resident memory (${existsSync('/usr/bin/time') ? '/usr/bin/time -v' : 'VmHWM polled from /proc'}). Validation time is the report's read + validate + convert + templates; wall time adds the start of Node and tsx. Load average (1 min) ${loadBefore} before, ${loadAfter} after.`,
    '',
    '| input | size | outcome | validation s | wall s | peak MiB | within limits |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  const results = path.join(root, 'bench', 'RESULTS.md');
  await appendFile(results, table);
  // The linter formats Markdown too: leave the file as `npm run format` would, so `npm run lint` stays green.
  spawnSync(path.join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', results], { cwd: root });
  process.stdout.write(
    `\n${failures === 0 ? 'Every input finished' : `${failures} inputs did not finish`} within the limits.\n`,
  );
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
