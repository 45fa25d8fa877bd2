/**
 * Benchmark of `npm run build` (issue #9): the real command line on generated packs, as CI runs it.
 *
 *   npm run bench -- [--sizes 1,20,100,500] [--runs 3] [--once-from 500] [--write] [--json FILE] [--keep]
 *                    [--no-warmup] [--no-floor]
 *
 * For each size, a pack of that many briefings is made by `generatePack()` (`scripts/generate-pack.ts`,
 * default options) in a temporary folder, and each run measures, with
 * `node scripts/run.mjs build --source S --out O [--cache C] --json`:
 *
 * - cold: an empty cache folder and no output folder, so every artifact is made;
 * - no-change: the same command again, nothing changed;
 * - one-edit: one sentence of one briefing's body changed (one file), then the same command; the
 *   briefing is put back afterwards, so every cold run builds the same source;
 * - the floor: `bench/floor.ts`, one browser launched and each final document printed once, with the
 *   build's flags, page settings and concurrency, and nothing else.
 *
 * Times are wall times of the whole command (Node's start included) and the medians of `--runs` runs;
 * from `--once-from` briefings on, one cold build and one floor only (they are long). The cold build's
 * stages are timed from its `--json` report. During every command the whole process tree (the build's
 * Node process and every descendant: Chromium's processes) is sampled from /proc (RSS every 50 ms,
 * PSS within 5% of a core: see `bench/process-tree.ts`) and the peaks of the summed RSS and PSS kept.
 *
 * `--cache DIR` is passed only when `build --help` mentions it (the incremental cache), or when
 * `BENCH_CACHE=1` forces it (`BENCH_CACHE=0` never passes it). Without it, nothing outside the
 * benchmark's own temporary folder is removed. An untimed warm-up build of one briefing runs first
 * (it also lets `scripts/run.mjs` install anything missing), unless `--no-warmup`.
 *
 * Prints a table; with `--write`, replaces the `## build` section of `bench/RESULTS.md` (or appends it);
 * `--json FILE` writes every measure. A command that fails ends the runs of its size only: the failure
 * is noted under the tables and the benchmark exits 1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConcurrency } from '../pipeline/lib/browser.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { generatedId, generatePack } from '../scripts/generate-pack.ts';
import type { FloorResult } from './floor.ts';
import { markdownTable, replaceSection } from './markdown.ts';
import { type TreeMemory, TreeSampler } from './process-tree.ts';

const usage =
  'Usage: npm run bench -- [--sizes 1,20,100,500] [--runs 3] [--once-from 500] [--write] [--json FILE] [--keep]\n' +
  '                        [--no-warmup] [--no-floor]\n' +
  '(what each measures: the comment at the top of bench/build.ts)\n';

function parseOptions() {
  try {
    return parseArgs({
      options: {
        sizes: { type: 'string', default: '1,20,100,500' },
        runs: { type: 'string', default: '3' },
        'once-from': { type: 'string', default: '500' },
        write: { type: 'boolean', default: false },
        json: { type: 'string' },
        keep: { type: 'boolean', default: false },
        'no-warmup': { type: 'boolean', default: false },
        'no-floor': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    // An unknown option or a missing value: parseArgs's own words, then the usage.
    process.stderr.write(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

const values = parseOptions();
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const sizes = values.sizes
  .split(',')
  .map((size) => Number(size.trim()))
  .filter((size) => size > 0);
const runs = Number(values.runs);
const onceFrom = Number(values['once-from']);
if (sizes.length === 0 || sizes.some((size) => !Number.isInteger(size)) || !(runs >= 1)) {
  process.stderr.write(usage);
  process.exit(2);
}

type Kind = 'cold' | 'no-change' | 'one-edit' | 'floor';

/** One command measured. */
interface Measure {
  wallMs: number;
  memory: TreeMemory;
  /** The build's stage timings (`timings` of its `--json` report), or the floor's own. */
  stages: Record<string, number>;
}

interface SizeResult {
  briefings: number;
  runs: Record<Kind, Measure[]>;
  floor: FloorResult[];
  /** The first line of the error that ended this size's runs early. */
  error?: string;
}

