/**
 * The benchmark's own machinery: the process-tree memory sampler and the section it writes into
 * `bench/RESULTS.md`, and its command line's answers to `--help` and to a mistake. (The benchmark itself,
 * `npm run bench`, is too long for the suite.)
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { markdownTable, replaceSection } from '../bench/markdown.ts';
import { processTree, TreeSampler, treePss, treeRss } from '../bench/process-tree.ts';
import { projectRoot } from '../pipeline/lib/project.ts';

describe('process tree', () => {
  it('finds the descendants of a process and sums their memory', async () => {
    // A shell with two sleeping children: three processes in the tree.
    const child = spawn('sh', ['-c', 'sleep 3 & sleep 3 & wait'], { stdio: 'ignore' });
    try {
      const pid = child.pid as number;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const tree = processTree(pid);
      expect(tree[0]).toBe(pid);
      expect(tree).toHaveLength(3);
      const { rss, processes, pids } = treeRss(pid);
      expect(processes).toBe(3);
      expect(pids).toEqual(tree);
      expect(rss).toBeGreaterThan(0);
      const pss = await treePss(pids);
      // Readable for our own processes; PSS shares out what RSS counts once per process.
      expect(pss).toBeGreaterThan(0);
      expect(pss).toBeLessThanOrEqual(rss);

      const sampler = new TreeSampler(pid, 20).start();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const memory = await sampler.stop();
      expect(memory.peakProcesses).toBe(3);
      expect(memory.samples).toBeGreaterThan(3);
      expect(memory.pssSamples).toBeGreaterThan(0);
      expect(memory.peakRssBytes).toBeGreaterThanOrEqual(rss / 2);
      expect(memory.peakPssBytes).toBeGreaterThan(0);
    } finally {
      child.kill();
    }
  });

  it('is empty for a process that does not exist', () => {
    expect(treeRss(2 ** 22 + 1)).toEqual({ rss: 0, processes: 0, pids: [] });
  });
});

describe('results file', () => {
  const section = '## build\n\nNew text.\n';

  it('appends the section when there is none', () => {
    expect(replaceSection('# Results\n\n## check\n\nOld.\n', section)).toBe(
      '# Results\n\n## check\n\nOld.\n\n## build\n\nNew text.\n',
    );
  });

  it('replaces the section, keeping the ones around it', () => {
    const text = '# Results\n\n## build\n\nOld build.\n\n| a |\n\n## check\n\nOld check.\n';
    expect(replaceSection(text, section)).toBe(
      '# Results\n\n## build\n\nNew text.\n\n## check\n\nOld check.\n',
    );
  });

  it('replaces the last section', () => {
    expect(replaceSection('# Results\n\n## build\n\nOld.\n', section)).toBe(
      '# Results\n\n## build\n\nNew text.\n',
    );
  });

  it('pads tables as Biome does', () => {
    expect(markdownTable(['size', 'time'], [['1', '2.0 s']], [false, true])).toEqual([
      '| size |  time |',
      '| ---- | ----: |',
      '| 1    | 2.0 s |',
    ]);
  });
});

describe('the command line', () => {
  const bench = (...args: string[]) =>
    spawnSync(path.join(projectRoot, 'node_modules', '.bin', 'tsx'), ['bench/build.ts', ...args], {
      cwd: projectRoot,
      encoding: 'utf8',
    });

  it('prints its usage on --help, and nothing else runs', () => {
    const run = bench('--help');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: npm run bench -- \[--sizes 1,20,100,500\]/);
    expect(run.stderr).toBe('');
  });

  it('names an unknown option and shows the usage, without a stack trace', () => {
    const run = bench('--frobnicate');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("Unknown option '--frobnicate'");
    expect(run.stderr).toContain('Usage: npm run bench');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
