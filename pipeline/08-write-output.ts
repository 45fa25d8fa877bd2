/**
 * Stage 8: write the outputs — atomically. Everything goes into a staging folder beside the output
 * folder and is verified there as written; `SHA256SUMS` and then `manifest.json` are written last;
 * only then is the staging folder swapped in. A build that fails or is interrupted before the swap
 * leaves the previous output exactly as it was.
 */

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { unzipSync } from 'fflate';
import type { VFile } from 'vfile';
import { BuildInterrupted } from './lib/browser-pool.ts';
import { Folders } from './lib/build-cache.ts';
import { EnvironmentError } from './lib/errors.ts';
import type { ArtifactKind, BuildFiles } from './lib/model.ts';
import { exchangeFolders, stagingPath } from './lib/output-folder.ts';
import { pdfProblem, qpdfAvailable } from './lib/pdf-verify.ts';
import { mapWithConcurrency } from './lib/pool.ts';
import { generator } from './lib/project.ts';

/** One artifact as listed in `manifest.json`. */
export interface ManifestArtifact {
  kind: ArtifactKind;
  id?: string;
  path: string;
  bytes: number;
  sha256: string;
  pages?: number;
  [detail: string]: unknown;
}

/** `manifest.json`, the contract CI reads (SPEC.md). */
export interface Manifest {
  generator: { name: string; version: string; browser: string };
  sourceDateEpoch: number;
  pack: { title: string; date: string; marking: string | null };
  artifacts: ManifestArtifact[];
}

/** Options of {@link writeOutput}. */
export interface WriteOutputOptions {
  outDir: string;
  epochSeconds: number;
  browserVersion: string;
  /** Aborted on SIGINT/SIGTERM: the staging folder is removed and the output left as it was. */
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
  /**
   * The checks of PDFs whose bytes are final but whose verification was still running when the
   * writing started: awaited once the files are written, before anything is verified or swapped in.
   */
  checks?: Promise<unknown> | undefined;
}

const kindOrder: ArtifactKind[] = [
  'pack-pdf',
  'brief-pdf',
  'briefing-pdf',
  'briefing-brief-pdf',
  'epub',
  'html',
];

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function toBytes(file: VFile): Uint8Array {
  return typeof file.value === 'string'
    ? new TextEncoder().encode(file.value)
    : (file.value ?? new Uint8Array());
}

/** Builds the manifest of a set of outputs. */
export function buildManifest(files: BuildFiles, options: WriteOutputOptions): Manifest {
  const pack = files.pack.data.pack;
  const artifacts: ManifestArtifact[] = [];
  for (const output of files.outputs) {
    const info = output.data.artifact;
    if (!info?.kind) continue;
    const bytes = toBytes(output);
    const artifact: ManifestArtifact = {
      kind: info.kind,
      path: output.path,
      bytes: bytes.length,
      sha256: sha256(bytes),
    };
    if (info.briefingId) artifact.id = info.briefingId;
    if (info.pages !== undefined) artifact.pages = info.pages;
    Object.assign(artifact, info.details);
    artifacts.push(artifact);
  }
  const order = pack?.briefingIds ?? [];
  artifacts.sort(
    (a, b) =>
      kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind) ||
      order.indexOf(a.id ?? '') - order.indexOf(b.id ?? '') ||
      a.path.localeCompare(b.path),
  );
  return {
    generator: { name: generator.name, version: generator.version, browser: options.browserVersion },
    sourceDateEpoch: options.epochSeconds,
    pack: { title: pack?.title ?? '', date: pack?.date ?? '', marking: pack?.marking ?? null },
    artifacts,
  };
}

/** Turns a failed write into an error that names the file, and the machine's fault as such (exit 3). */
function writeFailure(file: string, cause: unknown): Error {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new EnvironmentError(
      `No space left on the device while writing \`${file}\`; free some space and build again.`,
      {
        cause,
      },
    );
  }
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return new EnvironmentError(
      `Cannot write \`${file}\` (${code}); check the output folder's permissions.`,
      { cause },
    );
  }
  return new Error(`Cannot write \`${file}\`: ${(cause as Error).message}`, { cause });
}

function throwIfInterrupted(signal: AbortSignal | undefined, doing: string): void {
  if (signal?.aborted) throw new BuildInterrupted(`the build was interrupted while ${doing}`);
}

/**
 * Writes every output into a staging folder, verifies what was written, writes `SHA256SUMS` and then
 * `manifest.json`, and only then swaps the staging folder in for the output folder.
 */
