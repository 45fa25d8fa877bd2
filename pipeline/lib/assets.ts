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
  // A document type may carry an internal subset (`[…]`); svgProblem refuses it, with the reason.
  if (
    /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>[]*(\[[\s\S]*?\])?\s*>\s*)?<svg[\s>]/i.test(
      head,
    )
  )
    return 'image/svg+xml';
  return undefined;
}

/** Decodes XML character references and the predefined entities, as an XML parser would. */
function decodeXmlReferences(text: string): string {
  const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
  return text.replace(
    /&(?:#x([0-9a-f]+)|#([0-9]+)|(lt|gt|amp|quot|apos));/gi,
    (whole, hex, decimal, name) => {
      if (name) return named[String(name).toLowerCase()] ?? whole;
      const codePoint = Number.parseInt(hex ?? decimal, hex ? 16 : 10);
      return codePoint > 0 && codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '';
    },
  );
}

/** Decodes CSS escapes (`u\72 l(` is `url(` to a CSS parser). */
function decodeCssEscapes(text: string): string {
  return text
    .replace(/\\([0-9a-f]{1,6})[ \t\n\r\f]?/gi, (_whole, hex) => {
      const codePoint = Number.parseInt(hex, 16);
      return codePoint > 0 && codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '';
    })
    .replace(/\\(.)/g, '$1');
}

/** Document types an SVG may declare: none, or the W3C's own SVG 1.0 and 1.1 DTDs (never fetched). */
const harmlessDoctype =
  /^<!DOCTYPE\s+svg(?:\s+PUBLIC\s+"-\/\/W3C\/\/DTD SVG 1\.[01](?: Basic| Tiny)?\/\/EN"\s+"http:\/\/www\.w3\.org\/(?:Graphics\/SVG\/1\.1\/DTD\/svg11(?:-basic|-tiny)?\.dtd|TR\/2001\/REC-SVG-20010904\/DTD\/svg10\.dtd)")?\s*>$/i;

/** Elements that run code, embed other documents or reach out, whatever their namespace prefix. */
const activeElements =
  /<(?:[\w.-]+:)?(script|handler|listener|foreignObject|iframe|frame|frameset|embed|object|applet|audio|video|source|track|base|meta|link|portal)[\s>/]/i;

/**
 * Why an SVG is unsafe to embed, if it is: scripts and other active elements, event handlers,
 * animations of links or handlers, document types and entities, references to anything but its own
 * `#fragments` (in attributes, processing instructions or CSS `url()`, `image-set()`, `@import`).
 * Checked on the text as written and as an XML and CSS parser would decode it.
 */
export function svgProblem(text: string): string | undefined {
  const xml = decodeXmlReferences(text);
  for (const doctype of text.match(/<!DOCTYPE[^>]*>/gi) ?? []) {
    if (!harmlessDoctype.test(doctype)) return 'it declares a document type that refers elsewhere';
  }
  if (/<!ENTITY|<!DOCTYPE[^>]*\[/i.test(text)) return 'it declares XML entities';
  for (const view of [text, xml]) {
    const active = activeElements.exec(view)?.[1];
    if (active) {
      if (active.toLowerCase() === 'script') return 'it contains a script';
      if (active.toLowerCase() === 'foreignobject') return 'it embeds foreign content';
      return `it contains a \`<${active}>\` element`;
    }
    if (/[\s/"'](?:[\w.-]+:)?on[a-z]+\s*=/i.test(view)) return 'it has event handlers';
    if (/attributeName\s*=\s*["']\s*(?:[\w.-]+:)?(?:href|on[a-z]+)/i.test(view))
      return 'it animates a link or an event handler';
  }
  for (const match of xml.matchAll(/(?:^|[\s"'?/])(?:[\w.-]+:)?(?:href|src)\s*=\s*(["'])([\s\S]*?)\1/gi)) {
    const target = (match[2] ?? '').trim();
    if (!target.startsWith('#')) return `it refers to \`${target.slice(0, 40)}\``;
  }
  const css = decodeCssEscapes(xml);
  for (const match of css.matchAll(/url\(\s*["']?\s*([^"')\s]*)/gi)) {
    const target = match[1] ?? '';
    if (!target.startsWith('#')) return `it refers to \`${target.slice(0, 40)}\` in a style`;
  }
  if (/@import/i.test(css)) return 'it imports a style sheet';
  if (/(?:image-set|\bsrc)\s*\(/i.test(css)) return 'it refers to an image in a style';
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
  return checkImageBytes(bytes);
}

/** Largest raster image accepted, in pixels: a small file must not decompress into gigabytes in the browser. */
export const maxImagePixels = 40_000_000;

/** Width and height of a PNG, JPEG or WebP image, read from its header; undefined when not found. */
export function rasterSize(
  bytes: Uint8Array,
  mediaType: string,
): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fits = (end: number) => end <= bytes.length;
  if (mediaType === 'image/png') {
    return fits(24) ? { width: view.getUint32(16), height: view.getUint32(20) } : undefined;
  }
  if (mediaType === 'image/webp') {
    const chunk = String.fromCharCode(...bytes.subarray(12, 16));
    if (chunk === 'VP8X' && fits(30)) {
      const read24 = (at: number) =>
        (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8) | ((bytes[at + 2] ?? 0) << 16);
      return { width: read24(24) + 1, height: read24(27) + 1 };
    }
    if (chunk === 'VP8L' && fits(25)) {
      const bits = view.getUint32(21, true);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8 ' && fits(30))
      return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    return undefined;
  }
  if (mediaType === 'image/jpeg') {
    let offset = 2;
    while (fits(offset + 9) && bytes[offset] === 0xff) {
      const marker = bytes[offset + 1] ?? 0;
      const length = view.getUint16(offset + 2);
      // Start-of-frame markers (C0–CF except DHT C4, JPG C8 and DAC CC) carry the size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { width: view.getUint16(offset + 7), height: view.getUint16(offset + 5) };
      offset += 2 + length;
    }
    return undefined;
  }
  return undefined;
}

/**
 * Checks the bytes of an image, wherever they came from: the type by magic bytes (PNG, JPEG, WebP or
 * SVG), SVGs for anything active or external, rasters for their pixel count. The asset's name comes
 * from the bytes' digest, never from a path or a URL.
 */
export function checkImageBytes(bytes: Uint8Array): { asset: Asset } | { problem: AssetProblem } {
  const mediaType = sniffImageType(bytes);
  if (!mediaType) {
    return {
      problem: { reason: 'its bytes are not a PNG, JPEG, WebP or SVG image', ruleId: 'image-type' },
    };
  }
  if (mediaType === 'image/svg+xml') {
    const text = Buffer.from(bytes).toString('utf8');
    const unsafe = svgProblem(text);
    if (unsafe) return { problem: { reason: `the SVG is unsafe: ${unsafe}`, ruleId: 'unsafe-svg' } };
    // An SVG image cannot use the document's fonts: its text would be set in a system font.
    if (/<(?:[\w.-]+:)?text[\s>/]/i.test(text))
      return {
        problem: {
          reason:
            'the SVG has text, which a browser draws in a system font, not the bundled ones; convert the text to outlines (paths) in the drawing program',
          ruleId: 'svg-text',
        },
      };
  } else {
    const size = rasterSize(bytes, mediaType);
    if (!size) {
      return { problem: { reason: 'its header is damaged; save the image again', ruleId: 'image-type' } };
    }
    if (size.width * size.height > maxImagePixels) {
      return {
        problem: {
          reason: `it is ${size.width} × ${size.height} pixels, over the ${maxImagePixels / 1_000_000}-megapixel limit; scale it down`,
          ruleId: 'image-too-large',
        },
      };
    }
  }
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 20);
  return { asset: { href: `assets/${digest}.${extensions[mediaType]}`, mediaType, bytes } };
}
