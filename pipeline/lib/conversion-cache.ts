/**
 * The conversion cache: a rebuild converts again only the briefings whose Markdown changed.
 *
 * An entry holds what the convert stage made of one briefing (its HTML, XHTML, headings, text blocks,
 * whether it has footnotes), the warnings it reported, and each image it read: the path as written,
 * and the digest-named file and media type that path gave. The key digests the tool (the pipeline's
 * code, schemas and locked dependencies), the briefing's path in the source folder and every byte of
 * its file. The images are not in the key: on a hit each is loaded again, with every check of a
 * first conversion, and must give the same file (same bytes, so the same digest) and media type,
 * or the briefing is converted afresh. A briefing that reported an error is never stored.
 *
 * Like the PDF cache: entries are written whole (temporary file, then rename), checked against their
 * digest when read (a damaged entry is a miss), and the folder is safe to delete.
 */
import { utimes } from 'node:fs/promises';
import path from 'node:path';
import type { VFile } from 'vfile';
import type { VFileMessage } from 'vfile-message';
import { loadImage } from './assets.ts';
import { conversionFolder, digestOf, Folders, readDigested, writeDigested } from './build-cache.ts';
import { warning } from './messages.ts';
import type { Asset, Content, ImageRead } from './model.ts';

/** A warning as an entry keeps it: what the report shows of it. */
interface StoredWarning {
  reason: string;
  ruleId: string;
  line: number;
  column: number;
}

interface Entry {
  content: Omit<Content, 'assets'>;
  warnings: StoredWarning[];
  images: ImageRead[];
}

/** The converted briefings of earlier builds, in the build cache's folder. */
export class ConversionCache {
  private readonly writes: Promise<void>[] = [];
  private readonly folders = new Folders();
  /** Briefings taken from the cache in this build. */
  reused = 0;
  /** Briefings not found in the cache (converted afresh) in this build. */
  converted = 0;

  /**
   * @param dir the build cache's folder
   * @param tool the tool's digest (`toolDigest()`)
   * @param sourceDir the real path of the source folder, as the convert stage resolves images in it
   */
  constructor(
    private readonly dir: string,
    private readonly tool: string,
    private readonly sourceDir: string,
  ) {}

  private key(file: VFile): string {
    return digestOf(['convert', this.tool, path.relative(this.sourceDir, file.path), String(file.value)]);
  }

  private entryPath(key: string): string {
    return path.join(this.dir, conversionFolder, key.slice(0, 2), `${key}.json`);
  }

  /**
   * The conversion of `file` stored by an earlier build, with its images loaded again; undefined when
   * there is none, it is damaged, or an image no longer gives the same file.
   */
  async get(file: VFile): Promise<{ content: Content; warnings: StoredWarning[] } | undefined> {
    const stored = await this.read(file);
    if (stored) this.reused++;
    else this.converted++;
    return stored;
  }

  private async read(file: VFile): Promise<{ content: Content; warnings: StoredWarning[] } | undefined> {
    const entryPath = this.entryPath(this.key(file));
    const payload = await readDigested(entryPath);
    if (payload === undefined) return undefined;
    const entry = JSON.parse(payload) as Entry;
    const assets = new Map<string, Asset>();
    for (const image of entry.images) {
      const loaded = await loadImage(this.sourceDir, file.path, image.reference);
      if (!('asset' in loaded)) return undefined;
      const { asset } = loaded;
      if (asset.href !== image.href || asset.mediaType !== image.mediaType) return undefined;
      assets.set(asset.href, asset);
    }
    const now = new Date();
    await utimes(entryPath, now, now).catch(() => undefined);
    return { content: { ...entry.content, assets: [...assets.values()] }, warnings: entry.warnings };
  }

  /**
   * Stores the conversion of `file`, unless it reported an error. The write goes on in the
   * background; {@link flush} waits for every write started.
   */
  put(file: VFile, content: Content, messages: readonly VFileMessage[], images: readonly ImageRead[]): void {
    if (messages.some((message) => message.fatal === true)) return;
    const { assets: _assets, ...kept } = content;
    const entry: Entry = {
      content: kept,
      warnings: messages.map((message) => ({
        reason: message.reason,
        ruleId: message.ruleId ?? 'unknown',
        line: message.line ?? 1,
        column: message.column ?? 1,
      })),
      images: [...images],
    };
    const payload = JSON.stringify(entry);
    const entryPath = this.entryPath(this.key(file));
    const write = async () => {
      try {
        await this.folders.make(path.dirname(entryPath));
        await writeDigested(entryPath, payload);
      } catch {
        // A cache that cannot be written only makes the next build slower.
        this.folders.forget();
      }
    };
    this.writes.push(write());
  }

  /** Waits for every entry {@link put} started to be written. */
  async flush(): Promise<void> {
    await Promise.all(this.writes.splice(0));
  }
}

/** Reports the warnings of a stored conversion on the briefing, as its conversion did. */
export function reportStoredWarnings(file: VFile, warnings: readonly StoredWarning[]): void {
  for (const { reason, ruleId, line, column } of warnings)
    warning(file, reason, { ruleId, place: { line, column } });
}
