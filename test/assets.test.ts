import { execFileSync } from 'node:child_process';
import { mkdir, realpath, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkImageBytes,
  loadImage,
  maxImageBytes,
  rasterSize,
  sniffImageType,
  svgProblem,
} from '../pipeline/lib/assets.ts';
import { temporaryFolder } from './helpers.ts';

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const svg = (inside: string, attributes = '') =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"${attributes}>${inside}</svg>`;

describe('sniffImageType', () => {
  it('judges by the bytes, not the name', () => {
    expect(sniffImageType(png)).toBe('image/png');
    expect(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('image/jpeg');
    expect(sniffImageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffImageType(Buffer.from(`<?xml version="1.0"?>\n<!-- c -->\n${svg('')}`))).toBe(
      'image/svg+xml',
    );
    expect(sniffImageType(Buffer.from('<html><svg></svg></html>'))).toBeUndefined();
    expect(sniffImageType(Buffer.from('GIF89a'))).toBeUndefined();
    expect(sniffImageType(Buffer.from('root:x:0:0:root:/root:/bin/bash\n'))).toBeUndefined();
  });
});

describe('svgProblem', () => {
  it('accepts a plain drawing with internal references', () => {
    expect(
      svgProblem(
        `<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">${svg(
          '<defs><linearGradient id="g"/></defs><rect fill="url(#g)" width="1" height="1"/><use xlink:href="#g"/><style>.a { fill: red; }</style>',
        )}`,
      ),
    ).toBeUndefined();
  });

  const unsafe: Array<[string, string]> = [
    ['a script', svg('<script>alert(1)</script>')],
    ['a script in capitals', svg('<SCRIPT>alert(1)</SCRIPT>')],
    ['a namespaced script', svg('<svg:script>alert(1)</svg:script>')],
    ['an event handler', svg('', ' onload="alert(1)"')],
    ['an event handler after a slash', svg('<rect/onclick="alert(1)"/>')],
    ['an animation that sets a link', svg('<a><set attributeName="href" to="javascript:alert(1)"/></a>')],
    ['foreign content', svg('<foreignObject><iframe src="https://example.org"/></foreignObject>')],
    ['an iframe', svg('<iframe src="x"/>')],
    ['an external image', svg('<image href="http://127.0.0.1/x.png"/>')],
    ['a file image', svg('<image xlink:href="file:///etc/passwd"/>')],
    ['an entity-encoded external image', svg('<image href="&#x68;ttp://127.0.0.1/x"/>')],
    ['a link out', svg('<a href="javascript:alert(1)"><text>x</text></a>')],
    ['a style sheet instruction', `<?xml-stylesheet href="http://127.0.0.1/s.css"?>${svg('')}`],
    ['a CSS url()', svg('<style>rect { fill: url(http://127.0.0.1/x) }</style>')],
    ['a CSS url() with escapes', svg('<style>rect { fill: u\\72 l(http://127.0.0.1/x) }</style>')],
    ['a CSS url() in a style attribute', svg('<rect style="background: url(&quot;/etc/passwd&quot;)"/>')],
    ['an entity-encoded CSS url()', svg('<rect style="background: u&#114;l(http://127.0.0.1/x)"/>')],
    ['an @import', svg('<style>@import "http://127.0.0.1/s.css";</style>')],
    ['an image-set()', svg('<style>rect { fill: image-set("http://127.0.0.1/x" 1x) }</style>')],
    ['an entity', `<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${svg('<text>&xxe;</text>')}`],
    ['an external DTD', `<!DOCTYPE svg SYSTEM "http://127.0.0.1/x.dtd">${svg('')}`],
  ];
  it.each(unsafe)('refuses %s', (_name, text) => {
    expect(svgProblem(text)).toBeTypeOf('string');
  });
});

describe('checkImageBytes', () => {
  it('names the asset by its digest', () => {
    const checked = checkImageBytes(png);
    expect('asset' in checked && checked.asset.href).toMatch(/^assets\/[0-9a-f]{20}\.png$/);
  });

  it('refuses an SVG with text, which the browser would set in a system font', () => {
    expect(checkImageBytes(Buffer.from(svg('<text x="0" y="10">Label</text>')))).toMatchObject({
      problem: { ruleId: 'svg-text' },
    });
    expect('asset' in checkImageBytes(Buffer.from(svg('<rect width="1" height="1"/>')))).toBe(true);
  });

  it('refuses a raster image that would decompress into too many pixels', () => {
    const bomb = Buffer.from(png);
    bomb.writeUInt32BE(50_000, 16);
    bomb.writeUInt32BE(50_000, 20);
    expect(rasterSize(bomb, 'image/png')).toEqual({ width: 50_000, height: 50_000 });
    expect(checkImageBytes(bomb)).toMatchObject({ problem: { ruleId: 'image-too-large' } });
  });

  it('reads the size of JPEG and WebP images from their headers', () => {
    const jpeg = Buffer.from([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x01, 0x2c, 0x02, 0x58,
      0x01, 0x01, 0x11, 0x00,
    ]);
    expect(rasterSize(jpeg, 'image/jpeg')).toEqual({ width: 600, height: 300 });
    const webp = Buffer.alloc(30);
    webp.write('RIFF', 0);
    webp.write('WEBPVP8X', 8);
    webp.writeUIntLE(1999, 24, 3);
    webp.writeUIntLE(999, 27, 3);
    expect(rasterSize(webp, 'image/webp')).toEqual({ width: 2000, height: 1000 });
  });
});

describe('loadImage', () => {
  let folder: { dir: string; remove: () => Promise<void> };
  let sourceDir: string;
  let briefing: string;
  beforeAll(async () => {
    folder = await temporaryFolder();
    sourceDir = path.join(await realpath(folder.dir), 'source');
    briefing = path.join(sourceDir, 'briefings', 'one.md');
    await mkdir(path.join(sourceDir, 'briefings'), { recursive: true });
    await mkdir(path.join(sourceDir, 'assets'));
    await writeFile(path.join(folder.dir, 'outside.png'), png);
    await writeFile(path.join(sourceDir, 'assets', 'map.png'), png);
    await symlink(path.join(folder.dir, 'outside.png'), path.join(sourceDir, 'assets', 'link.png'));
    await symlink('/dev/zero', path.join(sourceDir, 'assets', 'zero.png'));
    await symlink(folder.dir, path.join(sourceDir, 'assets', 'linked-folder'));
    execFileSync('mkfifo', [path.join(sourceDir, 'assets', 'fifo.png')]);
    await writeFile(path.join(sourceDir, 'assets', 'huge.png'), png);
    await truncate(path.join(sourceDir, 'assets', 'huge.png'), maxImageBytes + 1);
    await writeFile(path.join(sourceDir, 'assets', 'passwd.png'), 'root:x:0:0:root:/root:/bin/bash\n');
  });
  afterAll(async () => {
    await folder?.remove();
  });

  const rule = async (reference: string) => {
    const loaded = await loadImage(sourceDir, briefing, reference);
    return 'problem' in loaded ? loaded.problem.ruleId : loaded.asset.mediaType;
  };

  it('reads an image inside the source folder', async () => {
    expect(await rule('../assets/map.png')).toBe('image/png');
  });

  it('refuses a path that leads outside the source folder', async () => {
    expect(await rule('../../outside.png')).toBe('image-outside-source');
    expect(await rule('../assets/../../outside.png')).toBe('image-outside-source');
    expect(await rule('../../../../../../dev/zero')).toBe('image-outside-source');
  });

  it('refuses symbolic links, to a file, to a device or through a folder', async () => {
    expect(await rule('../assets/link.png')).toBe('image-not-a-file');
    expect(await rule('../assets/zero.png')).toBe('image-not-a-file');
    expect(await rule('../assets/linked-folder/outside.png')).toBe('image-not-a-file');
  });

  it('refuses a FIFO without blocking on it', async () => {
    expect(await rule('../assets/fifo.png')).toBe('image-not-a-file');
  });

  it('refuses a file over the size cap without reading it', async () => {
    expect(await rule('../assets/huge.png')).toBe('image-too-large');
  });

  it('refuses a file whose bytes are not an image, whatever its name', async () => {
    expect(await rule('../assets/passwd.png')).toBe('image-type');
  });
});
