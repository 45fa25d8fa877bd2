/**
 * The build cache: a rebuild redoes only what changed.
 *
 * - **Per document.** Each PDF is stored, post-processed and verified, under a key that digests
 *   everything its bytes depend on: the document's HTML and page CSS, the fonts it can load (their
 *   files' bytes), the model post-processing reads (pack, briefing metadata, headings, text), the
 *   epoch, the browser (path, size and date of its executable, or the endpoint), and the tool itself
 *   (the pipeline's code, the templates, the locked dependencies). Images are named by their content
 *   in the HTML, so they are in the key too. Editing one briefing reprints that briefing's PDFs, the
 *   pack and the brief; the other briefings come from the cache.
 * - **Per briefing, before printing.** Each briefing's conversion (`conversion-cache.ts`): a
 *   one-edit rebuild converts that briefing only.
 * - **Whole build.** The digest of every input (each file of the source folder, the tool, the browser,
 *   the epoch) is recorded against the output folder's `manifest.json`. When neither changed and every
 *   file of the output still matches `SHA256SUMS`, the build stops there: no browser, nothing written.
 *
 * The cache is only ever an accelerator: entries are written after the build verified them, checked
 * against their digest when read (a damaged entry is a miss), and the folder is safe to delete.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { VFile } from 'vfile';
import { facesForDocuments, fontFaces } from './fonts.ts';
import type { ArtifactInfo, BuildFiles } from './model.ts';
import type { PartCache } from './pack-parts.ts';
import { mapWithConcurrency } from './pool.ts';
import { projectPath } from './project.ts';

/** The folder of the conversion cache's entries (`conversion-cache.ts`), pruned with the PDFs. */
export const conversionFolder = 'convert';

/** Bumped whenever what an entry holds, or how keys are made, changes. */
const cacheFormat = 1;

/** Entries not used for this long are removed after a build. */
const maxIdleMs = 14 * 24 * 3600 * 1000;

type Hash = ReturnType<typeof createHash>;

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Adds every file under `folder` (sorted, relative names and bytes) to `hash`. */
function hashTree(hash: Hash, folder: string, root = folder): void {
  if (!existsSync(folder)) return;
  const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) hashTree(hash, full, root);
    else if (entry.isFile()) hash.update(`${path.relative(root, full)}\0`).update(readFileSync(full));
  }
}

let toolDigestValue: string | undefined;

/** A digest of the tool itself: the pipeline's code, templates, schemas, package and locked dependencies. */
export function toolDigest(): string {
  if (toolDigestValue) return toolDigestValue;
  const hash = createHash('sha256').update(`briefing-pack cache ${cacheFormat}\0${process.versions.node}\0`);
  hashTree(hash, projectPath('pipeline'));
  hashTree(hash, projectPath('templates'));
  hashTree(hash, projectPath('schemas'));
  hash.update(readFileSync(projectPath('package.json')));
  const lock = [projectPath('node_modules', '.package-lock.json'), projectPath('package-lock.json')].find(
    (file) => existsSync(file),
  );
  if (lock) hash.update(readFileSync(lock));
  toolDigestValue = hash.digest('hex');
  return toolDigestValue;
}

/**
 * Which browser prints: the endpoint of a remote one, or the local executable with its size and date
 * (a browser upgrade changes them). `executablePath` is the browser the build would launch.
 */
export function browserIdentity(options: {
  executablePath?: string | undefined;
  endpoint?: string | undefined;
}): string {
  if (options.endpoint) return `endpoint ${options.endpoint}`;
  if (!options.executablePath) return 'no browser';
  try {
    const real = path.resolve(options.executablePath);
    const info = statSync(real);
    return `local ${real} ${info.size} ${info.mtimeMs}`;
  } catch {
    return `local ${options.executablePath} missing`;
  }
}

/** What every key of one build shares. */
export interface CacheContext {
  tool: string;
  browser: string;
  epochSeconds: number;
}