const runMjs = path.join(projectRoot, 'scripts', 'run.mjs');
const floorScript = path.join(projectRoot, 'bench', 'floor.ts');
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Whether to pass `--cache DIR`: `BENCH_CACHE` decides, else whether `build --help` mentions it. */
function cacheSupported(): boolean {
  if (process.env.BENCH_CACHE === '1') return true;
  if (process.env.BENCH_CACHE === '0') return false;
  const help = spawnSync(process.execPath, [runMjs, 'build', '--help'], {
    cwd: projectRoot,
    encoding: 'utf8',
  });
  return /--cache\b/.test(`${help.stdout}`);
}

/** The command being measured, which a signal to the benchmark is passed on to. */
let running: ChildProcess | undefined;

/**
 * Runs a command, sampling its process tree; rejects on a non-zero exit. The wall time ends when the
 * process exits (not when its pipes close).
 */
async function measureCommand(
  args: string[],
): Promise<{ wallMs: number; memory: TreeMemory; stdout: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  running = child;
  const sampler = child.pid ? new TreeSampler(child.pid).start() : undefined;
  let stdout = '';
  let stderr = '';
  let wallMs = 0;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.on('exit', () => {
    wallMs = performance.now() - started;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  }).finally(() => {
    running = undefined;
  });
  const memory = (await sampler?.stop()) ?? {
    peakRssBytes: 0,
    peakPssBytes: undefined,
    peakProcesses: 0,
    samples: 0,
    pssSamples: 0,
  };
  if (code !== 0) {
    log(`\`node ${args.join(' ')}\` exited ${code}; its error output:\n${stderr.slice(-4000)}`);
    const command = args.includes(floorScript) ? 'bench/floor.ts' : 'build';
    throw new Error(`${command} exited ${code}: ${stderr.trim().split('\n')[0] ?? ''}`);
  }
  return { wallMs, memory, stdout };
}

interface BuildReport {
  timings?: Record<string, number>;
  manifest?: { generator?: { browser?: string } };
}

let browserVersion = '';

async function build(folders: Folders, useCache: boolean): Promise<Measure> {
  const args = [runMjs, 'build', '--source', folders.source, '--out', folders.out, '--json'];
  if (useCache) args.push('--cache', folders.cache);
  const { wallMs, memory, stdout } = await measureCommand(args);
  const report = JSON.parse(stdout) as BuildReport;
  browserVersion = report.manifest?.generator?.browser ?? browserVersion;
  return { wallMs, memory, stages: report.timings ?? {} };
}

async function floor(folders: Folders): Promise<{ measure: Measure; result: FloorResult }> {
  const { memory, stdout } = await measureCommand([
    '--import',
    'tsx',
    floorScript,
    '--source',
    folders.source,
    '--built',
    folders.built,
    '--json',
  ]);
  const result = JSON.parse(stdout) as FloorResult;
  if (result.pageMismatches && result.pageMismatches.length > 0) {
    throw new Error(`the floor printed other pages than the build:\n${result.pageMismatches.join('\n')}`);
  }
  const stages = { launch: result.launchMs, print: result.printMs, close: result.closeMs };
  // The floor's time is what it times itself: launch, print, close (not Node's start nor stages 1–4).
  return { measure: { wallMs: result.totalMs, memory, stages }, result };
}

interface Folders {
  source: string;
  out: string;
  cache: string;
  /** A copy of the cold build's manifest.json and pack.pdf, for the floor. */
  built: string;
}

/**
 * Changes one sentence of one briefing's body (the middle briefing's first sentence) and returns how
 * to put it back.
 */
