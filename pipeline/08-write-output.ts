/**
 * Stage 8: write the outputs — atomically. Everything goes into a staging folder beside the output
 * folder; `SHA256SUMS` and then `manifest.json` are written last; only then is the staging folder
 * swapped in. A build that fails before the swap leaves the previous output exactly as it was.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { VFile } from 'vfile';
import type { ArtifactKind, BuildFiles } from './lib/model.ts';
import { stagingPath } from './lib/output-folder.ts';
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

/** Writes every output into a staging folder, then swaps it in for the output folder. */
export async function writeOutput(files: BuildFiles, options: WriteOutputOptions): Promise<Manifest> {
  const outDir = path.resolve(options.outDir);
  const staging = stagingPath(outDir);
  const manifest = buildManifest(files, options);
  try {
    await mkdir(staging, { recursive: true });
    const sums: string[] = [];
    for (const output of [...files.outputs].sort((a, b) => a.path.localeCompare(b.path))) {
      const target = path.join(staging, output.path);
      const bytes = toBytes(output);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, bytes);
      sums.push(`${sha256(bytes)}  ${output.path}`);
    }
    await writeFile(path.join(staging, 'SHA256SUMS'), `${sums.join('\n')}\n`);
    await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await swapIn(staging, outDir);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    throw cause;
  }
  return manifest;
}

/** Replaces `outDir` with `staging`: the old folder is moved aside, the new one renamed in, the old removed. */
async function swapIn(staging: string, outDir: string): Promise<void> {
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
