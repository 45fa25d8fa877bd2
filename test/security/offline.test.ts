/**
 * Offline and confined: the founding pack builds with no network at all. The real CLI runs in a new,
 * empty network namespace (`unshare -n`, util-linux), where not even loopback is up, so any connection
 * the pipeline or its browser tried to open would fail the build.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../pipeline/08-write-output.ts';
import { projectRoot } from '../../pipeline/lib/project.ts';
import { type CliRun, temporaryFolder } from '../helpers.ts';

/** Why `unshare -n` cannot run here, or undefined when it can (it needs root or user namespaces). */
function unshareUnavailable(): string | undefined {
  const probe = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' });
  if (probe.error) return `unshare is not installed (${probe.error.message}); install util-linux`;
  if (probe.status !== 0) return `unshare -n is not permitted here: ${probe.stderr.trim()}`;
  return undefined;
}

const unavailable = unshareUnavailable();
if (unavailable) console.warn(`Skipping the offline build: ${unavailable}`);

function runCliWithoutNetwork(args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'unshare',
      ['-n', process.execPath, path.join(projectRoot, 'scripts', 'run.mjs'), ...args],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe.skipIf(unavailable !== undefined)('a build with the network namespace removed (unshare -n)', () => {
  let folder: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    folder = await temporaryFolder();
  });
  afterAll(async () => {
    await folder?.remove();
  });

  it('has no network to use: only a loopback interface, and it is down', () => {
    const links = spawnSync('unshare', ['-n', 'cat', '/proc/net/dev'], { encoding: 'utf8' }).stdout;
    const interfaces = links
      .split('\n')
      .slice(2)
      .map((line) => line.split(':')[0]?.trim())
      .filter(Boolean);
    expect(interfaces).toEqual(['lo']);
  });

  it('builds the founding pack', async () => {
    const sourceDir = path.join(folder.dir, 'source');
    const outDir = path.join(folder.dir, 'out');
    await cp(path.join(projectRoot, 'source'), sourceDir, { recursive: true });
    const run = await runCliWithoutNetwork(['build', '--source', sourceDir, '--out', outDir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(outDir, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.artifacts.map((artifact) => artifact.kind).sort()).toEqual(
      ['brief-pdf', 'briefing-brief-pdf', 'briefing-pdf', 'epub', 'html', 'pack-pdf'].sort(),
    );
    expect(JSON.parse(run.stdout).messages).toEqual([]);
  });
});