async function editOneSentence(folders: Folders, count: number, run: number): Promise<() => Promise<void>> {
  const file = path.join(folders.source, 'briefings', `${generatedId(Math.floor((count - 1) / 2))}.md`);
  const original = await readFile(file, 'utf8');
  const bodyStart = original.indexOf('\n---\n', 4) + 5;
  const body = original.slice(bodyStart);
  const edited = body.replace(/^[A-Z][^.\n]*\./m, `The benchmark changed this sentence, run ${run}.`);
  if (edited === body) throw new Error(`no sentence to edit in ${file}`);
  await writeFile(file, original.slice(0, bodyStart) + edited);
  return () => writeFile(file, original);
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mebibytes = (bytes: number | undefined) =>
  bytes === undefined ? '–' : `${Math.round(bytes / 2 ** 20)}`;
const loadAverage = () =>
  os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');

function git(...args: string[]): string {
  return spawnSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).stdout.trim();
}

// ---------------------------------------------------------------------------------------------------

const started = new Date();
const useCache = cacheSupported();
const concurrency = defaultConcurrency();
const loadBefore = loadAverage();
const commit = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' with uncommitted changes' : ''}`;
const dir = await mkdtemp(path.join(os.tmpdir(), 'briefing-pack-bench-build-'));
const results: SizeResult[] = [];
log(`Benchmark folder: ${dir}`);
// Ctrl-C or SIGTERM: the command in progress gets the signal too and stops cleanly (a build removes its
// staging folder and kills its browser); then the benchmark's folder is removed.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const child = running;
    const finish = () => {
      if (!values.keep) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    if (!child || child.exitCode !== null) finish();
    else {
      child.once('exit', finish);
      child.kill(signal);
    }
  });
}
log(
  useCache
    ? 'The build has --cache: each size gets its own cache folder.'
    : 'The build has no --cache option.',
);
try {
  if (!values['no-warmup']) {
    const folders = await makeFolders(0, 1);
    log('Warm-up build of one briefing (untimed)…');
    await build(folders, useCache);
  }
  for (const count of sizes) {
    const folders = await makeFolders(count, count);
    const result: SizeResult = {
      briefings: count,
      runs: { cold: [], 'no-change': [], 'one-edit': [], floor: [] },
      floor: [],
    };
    results.push(result);
    const full = count < onceFrom;
    const runsHere = full ? runs : 1;
    try {
      for (let run = 1; run <= runsHere; run++) {
        // Cold: nothing but the source. Both folders are the benchmark's own.
        await rm(folders.out, { recursive: true, force: true });
        await rm(folders.cache, { recursive: true, force: true });
        await mkdir(folders.cache, { recursive: true });
        const cold = await build(folders, useCache);
        result.runs.cold.push(cold);
        log(
          `${count} briefings, run ${run}: cold ${seconds(cold.wallMs)}, peak RSS ${mebibytes(cold.memory.peakRssBytes)} MiB`,
        );
        if (!existsSync(path.join(folders.built, 'manifest.json'))) {
          await mkdir(folders.built, { recursive: true });
          await copyFile(path.join(folders.out, 'manifest.json'), path.join(folders.built, 'manifest.json'));
          await copyFile(path.join(folders.out, 'pack.pdf'), path.join(folders.built, 'pack.pdf'));
        }
        if (full) {
          const unchanged = await build(folders, useCache);
          result.runs['no-change'].push(unchanged);
          log(`${count} briefings, run ${run}: no-change ${seconds(unchanged.wallMs)}`);
          const restore = await editOneSentence(folders, count, run);
          try {
            const edited = await build(folders, useCache);
            result.runs['one-edit'].push(edited);
            log(`${count} briefings, run ${run}: one-edit ${seconds(edited.wallMs)}`);
          } finally {
            await restore();
          }
        }
        if (!values['no-floor']) {
          const { measure, result: floorResult } = await floor(folders);
          result.runs.floor.push(measure);
          result.floor.push(floorResult);
          browserVersion ||= floorResult.browser;
          log(`${count} briefings, run ${run}: floor ${seconds(measure.wallMs)}`);
        }
      }
    } catch (error) {
      // A failed command ends this size only: the sizes measured so far, and the next ones, are kept.
      result.error = (error as Error).message.split('\n')[0] ?? String(error);
      log(`${count} briefings: failed: ${result.error}`);
    }
  }
} finally {
  if (values.keep) log(`Kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
const loadAfter = loadAverage();

