/**
 * The fonts bundled with the project (`@fontsource/*` packages): Source Serif 4 for text, Source Sans 3
 * for headings and furniture, Noto Serif KR and Noto Sans KR for Hangul. Latin, Cyrillic, Greek and
 * Vietnamese come with the Source families.
 *
 * Every face is a WOFF2 file with a `unicode-range`; a renderer loads only the files its text needs.
 * No system font is ever named, so any glyph outside these fonts shows up in the font check.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { VFile } from 'vfile';

/** One `@font-face` of a bundled family. */
export interface FontFace {
  family: string;
  style: 'normal' | 'italic';
  weight: number;
  /** Inclusive code point ranges covered by the file. */
  ranges: Array<[number, number]>;
  /** The CSS `unicode-range` value, as published. */
  unicodeRange: string;
  /** The WOFF2 file name (unique across the bundled families). */
  fileName: string;
  /** Absolute path of the WOFF2 file. */
  filePath: string;
}

interface BundledFamily {
  family: string;
  /** The `@fontsource` package. */
  packageName: string;
  /** CSS files of the package to take faces from (weights and styles). */
  cssFiles: string[];
  /** The start of the PostScript names of its faces, as embedded in a PDF. */
  postScriptPrefix: string;
}

const bundledFamilies: BundledFamily[] = [
  {
    family: 'Source Serif 4',
    packageName: '@fontsource/source-serif-4',
    cssFiles: ['400.css', '400-italic.css', '600.css', '600-italic.css', '700.css', '700-italic.css'],
    postScriptPrefix: 'SourceSerif4',
  },
  {
    family: 'Source Sans 3',
    packageName: '@fontsource/source-sans-3',
    cssFiles: ['400.css', '400-italic.css', '600.css', '600-italic.css', '700.css', '700-italic.css'],
    postScriptPrefix: 'SourceSans3',
  },
  {
    family: 'Noto Serif KR',
    packageName: '@fontsource/noto-serif-kr',
    cssFiles: ['400.css', '600.css', '700.css'],
    postScriptPrefix: 'NotoSerifKR',
  },
  {
    family: 'Noto Sans KR',
    packageName: '@fontsource/noto-sans-kr',
    cssFiles: ['400.css', '600.css', '700.css'],
    postScriptPrefix: 'NotoSansKR',
  },
];

/** The CSS font stacks of the templates; nothing outside the bundle. */
export const fontStacks = {
  serif: "'Source Serif 4', 'Noto Serif KR'",
  sans: "'Source Sans 3', 'Noto Sans KR'",
} as const;

const require = createRequire(import.meta.url);

function packageFolder(packageName: string): string {
  return path.dirname(require.resolve(`${packageName}/package.json`));
}

function parseRanges(unicodeRange: string): Array<[number, number]> {
  return unicodeRange.split(',').map((part) => {
    const [start = '0', end] = part.trim().replace(/^U\+/i, '').split('-');
    const first = Number.parseInt(start, 16);
    return [first, end === undefined ? first : Number.parseInt(end, 16)];
  });
}

function loadFaces(): FontFace[] {
  const faces: FontFace[] = [];
  for (const bundled of bundledFamilies) {
    const folder = packageFolder(bundled.packageName);
    for (const cssFile of bundled.cssFiles) {
      const css = readFileSync(path.join(folder, cssFile), 'utf8');
      for (const block of css.matchAll(/@font-face\s*{([^}]*)}/g)) {
        const body = block[1] ?? '';
        const file = /url\(\.\/files\/([^)]+\.woff2)\)/.exec(body)?.[1];
        const weight = Number(/font-weight:\s*(\d+)/.exec(body)?.[1]);
        const style = /font-style:\s*italic/.test(body) ? 'italic' : 'normal';
        const unicodeRange = /unicode-range:\s*([^;]+);/.exec(body)?.[1]?.trim() ?? 'U+0-10FFFF';
        if (!file || !weight) continue;
        faces.push({
          family: bundled.family,
          style,
          weight,
          ranges: parseRanges(unicodeRange),
          unicodeRange,
          fileName: file,
          filePath: path.join(folder, 'files', file),
        });
      }
    }
  }
  return faces;
}

/** Every bundled face, read once from the packages' CSS. */
export const fontFaces: readonly FontFace[] = loadFaces();

const facesByFileName = new Map(fontFaces.map((face) => [face.fileName, face]));

/** The bundled face with this file name, if any. */
export function fontFaceByFileName(fileName: string): FontFace | undefined {
  return facesByFileName.get(fileName);
}

/** `@font-face` rules for the given faces, with `src` under `urlPrefix` (e.g. `fonts/`). */
export function fontFaceCss(faces: readonly FontFace[], urlPrefix: string): string {
  return faces
    .map(
      (face) =>
        `@font-face { font-family: '${face.family}'; font-style: ${face.style}; font-weight: ${face.weight}; ` +
        `font-display: block; src: url(${urlPrefix}${face.fileName}) format('woff2'); unicode-range: ${face.unicodeRange}; }`,
    )
    .join('\n');
}

/** The faces whose ranges cover at least one character of `text` (for packaging only what is used). */
export function facesForText(text: string, faces: readonly FontFace[] = fontFaces): FontFace[] {
  // One flag per code point: a set of the characters of megabytes of text costs far more.
  const seen = new Uint8Array(0x110000);
  for (let index = 0; index < text.length; index++) {
    let code = text.charCodeAt(index);
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const low = text.charCodeAt(index + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        index++;
      }
    }
    seen[code] = 1;
  }
  return faces.filter((face) =>
    face.ranges.some(([start, end]) => {
      for (let code = Math.max(0, start); code <= Math.min(end, 0x10ffff); code++)
        if (seen[code]) return true;
      return false;
    }),
  );
}

const documentFaces = new WeakMap<readonly VFile[], FontFace[]>();

/**
 * The faces the text of a build's documents (and their page styles) can use, worked out once per set
 * of documents: the cache's keys and the print stage's fonts both need them.
 */
export function facesForDocuments(documents: readonly VFile[]): FontFace[] {
  let faces = documentFaces.get(documents);
  if (!faces) {
    const text = documents
      .map((document) => `${String(document.value)}${document.data.pageCss ?? ''}`)
      .join('');
    faces = facesForText(text);
    documentFaces.set(documents, faces);
  }
  return faces;
}

/** Whether a font name found in a PDF (`AAAAAA+SourceSerif4-Regular`) is one of the bundled fonts. */
export function isBundledPdfFont(name: string): boolean {
  const base = name.replace(/^[A-Z]{6}\+/, '');
  return bundledFamilies.some((bundled) => base.startsWith(bundled.postScriptPrefix));
}

/** Reads a bundled font file. */
export function readFontFile(face: FontFace): Buffer {
  return readFileSync(face.filePath);
}