/** A digest of the font files the build's text can load (the same faces the print stage serves). */
export function fontsDigest(files: BuildFiles): string {
  const hash = createHash('sha256');
  for (const face of facesForDocuments(files.documents))
    hash.update(`${face.fileName}\0`).update(readFileSync(face.filePath));
  return hash.digest('hex');
}

/**
 * The briefing data post-processing reads for a document: metadata, bookmarks and the text the
 * content-loss check looks for. A brief holds only the briefings' headers, so a body edit leaves
 * the briefs' keys as they were.
 */
function modelFor(files: BuildFiles, document: VFile): unknown {
  const info = document.data.document;
  const perBriefing = info?.target === 'briefing' || info?.target === 'briefing-brief';
  const brief = info?.target === 'brief' || info?.target === 'briefing-brief';
  return {
    pack: files.pack.data.pack,
    briefings: files.briefings
      .filter((file) => !perBriefing || file.data.briefing?.id === info?.briefingId)
      .map((file) => ({
        path: path.relative(files.sourceDir, file.path),
        meta: file.data.briefing,
        ...(brief ? {} : { headings: file.data.content?.headings, blocks: file.data.content?.blocks }),
      })),
  };
}

/** The key of one printed document: a digest of everything its final bytes depend on. */
export function documentKey(
  context: CacheContext,
  files: BuildFiles,
  document: VFile,
  fonts: string,
): string {
  return digestOf([
    context.tool,
    context.browser,
    String(context.epochSeconds),
    fonts,
    document.path,
    JSON.stringify(document.data.document ?? null),
    String(document.value),
    document.data.pageCss ?? '',
    JSON.stringify(modelFor(files, document)),
  ]);
}

/** A digest of strings, each prefixed with its length so that no two lists give the same input. */
/** A digest of `values`, each length-prefixed so no two lists of values give the same text. */
export function digestOf(values: readonly string[]): string {
  const hash = createHash('sha256');
  for (const value of values) hash.update(`${value.length}:`).update(value);
  return hash.digest('hex');
}

/**
 * The printed parts of the pack (`lib/pack-parts.ts`), in the cache beside the PDFs: a part's bytes
 * depend on its document and page CSS, the fonts, the browser and the tool. A part is stored as
 * printed, not post-processed: the pack joined from the parts is post-processed and verified whole.
 */
export function packPartCache(cache: OpenCache, fonts: string): PartCache {
  return {
    key: (html, pageCss) => digestOf(['pack-part', cache.tool, cache.browser, fonts, html, pageCss]),
    get: async (key) => (await cache.store.get(key))?.bytes,
    put: (key, bytes) =>
      cache.store.put(key, {
        bytes,
        artifact: { kind: 'pack-pdf', details: { part: true } },
        browserVersion: '',
      }),
  };
}

/** A PDF as the cache holds it: post-processed and verified, with what the manifest says of it. */
export interface CachedPdf {
  bytes: Uint8Array;
  artifact: ArtifactInfo;
  browserVersion: string;
}

interface EntryMeta {
  sha256: string;
  artifact: ArtifactInfo;
  browserVersion: string;
}

/**
 * Writes `payload` after a line holding its digest ({@link writeAtomically}), for
 * {@link readDigested}: the conversion cache's entries and the memos.
 */
export function writeDigested(file: string, payload: string): Promise<void> {
  return writeAtomically(file, `${sha256(payload)}\n${payload}`);
}

