/**
 * Images a briefing uses: resolved against the briefing's folder, confined to the source folder, and
 * checked before a single byte reaches a browser or an EPUB.
 *
 * Refused: paths outside the source folder (after resolving symbolic links), symbolic links themselves,
 * FIFOs, devices and anything not a regular file, files over the size cap, and files whose bytes are
 * not a PNG, JPEG, WebP or a safe SVG. The output name is derived from the bytes, never from the path.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Asset } from './model.ts';

/** Largest image read, in bytes. */
export const maxImageBytes = 10 * 1024 * 1024;

/** Why an image was refused, for a message on the briefing. */
export interface AssetProblem {
  reason: string;
  ruleId: string;
}

const extensions: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/svg+xml': 'svg',
};

/** The media type of image bytes, judged by their first bytes, not by the file name. */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  const starts = (...signature: number[]) => signature.every((byte, index) => bytes[index] === byte);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP')
    return 'image/webp';
  const head = Buffer.from(bytes.subarray(0, 4096))
    .toString('utf8')
    .replace(/^\uFEFF/, '');
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head))
    return 'image/svg+xml';
  return undefined;
}

/** Why an SVG is unsafe to embed (scripts, event handlers, external references, entities), if it is. */
export function svgProblem(text: string): string | undefined {
  if (/<script[\s>/]/i.test(text)) return 'it contains a script';
  if (/<!ENTITY/i.test(text)) return 'it declares XML entities';
  if (/<foreignObject[\s>/]/i.test(text)) return 'it embeds foreign content';
  if (/\son[a-z]+\s*=/i.test(text)) return 'it has event handlers';
  for (const match of text.matchAll(/(?:href|src)\s*=\s*["']\s*([^"']*)["']/gi)) {
    const target = match[1] ?? '';
    if (!target.startsWith('#')) return `it refers to \`${target.slice(0, 40)}\``;
  }
  for (const match of text.matchAll(/url\(\s*["']?\s*([^"')\s]*)/gi)) {
    const target = match[1] ?? '';
    if (!target.startsWith('#')) return `it refers to \`${target.slice(0, 40)}\` in a style`;
  }
  if (/@import/i.test(text)) return 'it imports a style sheet';
  return undefined;
}

function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * Reads an image referenced from a briefing. `reference` is the decoded relative path as written in
 * the Markdown; `sourceDir` is the real path of the source folder.
 */
export async function loadImage(
  sourceDir: string,
  briefingPath: string,
  reference: string,
): Promise<{ asset: Asset } | { problem: AssetProblem }> {
  if (reference.includes('\0'))
    return { problem: { reason: 'a path with a NUL character', ruleId: 'image-path' } };
  const resolved = path.resolve(path.dirname(briefingPath), reference);
  if (!isInside(sourceDir, resolved)) {
    return {
      problem: {
        reason: `the path leads outside the source folder; put the image in \`assets/\` and link it relatively`,
        ruleId: 'image-outside-source',
      },
    };
  }
  const info = await lstat(resolved).catch(() => undefined);
  if (!info)
    return {
      problem: { reason: 'no file is there; check the path and the file name', ruleId: 'image-missing' },
    };
  if (info.isSymbolicLink()) {
    return {
      problem: {
        reason: 'it is a symbolic link; copy the image itself into the source folder',
        ruleId: 'image-not-a-file',
      },
    };
  }
  if (!info.isFile()) return { problem: { reason: 'it is not a regular file', ruleId: 'image-not-a-file' } };
  const real = await realpath(resolved);
  if (real !== resolved || !isInside(sourceDir, real)) {
    return {
      problem: {
        reason: 'its path goes through a symbolic link; copy the image itself into the source folder',
        ruleId: 'image-not-a-file',
      },
    };
  }
  if (info.size > maxImageBytes) {
    return {
      problem: {
        reason: `it is ${(info.size / 1024 / 1024).toFixed(1)} MiB, over the ${maxImageBytes / 1024 / 1024} MiB limit; make it smaller`,
        ruleId: 'image-too-large',
      },
    };
  }
  // O_NOFOLLOW and O_NONBLOCK: never follow a link swapped in since lstat, never block on a FIFO.
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  let bytes: Uint8Array;
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > maxImageBytes) {
      return { problem: { reason: 'it is not a regular file', ruleId: 'image-not-a-file' } };
    }
    bytes = new Uint8Array(await handle.readFile());
  } finally {
    await handle.close();
  }
  const mediaType = sniffImageType(bytes);
  if (!mediaType) {
    return {
      problem: { reason: 'its bytes are not a PNG, JPEG, WebP or SVG image', ruleId: 'image-type' },
    };
  }
  if (mediaType === 'image/svg+xml') {
    const unsafe = svgProblem(Buffer.from(bytes).toString('utf8'));
    if (unsafe) return { problem: { reason: `the SVG is unsafe: ${unsafe}`, ruleId: 'unsafe-svg' } };
  }
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 20);
  return { asset: { href: `assets/${digest}.${extensions[mediaType]}`, mediaType, bytes } };
}