export async function writeOutput(files: BuildFiles, options: WriteOutputOptions): Promise<Manifest> {
  const outDir = path.resolve(options.outDir);
  const staging = stagingPath(outDir);
  const manifest = buildManifest(files, options);
  options.log?.(
    `Writing ${files.outputs.length} files into ${path.basename(staging)}, beside ${path.basename(outDir)}`,
  );
  try {
    await mkdir(staging, { recursive: true }).catch((cause) => {
      throw writeFailure(path.basename(staging), cause);
    });
    const sums: string[] = [];
    const folders = new Folders();
    for (const output of [...files.outputs].sort((a, b) => a.path.localeCompare(b.path))) {
      throwIfInterrupted(options.signal, `writing ${output.path}`);
      const target = path.join(staging, output.path);
      const bytes = toBytes(output);
      try {
        await folders.make(path.dirname(target));
        await writeFile(target, bytes);
      } catch (cause) {
        throw writeFailure(output.path, cause);
      }
      sums.push(`${sha256(bytes)}  ${output.path}`);
    }
    // The files as written are read back and matched with their digests while the last checks run
    // (qpdf on the pack, in a one-edit rebuild the longest step); a failed check is reported first.
    const readBack = checkWritten(staging, manifest);
    const [checked, written] = await Promise.allSettled([options.checks, readBack]);
    if (checked.status === 'rejected') throw checked.reason;
    if (written.status === 'rejected') throw written.reason;
    // PDFs verified once post-processed, or when first built for those from the cache.
    const verified = new Set(
      files.outputs
        .filter((output) => output.data.artifact?.verified || output.data.artifact?.cached)
        .map((output) => output.path),
    );
    await verifyStagedPdfs(staging, manifest, verified, options.log);
    try {
      await writeFile(path.join(staging, 'SHA256SUMS'), `${sums.join('\n')}\n`);
      await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    } catch (cause) {
      throw writeFailure('manifest.json', cause);
    }
    throwIfInterrupted(options.signal, 'about to replace the output folder');
    await swapIn(staging, outDir);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    throw cause;
  }
  return manifest;
}

/** The staged artifact `artifact`, and how to say what is wrong with it. */
function staged(staging: string, artifact: ManifestArtifact) {
  return {
    file: path.join(staging, artifact.path),
    fail: (why: string) => new Error(`\`${artifact.path}\` as written ${why}`),
  };
}

/**
 * Reads back each staged artifact as written to disk: the file's size and hash must be those of the
 * manifest, and the EPUB's zip must have `mimetype` first.
 */
async function checkWritten(staging: string, manifest: Manifest): Promise<void> {
  await mapWithConcurrency(manifest.artifacts, 2, async (artifact) => {
    const { file, fail } = staged(staging, artifact);
    const bytes = new Uint8Array(await readFile(file));
    if (bytes.length !== artifact.bytes || sha256(bytes) !== artifact.sha256)
      throw fail('does not match what was built');
    if (artifact.kind === 'epub') {
      const names = Object.keys(unzipSync(bytes));
      if (names[0] !== 'mimetype') throw fail('does not start with `mimetype`');
    }
  });
}

/**
 * Verifies each staged PDF whose bytes were not verified already (each PDF is, once post-processed,
 * or when it was first built for one from the cache; the matching digest says the same of the file):
 * parsed strictly by pdf-lib with the page count of the manifest (one page for a brief) and checked
 * by `qpdf --check` when qpdf is installed.
 */
async function verifyStagedPdfs(
  staging: string,
  manifest: Manifest,
  verified: ReadonlySet<string>,
  log?: (line: string) => void,
): Promise<void> {
  qpdfAvailable(log);
  const unverified = manifest.artifacts.filter(
    (artifact) => artifact.kind.endsWith('pdf') && !verified.has(artifact.path),
  );
  await mapWithConcurrency(unverified, 2, async (artifact) => {
    const { file, fail } = staged(staging, artifact);
    const problem = await pdfProblem(file, new Uint8Array(await readFile(file)), artifact, log);
    if (problem) throw fail(problem);
  });
}

/**
 * Replaces `outDir` with `staging`: exchanged in one step where the system can, else the old folder is
 * moved aside and the new one renamed in; the old is removed.
 */
async function swapIn(staging: string, outDir: string): Promise<void> {
  if (await exchangeFolders(staging, outDir)) {
    // `staging` now holds the old output.
    await rm(staging, { recursive: true, force: true });
    return;
  }
  const previous = `${staging}.previous`;
  let moved = false;
  try {
    await rename(outDir, previous);
    moved = true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
  }
  try {
    await rename(staging, outDir);
  } catch (cause) {
    if (moved) await rename(previous, outDir);
    throw cause;
  }
  if (moved) await rm(previous, { recursive: true, force: true });
}
