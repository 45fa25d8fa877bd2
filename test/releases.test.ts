/**
 * Releases CI can trust (issue 8): byte-reproducible builds whatever the time zone and locale, and
 * real faults survived — Chromium killed while printing, a hung page, the build killed while writing,
 * a full disk, a read-only output folder, two builds at once. After each: a non-zero exit naming the
 * document and the phase, the output folder byte-identical to before, no staging folder, no Chromium
 * of the build left, and the next build succeeds.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processTree } from '../bench/process-tree.ts';
import { projectRoot } from '../pipeline/lib/project.ts';
import { runCli, snapshot, temporaryFolder } from './helpers.ts';

const epoch = '1752364800';
const repetitions = 3;

let folder: { dir: string; remove: () => Promise<void> };
let sourceDir: string;
let cacheDir: string;

/**
 * Options of a build that takes its PDFs from the build cache, for the faults that are not about
 * printing (killed while writing, a full disk, a read-only folder) and the builds after a fault: such
 * a build reaches the write in a second or two. The cache's record of the last output is removed
 * first, so the build does not stop at "up to date" but writes (or fails to) as the test needs.
 */
async function cached(): Promise<string[]> {
  await rm(path.join(cacheDir, 'outputs'), { recursive: true, force: true });
  return ['--cache', cacheDir];
}

/** A build as a child process whose Chromium runs under its own TMPDIR, so the test can find it. */
interface RunningBuild {
  child: ChildProcess;
  tmp: string;
  stderr: () => string;
  done: Promise<number>;
}

let runs = 0;

async function startBuild(args: string[]): Promise<RunningBuild> {
  const tmp = path.join(folder.dir, `tmp-${++runs}`);
  await mkdir(tmp, { recursive: true });
  const child = spawn(process.execPath, [path.join(projectRoot, 'scripts', 'run.mjs'), 'build', ...args], {
    env: { ...process.env, SOURCE_DATE_EPOCH: epoch, TMPDIR: tmp },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1))),
  );
  return { child, tmp, stderr: () => stderr, done };
}

/** Resolves as soon as the build prints a line matching `pattern` on stderr (checked as each chunk comes). */
function waitFor(build: RunningBuild, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    if (pattern.test(build.stderr())) return resolve();
    const stream = build.child.stderr;
    const check = () => {
      if (!pattern.test(build.stderr())) return;
      stream?.off('data', check);
      resolve();
    };
    // Added after the listener that collects the text, so it sees each chunk already appended.
    stream?.on('data', check);
  });
}

/** Process ids of the Chromium of a build (found by its profile folder under the build's TMPDIR). */
function chromiumOf(tmp: string): number[] {
  let roots: number[];
  try {
    roots = execFileSync('pgrep', ['-f', `${tmp}/briefing-pack-profile`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  // Their descendants too: a headless shell's renderers do not repeat the profile folder.
  return [...new Set(roots.flatMap((root) => processTree(root)))];
}

/** Sends a signal to the build's Chromium processes, again and again, until the build ends. */
function harass(build: RunningBuild, signal: NodeJS.Signals, only?: RegExp): () => void {
  const timer = setInterval(() => {
    for (const pid of chromiumOf(build.tmp)) {
      if (only) {
        let command = '';
        try {
          command = execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
        } catch {
          continue;
        }
        if (!only.test(command)) continue;
      }
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
  }, 50);
  return () => clearInterval(timer);
}

async function noChromiumLeft(tmp: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (chromiumOf(tmp).length > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 200));
  expect(chromiumOf(tmp), 'Chromium processes of the build 10 s after it ended').toEqual([]);
}

async function stagingLeft(outDir: string): Promise<string[]> {
  return (await readdir(path.dirname(outDir))).filter((name) =>
    name.startsWith(`.${path.basename(outDir)}.staging`),
  );
}

async function buildOnce(source: string, outDir: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []) {
  return runCli(['build', '--source', source, '--out', outDir, ...extra], {
    env: { SOURCE_DATE_EPOCH: epoch, ...env },
  });
}

/** How a failed print names the document and the phase it was in. */
const browserFailure =
  /print \(([\w-]+\/)?[\w-]+\.html\): Chromium (did not finish [\w/-]+\.html within \d+ s, during (load|fonts|print)|failed during (load|fonts|print) of [\w/-]+\.html)/;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

beforeAll(async () => {
  folder = await temporaryFolder();
  sourceDir = path.join(folder.dir, 'source');
  cacheDir = path.join(folder.dir, 'cache');
  await cp(path.join(projectRoot, 'source'), sourceDir, { recursive: true });
});

afterAll(async () => {
  await folder?.remove();
});

describe('a release build', () => {
  it('is byte-identical whatever the time zone and locale, and SHA256SUMS checks', async () => {
    const first = path.join(folder.dir, 'utc');
    const second = path.join(folder.dir, 'auckland');
    const [a, b] = await Promise.all([
      buildOnce(sourceDir, first, { TZ: 'UTC', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }),
      buildOnce(sourceDir, second, { TZ: 'Pacific/Auckland', LANG: 'fr_FR.UTF-8', LC_ALL: 'fr_FR.UTF-8' }),
    ]);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const left = await snapshot(first);
    expect(Object.keys(left).length).toBeGreaterThan(10);
    expect(await snapshot(second)).toEqual(left);
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: first, encoding: 'utf8' })).not.toMatch(
      /FAILED/,
    );
    const manifest = JSON.parse(await readFile(path.join(first, 'manifest.json'), 'utf8'));
    expect(manifest.sourceDateEpoch).toBe(Number(epoch));
  });
});

