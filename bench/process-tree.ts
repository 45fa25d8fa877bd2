/**
 * Memory of a whole process tree, sampled from /proc: a process and all its descendants (for a build,
 * the Node process and every process of Chromium). Linux only; elsewhere every sample is empty.
 *
 * RSS counts each shared page (Chromium's code, shared memory between its processes) once per process
 * that maps it, so the sum over a tree overstates what the tree really uses. PSS (proportional set
 * size, from /proc/<pid>/smaps_rollup) divides each shared page between the processes sharing it, so
 * the sum is fairer; it is only readable for processes of the same user (or as root).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** The peaks of a sampled tree. */
export interface TreeMemory {
  /** Highest sum of RSS over the tree at one sample, in bytes. */
  peakRssBytes: number;
  /** Highest sum of PSS over the tree at one sample, in bytes; undefined when smaps_rollup is unreadable. */
  peakPssBytes: number | undefined;
  /** Most processes in the tree at one sample. */
  peakProcesses: number;
  /** RSS samples taken. */
  samples: number;
  /** PSS samples taken (fewer: see {@link TreeSampler}). */
  pssSamples: number;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A `Name:   123 kB` field of a /proc status-like file, in bytes. */
function kilobytes(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** Direct children of a process, from /proc/<pid>/task/<tid>/children (every thread's). */
function childrenOf(pid: number): number[] | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const task of tasks) {
    const text = read(`/proc/${pid}/task/${task}/children`);
    if (text === undefined) return undefined;
    for (const child of text.split(' ')) if (child.trim() !== '') children.push(Number(child));
  }
  return children;
}

/** Every process's parent, from /proc/<pid>/stat: the fallback when `children` files do not exist. */
function parentMap(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return byParent;
  }
  for (const name of entries) {
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    // The command name is in parentheses and may hold spaces: the fields after the last `)`.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const parent = Number(fields[1]);
    const list = byParent.get(parent) ?? [];
    list.push(Number(name));
    byParent.set(parent, list);
  }
  return byParent;
}

/** The process and all its descendants. */
export function processTree(root: number): number[] {
  const tree: number[] = [];
  let byParent: Map<number, number[]> | undefined;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    let children = byParent ? (byParent.get(pid) ?? []) : childrenOf(pid);
    if (children === undefined) {
      byParent = parentMap();
      children = byParent.get(pid) ?? [];
    }
    queue.push(...children);
  }
  return tree;
}

/** Bytes of a memory page, for /proc/<pid>/statm. */
const pageBytes = (() => {
  const size = Number(spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).stdout);
  return Number.isInteger(size) && size > 0 ? size : 4096;
})();

/** The tree's summed RSS, in bytes, from /proc/<pid>/statm (cheap: no walk of the page tables). */
export function treeRss(root: number): { rss: number; processes: number; pids: number[] } {
  let rss = 0;
  const pids: number[] = [];
  for (const pid of processTree(root)) {
    const statm = read(`/proc/${pid}/statm`);
    if (statm === undefined) continue;
    pids.push(pid);
    rss += Number(statm.split(' ')[1]) * pageBytes;
  }
  return { rss, processes: pids.length, pids };
}

/**
 * The summed PSS of these processes, in bytes, or undefined when a smaps_rollup cannot be read.
 * Reading smaps_rollup walks a process's page tables: milliseconds of kernel time for each Chromium
 * or Node process, so it is read asynchronously (off the event loop) and less often than RSS.
 */
export async function treePss(pids: number[]): Promise<number | undefined> {
  let pss = 0;
  for (const pid of pids) {
    let text: string;
    try {
      text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch (error) {
      // A process that ended since it was listed counts for nothing; any other failure: unreadable.
      if (
        (error as NodeJS.ErrnoException).code === 'ENOENT' ||
        (error as NodeJS.ErrnoException).code === 'ESRCH'
      )
        continue;
      return undefined;
    }
    const bytes = kilobytes(text, 'Pss');
    if (bytes === undefined) return undefined;
    pss += bytes;
  }
  return pss;
}

/**
 * Samples a process tree until stopped and keeps the peaks: RSS every `intervalMs`; PSS as often as
 * costs at most `pssBudget` of one core (the processor time of reading smaps_rollup, measured), so
 * that the sampling does not slow down what it measures. The PSS peak is therefore the highest of
 * fewer samples than the RSS peak.
 */
export class TreeSampler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private pids: number[] = [];
  private rssSamples = 0;
  private pssSamples = 0;
  private peakRss = 0;
  private peakPss = 0;
  private pssReadable = true;
  private peakProcesses = 0;
  private pssLoop: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: number,
    private readonly intervalMs = 50,
    private readonly pssBudget = 0.05,
  ) {}

  start(): this {
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), this.intervalMs);
    this.pssLoop = this.samplePss();
    return this;
  }

  private sampleRss(): void {
    const { rss, processes, pids } = treeRss(this.root);
    if (processes === 0) return;
    this.pids = pids;
    this.rssSamples++;
    this.peakRss = Math.max(this.peakRss, rss);
    this.peakProcesses = Math.max(this.peakProcesses, processes);
  }

  private async samplePss(): Promise<void> {
    while (!this.stopped && this.pssReadable) {
      const cpu = process.cpuUsage();
      const pss = this.pids.length === 0 ? 0 : await treePss(this.pids);
      if (pss === undefined) this.pssReadable = false;
      else if (this.pids.length > 0) {
        this.pssSamples++;
        this.peakPss = Math.max(this.peakPss, pss);
      }
      const used = process.cpuUsage(cpu);
      const wait = Math.max(this.intervalMs, (used.user + used.system) / 1000 / this.pssBudget);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** Stops sampling; resolves once a PSS pass under way has finished. */
  async stop(): Promise<TreeMemory> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.pssLoop;
    return {
      peakRssBytes: this.peakRss,
      peakPssBytes: this.pssReadable && this.pssSamples > 0 ? this.peakPss : undefined,
      peakProcesses: this.peakProcesses,
      samples: this.rssSamples,
      pssSamples: this.pssSamples,
    };
  }
}