/** What {@link writeDigested} wrote, or undefined when the file is missing, unreadable or damaged. */
export async function readDigested(file: string): Promise<string | undefined> {
  try {
    const text = await readFile(file, 'utf8');
    const newline = text.indexOf('\n');
    const payload = text.slice(newline + 1);
    return newline === 64 && sha256(payload) === text.slice(0, newline) ? payload : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a file so that readers see either the old bytes or the new, never half. */
export async function writeAtomically(file: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, file);
}

/**
 * Makes folders (`mkdir -p`), each once: a build writes hundreds of files into a few folders, and each
 * `mkdir` is a system call (and a trip to Node's thread pool) that finds the folder there.
 */
export class Folders {
  private readonly made = new Set<string>();

  async make(folder: string): Promise<void> {
    if (this.made.has(folder)) return;
    await mkdir(folder, { recursive: true });
    this.made.add(folder);
  }

  /** Forgets every folder made: after a write failed (a folder may have been removed since). */
  forget(): void {
    this.made.clear();
  }
}

/** The cache folder. Every failure to read or write it is a miss, never a failed build. */
export class BuildCache {
  private readonly folders = new Folders();

  constructor(readonly dir: string) {}

  private entryPath(key: string): string {
    return path.join(this.dir, 'pdf', key.slice(0, 2), key);
  }

  /** Whether the cache holds no PDF at all (then a build prints every one). */
  async isEmpty(): Promise<boolean> {
    try {
      return (await readdir(path.join(this.dir, 'pdf'))).length === 0;
    } catch {
      return true;
    }
  }

  /** The PDF stored under `key`, if present and intact. */
  async get(key: string): Promise<CachedPdf | undefined> {
    const meta = await this.entry(key);
    const bytes = meta && (await this.bytes(key, meta));
    return bytes && { bytes, artifact: meta.artifact, browserVersion: meta.browserVersion };
  }

  /** What is recorded of the PDF stored under `key` (its bytes not read), if anything. */
  async entry(key: string): Promise<EntryMeta | undefined> {
    try {
      return JSON.parse(await readFile(`${this.entryPath(key)}.json`, 'utf8')) as EntryMeta;
    } catch {
      return undefined;
    }
  }

  /** The bytes of the PDF stored under `key`, if they are those `meta` records; marks the entry used. */
  async bytes(key: string, meta: EntryMeta): Promise<Uint8Array | undefined> {
    const base = this.entryPath(key);
    try {
      const bytes = new Uint8Array(await readFile(`${base}.pdf`));
      if (sha256(bytes) !== meta.sha256) return undefined;
      const now = new Date();
      await utimes(`${base}.json`, now, now).catch(() => undefined);
      return bytes;
    } catch {
      return undefined;
    }
  }

  /** Stores a verified PDF under `key`. */
  async put(key: string, pdf: CachedPdf): Promise<void> {
    const base = this.entryPath(key);
    try {
      await this.folders.make(path.dirname(base));
      const { cached: _cached, verified: _verified, ...artifact } = pdf.artifact;
      const meta: EntryMeta = {
        sha256: sha256(pdf.bytes),
        artifact,
        browserVersion: pdf.browserVersion,
      };
      await writeAtomically(`${base}.pdf`, pdf.bytes);
      await writeAtomically(`${base}.json`, JSON.stringify(meta));
    } catch {
      // A cache that cannot be written only makes the next build slower.
      this.folders.forget();
    }
  }

  private recordPath(outDir: string): string {
    return path.join(this.dir, 'outputs', `${sha256(path.resolve(outDir)).slice(0, 32)}.json`);
  }

  /**
   * Records that `outDir` holds the build of these inputs, with this `manifest.json`, and how many
   * pages its pack's cover and contents take (a guess for the next build, which checks it).
   */
  async recordOutput(outDir: string, inputs: string, frontPages?: number): Promise<void> {
    try {
      const manifest = await readFile(path.join(outDir, 'manifest.json'));
      const file = this.recordPath(outDir);
      await mkdir(path.dirname(file), { recursive: true });
      await writeAtomically(file, JSON.stringify({ inputs, manifest: sha256(manifest), frontPages }));
    } catch {
      // Without the record the next build does the work again; nothing is wrong.
    }
  }

  /** What the last build of `outDir` recorded: the digest of its inputs and of its `manifest.json`. */
  private async record(
    outDir: string,
  ): Promise<{ inputs: string; manifest: string; frontPages?: unknown } | undefined> {
    try {
      return JSON.parse(await readFile(this.recordPath(outDir), 'utf8')) as {
        inputs: string;
        manifest: string;
        frontPages?: unknown;
      };
    } catch {
      return undefined;
    }
  }

  /** How many pages the cover and contents of the pack last built into `outDir` took, if recorded. */
  async frontPages(outDir: string): Promise<number | undefined> {
    const pages = (await this.record(outDir))?.frontPages;
    return Number.isInteger(pages) && (pages as number) > 0 ? (pages as number) : undefined;
  }

  /** Whether the last build of `outDir` had these inputs (its output may have changed since). */
  async builtFrom(outDir: string, inputs: string): Promise<boolean> {
    return (await this.record(outDir))?.inputs === inputs;
  }

  /**
   * Whether `outDir` already holds the build of these inputs, untouched: the record matches, the
   * manifest is the one recorded, and every file listed in `SHA256SUMS` has its digest.
   * Returns the manifest's text when it does.
   */
  async upToDate(outDir: string, inputs: string): Promise<string | undefined> {
    try {
      const record = await this.record(outDir);
      if (record?.inputs !== inputs) return undefined;
      const manifest = await readFile(path.join(outDir, 'manifest.json'), 'utf8');
      if (sha256(manifest) !== record.manifest) return undefined;
      const sums = await readFile(path.join(outDir, 'SHA256SUMS'), 'utf8');
      for (const line of sums.split('\n')) {
        if (line === '') continue;
        const match = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
        if (!match?.[1] || !match[2]) return undefined;
        const file = path.resolve(outDir, match[2]);
        if (!file.startsWith(`${path.resolve(outDir)}${path.sep}`)) return undefined;
        if (sha256(await readFile(file)) !== match[1]) return undefined;
      }
      return manifest;
    } catch {
      return undefined;
    }
  }

  /** Removes entries no build has used for a while, and leftovers of interrupted writes. */
  async prune(now = Date.now()): Promise<void> {
    for (const kind of ['pdf', conversionFolder]) await this.pruneFolder(path.join(this.dir, kind), now);
  }

  private async pruneFolder(folder: string, now: number): Promise<void> {
    try {
      for (const shard of await readdir(folder)) {
        const shardPath = path.join(folder, shard);
        for (const name of await readdir(shardPath)) {
          if (!name.endsWith('.json') && !name.endsWith('.tmp')) continue;
          const file = path.join(shardPath, name);
          const info = await stat(file);
          if (name.endsWith('.tmp') ? now - info.mtimeMs > 3600_000 : now - info.mtimeMs > maxIdleMs) {
            await rm(file, { force: true });
            if (name.endsWith('.json')) await rm(file.replace(/\.json$/, '.pdf'), { force: true });
          }
        }
      }
    } catch {
      // Nothing to prune.
    }
  }
}

/** Adds every entry of the source folder (names, bytes, links as links) to `hash`. */
function hashSource(hash: Hash, folder: string, root: string): void {
  const entries = readdirSync(folder).sort();
  for (const name of entries) {
    const full = path.join(folder, name);
    const relative = path.relative(root, full);
    const info = lstatSync(full);
    if (info.isDirectory()) {
      hash.update(`dir ${relative}\0`);
      hashSource(hash, full, root);
    } else if (info.isFile()) {
      hash.update(`file ${relative} ${info.size}\0`).update(readFileSync(full));
    } else if (info.isSymbolicLink()) {
      hash.update(`link ${relative} ${readlinkSync(full)}\0`);
    } else {
      hash.update(`other ${relative} ${info.mode}\0`);
    }
  }
}

/**
 * A digest of every input of a build: the source folder's files, the tool, the browser and
 * `SOURCE_DATE_EPOCH` (without it, the epoch is the pack's date, which is in the source).
 */
export async function inputsDigest(sourceDir: string, tool: string, browser: string): Promise<string> {
  const hash = createHash('sha256').update(`${tool}\0${browser}\0${process.env.SOURCE_DATE_EPOCH ?? ''}\0`);
  // Every bundled font file by size and date: reading them all (150 MB of Hangul) would take longer
  // than the build this saves; the documents' keys hash the bytes of the faces they use.
  // Synchronous: this is the first thing a build does, with nothing to do meanwhile, and each of the
  // 822 font files and the source's files was a trip to Node's thread pool (0.1-0.15 s for 100
  // briefings on this machine, against about 20 ms).
  for (const face of fontFaces) {
    const info = statSync(face.filePath, { throwIfNoEntry: false });
    hash.update(`font ${face.filePath} ${info?.size} ${info?.mtimeMs}\0`);
  }
  hashSource(hash, sourceDir, sourceDir);
  return hash.digest('hex');
}

/** The cache of one build: the store, what every key shares, and the digest of the build's inputs. */
export interface OpenCache {
  store: BuildCache;
  tool: string;
  browser: string;
  /** The digest of every input, when the whole build can be skipped on a match. */
  inputs?: string;
  /** The output's `manifest.json` when the output is already the build of these inputs. */
  upToDate?: string | undefined;
  /**
   * Whether the last build of the output folder had these same inputs: then its PDFs are most
   * likely all in the cache, and a build of them (its output was changed since) may print nothing.
   */
  sameInputs?: boolean;
}

/**
 * The version a remote browser reports at `/json/version`, so that a pool upgraded behind the same
 * address invalidates the cache. Undefined when it does not answer: then nothing is reused.
 */
async function endpointVersion(endpoint: string): Promise<string | undefined> {
  try {
    const url = new URL(endpoint);
    url.protocol = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:';
    url.pathname = '/json/version';
    url.search = '';
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    const version = ((await response.json()) as { Browser?: unknown }).Browser;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the cache of a build, or none (`cacheDir: false`, or a browser whose identity cannot be
 * known). When the source folder, the tool and the browser are as they were for the last build of
 * `outDir`, and that output is intact, `upToDate` holds its manifest.
 */
export async function openCache(options: {
  cacheDir?: string | false | undefined;
  sourceDir: string;
  outDir: string;
  browser?: string | undefined;
  browserEndpoint?: string | undefined;
  allowRemoteImages?: boolean | undefined;
}): Promise<OpenCache | undefined> {
  if (options.cacheDir === false) return undefined;
  const store = new BuildCache(path.resolve(options.cacheDir ?? projectPath('.cache', 'build')));
  let browser: string;
  if (options.browserEndpoint) {
    const version = await endpointVersion(options.browserEndpoint);
    if (!version) return undefined;
    browser = `endpoint ${options.browserEndpoint} ${version}`;
  } else {
    const { findBrowser } = await import('./find-browser.ts');
    let executablePath: string | undefined;
    try {
      executablePath = findBrowser(options.browser).executablePath;
    } catch {
      // No browser: the build says so when it needs one; with one, the keys will differ.
    }
    browser = browserIdentity({ executablePath });
  }
  const tool = toolDigest();
  // Remote images can change behind the same address: such a build is always done in full.
  if (options.allowRemoteImages) return { store, tool, browser };
  try {
    const inputs = await inputsDigest(path.resolve(options.sourceDir), tool, browser);
    const sameInputs = await store.builtFrom(options.outDir, inputs);
    const upToDate = sameInputs ? await store.upToDate(options.outDir, inputs) : undefined;
    return { store, tool, browser, inputs, upToDate, sameInputs };
  } catch {
    // The source folder cannot be read: the read stage says why.
    return { store, tool, browser };
  }
}

/** The documents a build prints (everything but the EPUB's). */
export function printable(files: BuildFiles): VFile[] {
  return files.documents.filter((document) => document.data.document?.target !== 'epub');
}

/** The PDF a printed document becomes. */
export function pdfPath(document: VFile): string {
  return document.path.replace(/\.html$/, '.pdf');
}

/** What the cache holds for a build's documents. */
export interface CacheLookup {
  /** The key of each PDF, by output path. */
  keys: Map<string, string>;
  /**
   * PDF outputs taken from the cache: what their entries record (`data.artifact`) at once, their bytes
   * once `verified` settles, which drops those whose bytes proved damaged or gone.
   */
  reused: VFile[];
  /** Documents still to print. */
  fresh: VFile[];
  /** The browser that printed the reused PDFs. */
  browserVersion?: string;
  /** The digest of the fonts in every key ({@link fontsDigest}). */
  fonts?: string;
  /**
   * Settles once the bytes of every reused PDF are read and checked against their entry's digest (they
   * are read while the fresh documents print), with the documents whose PDF must be printed after all.
   */
  verified: Promise<VFile[]>;
}

/**
 * Looks up every printable document of a build in the cache. Only the entries' records are read before
 * it returns: printing what is missing need not wait for the bytes of everything else.
 */
export async function lookUpDocuments(
  cache: OpenCache,
  files: BuildFiles,
  epochSeconds: number,
): Promise<CacheLookup> {
  const context: CacheContext = { tool: cache.tool, browser: cache.browser, epochSeconds };
  const fonts = fontsDigest(files);
  const documents = printable(files);
  const keys = documents.map((document) => documentKey(context, files, document, fonts));
  const entries = await mapWithConcurrency(keys, 16, (key) => cache.store.entry(key));
  const lookup: CacheLookup = {
    keys: new Map(),
    reused: [],
    fresh: [],
    fonts,
    verified: Promise.resolve([]),
  };
  const found: Array<{ document: VFile; output: VFile; key: string; meta: EntryMeta }> = [];
  for (const [index, document] of documents.entries()) {
    const key = keys[index] as string;
    lookup.keys.set(pdfPath(document), key);
    const meta = entries[index];
    if (!meta) {
      lookup.fresh.push(document);
      continue;
    }
    lookup.browserVersion ??= meta.browserVersion;
    const output = new VFile({
      path: pdfPath(document),
      value: new Uint8Array(),
      data: { artifact: { ...meta.artifact, cached: true } },
    });
    lookup.reused.push(output);
    found.push({ document, output, key, meta });
  }
  // The entries are read a few at a time: each is a file to read and a digest to check.
  lookup.verified = mapWithConcurrency(found, 16, ({ key, meta }) => cache.store.bytes(key, meta)).then(
    (read) => {
      const damaged = new Set<VFile>();
      for (const [index, bytes] of read.entries()) {
        const { output } = found[index] as (typeof found)[number];
        if (bytes) output.value = bytes;
        else damaged.add(output);
      }
      lookup.reused = lookup.reused.filter((output) => !damaged.has(output));
      return found.filter(({ output }) => damaged.has(output)).map(({ document }) => document);
    },
  );
  return lookup;
}

/**
 * Stores a printed PDF once post-processed and verified (the build stores each as soon as its checks
 * pass, while the browser prints the rest, not all at the end), under its key; one without a key is
 * not stored.
 */
export async function storeDocument(
  cache: OpenCache,
  output: VFile,
  keys: ReadonlyMap<string, string>,
  browserVersion: string,
): Promise<void> {
  const key = keys.get(output.path);
  const artifact = output.data.artifact;
  if (!key || !artifact || !(output.value instanceof Uint8Array)) return;
  await cache.store.put(key, { bytes: output.value, artifact, browserVersion });
}

/**
 * After a successful build: records its inputs against the output, so that the next build with the
 * same inputs finds it up to date. (The build prunes the cache itself, with {@link BuildCache.prune},
 * while its last checks run.)
 */
export async function recordBuild(cache: OpenCache, outDir: string, frontPages?: number): Promise<void> {
  if (cache.inputs) await cache.store.recordOutput(outDir, cache.inputs, frontPages);
}