async function makeFolders(name: number, count: number): Promise<Folders> {
  const base = path.join(dir, `pack-${name}`);
  const folders: Folders = {
    source: path.join(base, 'source'),
    out: path.join(base, 'out'),
    cache: path.join(base, 'cache'),
    built: path.join(base, 'built'),
  };
  await generatePack(folders.source, { count });
  return folders;
}

// ---------------------------------------------------------------------------------------------------

const cpus = os.cpus();
const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}, ${browserVersion || 'browser unknown'}`;
const medianOf = (measures: Measure[]) =>
  measures.length === 0 ? '–' : seconds(median(measures.map((measure) => measure.wallMs)));
const runsOf = (measures: Measure[]) =>
  measures.length <= 1
    ? ''
    : ` (${measures.map((measure) => (measure.wallMs / 1000).toFixed(1)).join(', ')})`;

const summary = markdownTable(
  [
    'briefings',
    'cold',
    'no-change',
    'one-edit',
    'floor',
    'cold / floor',
    'peak RSS, cold (MiB)',
    'peak PSS, cold (MiB)',
    'processes',
  ],
  results.map((result) => {
    const cold = result.runs.cold;
    const coldMs = median(cold.map((measure) => measure.wallMs));
    const floorMs = median(result.runs.floor.map((measure) => measure.wallMs));
    const peak = (pick: (memory: TreeMemory) => number | undefined) => {
      const found = cold.map((measure) => pick(measure.memory));
      return found.length === 0 || found.some((value) => value === undefined)
        ? undefined
        : Math.max(...(found as number[]));
    };
    return [
      String(result.briefings),
      `${medianOf(cold)}${runsOf(cold)}`,
      `${medianOf(result.runs['no-change'])}${runsOf(result.runs['no-change'])}`,
      `${medianOf(result.runs['one-edit'])}${runsOf(result.runs['one-edit'])}`,
      `${medianOf(result.runs.floor)}${runsOf(result.runs.floor)}`,
      cold.length > 0 && result.runs.floor.length > 0 ? `${(coldMs / floorMs).toFixed(2)}×` : '–',
      mebibytes(peak((memory) => memory.peakRssBytes)),
      mebibytes(peak((memory) => memory.peakPssBytes)),
      cold.length > 0 ? String(Math.max(...cold.map((measure) => measure.memory.peakProcesses))) : '–',
    ];
  }),
  [true, true, true, true, true, true, true, true, true],
);

/** Per-stage medians (ms) of the builds, from their `--json` reports, and the floor's own split. */
const stageNames: string[] = [];
for (const result of results)
  for (const kind of ['cold', 'no-change', 'one-edit'] as const)
    for (const measure of result.runs[kind])
      for (const name of Object.keys(measure.stages)) if (!stageNames.includes(name)) stageNames.push(name);
const stageRows: string[][] = [];
for (const result of results) {
  for (const kind of ['cold', 'no-change', 'one-edit', 'floor'] as const) {
    const measures = result.runs[kind];
    if (measures.length === 0) continue;
    const cell = (name: string) => {
      const found = measures.map((measure) => measure.stages[name]).filter((ms) => ms !== undefined);
      return found.length === 0 ? '' : String(Math.round(median(found)));
    };
    const stageSum = median(
      measures.map((measure) => Object.values(measure.stages).reduce((sum, ms) => sum + ms, 0)),
    );
    stageRows.push([
      String(result.briefings),
      kind,
      ...stageNames.map((name) =>
        kind === 'floor'
          ? name === 'browser'
            ? cell('launch')
            : name === 'print'
              ? cell('print')
              : ''
          : cell(name),
      ),
      String(Math.round(stageSum)),
      String(Math.round(median(measures.map((measure) => measure.wallMs)))),
    ]);
  }
}
const stages = markdownTable(['briefings', 'run', ...stageNames, 'stages', 'wall'], stageRows, [
  false,
  false,
  ...stageNames.map(() => true),
  true,
  true,
]);

const memoryRows: string[][] = [];
for (const result of results) {
  for (const kind of ['cold', 'no-change', 'one-edit', 'floor'] as const) {
    const measures = result.runs[kind];
    if (measures.length === 0) continue;
    const pss = measures.map((measure) => measure.memory.peakPssBytes);
    memoryRows.push([
      String(result.briefings),
      kind,
      mebibytes(Math.max(...measures.map((measure) => measure.memory.peakRssBytes))),
      mebibytes(pss.some((value) => value === undefined) ? undefined : Math.max(...(pss as number[]))),
      String(Math.max(...measures.map((measure) => measure.memory.peakProcesses))),
      `${Math.min(...measures.map((measure) => measure.memory.samples))} / ${Math.min(...measures.map((measure) => measure.memory.pssSamples))}`,
    ]);
  }
}
const memory = markdownTable(
  ['briefings', 'run', 'peak RSS (MiB)', 'peak PSS (MiB)', 'processes', 'samples (RSS / PSS)'],
  memoryRows,
  [false, false, true, true, true, true],
);

const finished = new Date();
const section = [
  '## build',
  '',
  `${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, \`npm run bench -- --sizes ${sizes.join(',')} --runs ${runs} --once-from ${onceFrom}\` (\`bench/build.ts\`) at commit \`${commit}\`, ${Math.round((finished.getTime() - started.getTime()) / 60_000)} min in all.`,
  '',
  `**Machine.** ${machine}. Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}. Pages printed at once: ${concurrency} (the build's default, the number of cores), in the build and in the floor.`,
  '',
  `Each pack is made by \`generatePack()\` (default options). Times are wall times of \`node scripts/run.mjs build --source S --out O${useCache ? ' --cache C' : ''} --json\`, Node's start included: ${runs === 1 ? 'one run' : `the median of ${runs} runs (each run in brackets)`}${runs > 1 && sizes.some((size) => size >= onceFrom) ? `; from ${onceFrom} briefings, one cold build and one floor, and no rebuilds` : ''}. **cold**: no output folder${useCache ? ' and an empty cache folder' : ' (the build has no `--cache` option: there is no cache to empty)'}; **no-change**: the same command again; **one-edit**: one sentence of one briefing's body changed, then the same command. **floor**: \`bench/floor.ts\` launches Chromium once with the build's flags and prints each final document of the build once (the pack with its final page numbers, each brief at its final fit step; their page counts are checked against the build's) with the same page settings and concurrency, and nothing else; its time is launch + printing + closing the browser, without Node's start or stages 1–4, which it runs untimed to get the documents.`,
  '',
  ...summary,
  '',
  'Stages, in ms (median), from the build\'s `--json` report (`timings`); "stages" is their sum and "wall" the whole command. For the floor, "browser" is its launch and "print" its printing.',
  '',
  ...stages,
  '',
  "Memory: the build's Node process and every descendant (Chromium's processes), sampled from /proc: RSS every 50 ms (`statm`), PSS as often as reading it costs at most 5% of one core (`smaps_rollup` walks each process's page tables), so from fewer samples; the peak of the sum over the tree, the highest of the runs. RSS counts a page shared between processes (Chromium's code, shared memory) once per process, so the RSS sum overstates the real use; PSS (`/proc/<pid>/smaps_rollup`) shares each such page out between the processes that map it, and is the fairer sum (\"–\" where it could not be read).",
  '',
  ...memory,
  '',
  ...results
    .filter((result) => result.error !== undefined)
    .flatMap((result) => [`**Failed** at ${result.briefings} briefings: ${result.error}`, '']),
].join('\n');

process.stdout.write(`\n${section}\n`);

if (values.json) {
  await writeFile(
    values.json,
    `${JSON.stringify({ started, finished, commit, machine, loadBefore, loadAfter, useCache, concurrency, results }, null, 2)}\n`,
  );
}

if (values.write) {
  const file = path.join(projectRoot, 'bench', 'RESULTS.md');
  const text = existsSync(file) ? await readFile(file, 'utf8') : '# Benchmark results\n';
  await writeFile(file, replaceSection(text, section));
  log(`Wrote the "## build" section of ${path.relative(process.cwd(), file)}`);
}
if (results.some((result) => result.error !== undefined)) process.exitCode = 1;
