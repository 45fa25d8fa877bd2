/**
 * Benchmark of `npm run check` on 500 generated briefings: the real command line, as an author runs it.
 *
 *   npx tsx bench/check.ts [--count 500] [--runs 3] [--all-features]
 *
 * Generates the briefings with `generatePack()` into a temporary folder, runs
 * `node scripts/run.mjs check --source …` once untimed (it makes the bundle `check` runs from when the
 * pipeline changed since the last check, a one-off per change), then `--runs` times timed, and prints
 * each wall time and the median. A browser is never launched: the browser settings point at a path
 * that does not exist, so any attempt would fail the run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../pipeline/lib/project.ts';
import { generatePack } from '../scripts/generate-pack.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
    'all-features': { type: 'boolean', default: false },
  },
});
const count = Number(values.count);
const runs = Number(values.runs);
const allFeatures = values['all-features'] === true;

const noBrowser = '/nonexistent/no-browser-in-a-check';

/** Runs the check once; returns its wall time in milliseconds. */
function timeCheck(sourceDir: string): number {
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    [path.join(projectRoot, 'scripts', 'run.mjs'), 'check', '--source', sourceDir],
    {
      cwd: projectRoot,
      encoding: 'utf8',
      env: { ...process.env, BRIEFING_PACK_BROWSER: noBrowser, PUPPETEER_EXECUTABLE_PATH: noBrowser },
    },
  );
  const elapsed = performance.now() - started;
  if (result.status !== 0) {
    throw new Error(`check exited ${result.status}:\n${result.stderr}`);
  }
  return elapsed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'briefing-pack-bench-'));
try {
  const sourceDir = path.join(dir, 'source');
  await generatePack(sourceDir, {
    count,
    ...(allFeatures ? { tables: true, footnotes: true, images: true, cyrillic: true, hangul: true } : {}),
  });
  const cpus = os.cpus();
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`,
  );
  console.log(
    `load average before: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
  console.log(`source: ${count} generated briefings${allFeatures ? ' with every feature' : ''}`);
  console.log(`untimed first run: ${Math.round(timeCheck(sourceDir))} ms`);
  const times: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const elapsed = timeCheck(sourceDir);
    times.push(elapsed);
    console.log(`run ${run}: ${Math.round(elapsed)} ms`);
  }
  console.log(
    `load average after: ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );
  console.log(`median of ${runs}: ${Math.round(median(times))} ms`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
