/**
 * Memos kept from one build to the next in the build cache: what a stage computed, by a digest of
 * everything it was computed from, so a rebuild computes again only what changed. Two are kept, in
 * `memo/` of the cache folder:
 *
 * - `headers.json`: the validated header of each briefing (stage 2), by the tool, the briefing's path
 *   and the text of its front matter; only headers that raised no message at all are kept.
 * - `renders.json`: each rendered template (stage 4), by the tool, the template's name and every value
 *   it was given.
 *
 * The tool's digest is in every key (`toolDigest()`: the pipeline, the templates, the schemas and the
 * locked dependencies), so a change to any of them misses. Each file holds only what the last build
 * used, is written whole (temporary file, then rename) with a digest of its contents checked when it
 * is read (a damaged file is an empty memo), and is safe to delete.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { digestOf, readDigested, writeDigested } from './build-cache.ts';

/** The folder of the memos in the build cache. */
export const memoFolder = 'memo';

/** One memo file: values (JSON) by key. */
export class Memo<V> {
  /** What this build used or computed: what the file will hold. */
  private readonly kept = new Map<string, V>();
  /** Values found (from the last build). */
  hits = 0;

  private constructor(
    private readonly name: string,
    private readonly tool: string,
    private readonly file: string,
    private readonly earlier: ReadonlyMap<string, V>,
  ) {}

  /**
   * The memo `name` of the cache folder `dir`, as the last build left it (empty if none or damaged),
   * for the tool of digest `tool`.
   */
  static async open<V>(dir: string, name: string, tool: string): Promise<Memo<V>> {
    const file = path.join(dir, memoFolder, `${name}.json`);
    // No memo yet, or not readable: every value is computed.
    const payload = await readDigested(file);
    const earlier =
      payload === undefined
        ? new Map<string, V>()
        : new Map(Object.entries(JSON.parse(payload) as Record<string, V>));
    return new Memo(name, tool, file, earlier);
  }

  /** The key of a value computed from `parts` (with the memo's name and the tool's digest). */
  key(...parts: string[]): string {
    return digestOf([this.name, this.tool, ...parts]);
  }

  /** The value kept under `key` by the last build, if any; it is kept for the next build too. */
  get(key: string): V | undefined {
    const value = this.earlier.get(key);
    if (value === undefined) return undefined;
    this.kept.set(key, value);
    this.hits++;
    return value;
  }

  /** Keeps `value` under `key` for the next build. */
  set(key: string, value: V): void {
    this.kept.set(key, value);
  }

  /** Writes what this build used and computed; a memo that cannot be written only slows the next build. */
  async save(): Promise<void> {
    try {
      const payload = JSON.stringify(Object.fromEntries(this.kept));
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeDigested(this.file, payload);
    } catch {
      // Not written: the next build computes these again.
    }
  }
}