describe('faults survived', () => {
  let outDir: string;
  let before: Record<string, string>;

  beforeAll(async () => {
    outDir = path.join(folder.dir, 'dist');
    expect((await buildOnce(sourceDir, outDir, {}, await cached())).code).toBe(0);
    before = await snapshot(outDir);
  });

  async function expectUntouched(build: RunningBuild): Promise<void> {
    expect(await snapshot(outDir)).toEqual(before);
    expect(await stagingLeft(outDir)).toEqual([]);
    await noChromiumLeft(build.tmp);
  }

  async function expectNextBuildSucceeds(): Promise<void> {
    const run = await buildOnce(sourceDir, outDir, {}, await cached());
    expect(run.code, run.stderr).toBe(0);
    expect(await snapshot(outDir)).toEqual(before);
    expect(await stagingLeft(outDir)).toEqual([]);
  }

  it('Chromium killed while printing: fails naming the document and phase', {
    timeout: 600_000,
  }, async () => {
    for (let round = 0; round < repetitions; round++) {
      const build = await startBuild(['--source', sourceDir, '--out', outDir, '--verbose']);
      // From the moment printing starts (before it, the fault would be one of launching).
      await waitFor(build, /^Printing \d+ documents/m);
      const stop = harass(build, 'SIGKILL');
      const code = await build.done;
      stop();
      expect(code).not.toBe(0);
      expect(build.stderr(), build.stderr()).toMatch(browserFailure);
      await expectUntouched(build);
    }
    await expectNextBuildSucceeds();
  });

  it('a hung page: the watchdog kills Chromium, retries once, then fails naming the document and phase', {
    timeout: 600_000,
  }, async () => {
    for (let round = 0; round < repetitions; round++) {
      const build = await startBuild(['--source', sourceDir, '--out', outDir, '--timeout', '2']);
      const stop = harass(build, 'SIGSTOP', /--type=renderer/);
      const code = await build.done;
      stop();
      expect(code).not.toBe(0);
      expect(build.stderr(), build.stderr()).toMatch(browserFailure);
      await expectUntouched(build);
    }
    await expectNextBuildSucceeds();
  });

  it('the build killed while writing: the output stays as it was', { timeout: 900_000 }, async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      // A round counts when the signal lands before the write stage ends; on a busy machine it can
      // come late (the write of a cached build takes tens of milliseconds), and the round is run again.
      let landed = 0;
      for (let attempt = 0; landed < repetitions && attempt < repetitions * 5; attempt++) {
        const build = await startBuild([
          '--source',
          sourceDir,
          '--out',
          outDir,
          '--verbose',
          ...(await cached()),
        ]);
        await waitFor(build, /^Writing \d+ files into/m);
        build.child.kill(signal);
        const code = await build.done;
        // The write stage ended, and not with ", failed".
        const late = /^write\s+\d+ ms$/m.test(build.stderr());
        if (!late) {
          landed++;
          expect(code, build.stderr()).not.toBe(0);
        }
        expect(await snapshot(outDir)).toEqual(before);
        // SIGTERM cleans up at once; after SIGKILL the next build removes what the dead one left.
        if (signal === 'SIGTERM' || late) expect(await stagingLeft(outDir)).toEqual([]);
        await noChromiumLeft(build.tmp);
      }
      expect(landed, `${signal} sent during the write in ${landed} of ${repetitions} rounds`).toBe(
        repetitions,
      );
      await expectNextBuildSucceeds();
    }
  });

  it('two builds at once: the second is refused with a clear message', { timeout: 600_000 }, async () => {
    for (let round = 0; round < repetitions; round++) {
      const first = await startBuild(['--source', sourceDir, '--out', outDir]);
      const lock = path.join(path.dirname(outDir), `.${path.basename(outDir)}.lock`);
      while (!(await readdir(path.dirname(outDir))).includes(path.basename(lock))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const second = await buildOnce(sourceDir, outDir);
      expect(second.code).toBe(3);
      expect(second.stderr).toMatch(
        /Another build \(process \d+\) is writing to `.*dist`; wait for it to finish/,
      );
      expect(await first.done).toBe(0);
      await expectUntouched(first);
    }
    await expectNextBuildSucceeds();
  });

  // Mounting a small or read-only tmpfs needs root (CI runs as root); elsewhere these two are skipped.
  describe('on a file system of its own', () => {
    let mountPoint: string;
    let smallOut: string;
    let smallBefore: Record<string, string>;

    beforeAll(async () => {
      if (!isRoot) return;
      mountPoint = path.join(folder.dir, 'mount');
      await mkdir(mountPoint);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mountPoint]);
      smallOut = path.join(mountPoint, 'dist');
      expect((await buildOnce(sourceDir, smallOut, {}, await cached())).code).toBe(0);
      smallBefore = await snapshot(smallOut);
    });

    afterAll(() => {
      if (mountPoint) execFileSync('umount', ['-l', mountPoint]);
    });

    it.skipIf(!isRoot)(
      'a full disk: fails naming the file, leaves the output as it was',
      { timeout: 600_000 },
      async () => {
        // Shrink the file system to what the previous output already uses: the next write cannot fit.
        const used = Number(execFileSync('du', ['-sk', mountPoint], { encoding: 'utf8' }).split('\t')[0]);
        execFileSync('mount', ['-o', `remount,size=${used + 64}k`, mountPoint]);
        for (let round = 0; round < repetitions; round++) {
          const build = await startBuild(['--source', sourceDir, '--out', smallOut, ...(await cached())]);
          const code = await build.done;
          expect(code).toBe(3);
          expect(build.stderr()).toMatch(/write: No space left on the device while writing `[^`]+`/);
          expect(await snapshot(smallOut)).toEqual(smallBefore);
          expect(await stagingLeft(smallOut)).toEqual([]);
          await noChromiumLeft(build.tmp);
        }
        execFileSync('mount', ['-o', 'remount,size=64m', mountPoint]);
        expect((await buildOnce(sourceDir, smallOut, {}, await cached())).code).toBe(0);
        expect(await snapshot(smallOut)).toEqual(smallBefore);
      },
    );

    it.skipIf(!isRoot)(
      'a read-only output folder: refused before printing, output as it was',
      {
        timeout: 600_000,
      },
      async () => {
        execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
        try {
          for (let round = 0; round < repetitions; round++) {
            const build = await startBuild(['--source', sourceDir, '--out', smallOut, ...(await cached())]);
            const code = await build.done;
            expect(code).toBe(3);
            expect(build.stderr()).toMatch(/lock: Cannot (write beside|replace) the output folder/);
            expect(await snapshot(smallOut)).toEqual(smallBefore);
            await noChromiumLeft(build.tmp);
          }
        } finally {
          execFileSync('mount', ['-o', 'remount,rw', mountPoint]);
        }
        expect((await buildOnce(sourceDir, smallOut, {}, await cached())).code).toBe(0);
        expect(await snapshot(smallOut)).toEqual(smallBefore);
      },
    );
  });
});
