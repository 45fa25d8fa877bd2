import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { VFile } from 'vfile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertBriefing } from '../pipeline/03-convert-markdown.ts';
import { addressProblem, RemoteImages } from '../pipeline/lib/remote-images.ts';
import { briefingMeta } from './helpers.ts';

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

describe('addressProblem', () => {
  const refused = [
    '127.0.0.1',
    '127.1',
    '127.255.255.254',
    '2130706433',
    '0x7f000001',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '017700000001',
    '0.0.0.0',
    '0',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '192.0.2.1',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '0:0:0:0:0:ffff:127.0.0.1',
    '[::ffff:169.254.169.254]',
    '::ffff:a9fe:a9fe',
    '::ffff:0:127.0.0.1',
    '::127.0.0.1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a00:1',
    '2002:7f00:1::1',
    '2002:c0a8:101::1',
    '2001::1',
    '2001:db8::1',
    'fe80::1',
    'fe80::1%eth0',
    'fd00::1',
    'fc00::1',
    'ff02::1',
    'fec0::1',
    'not-an-address',
  ];
  it.each(refused)('refuses %s', (address) => {
    expect(addressProblem(address)).toBeTypeOf('string');
  });

  it.each(['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'allows the public address %s',
    (address) => {
      expect(addressProblem(address)).toBeUndefined();
    },
  );
});

describe('RemoteImages', () => {
  let server: http.Server;
  let port: number;
  const hits: string[] = [];
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      hits.push(request.url ?? '');
      const url = request.url ?? '';
      if (url === '/map.png') {
        response.writeHead(200, { 'content-type': 'image/png' });
        response.end(png);
      } else if (url === '/to-other-host') {
        response.writeHead(302, { location: `http://127.0.0.2:${port}/map.png` });
        response.end();
      } else if (url === '/to-file') {
        response.writeHead(301, { location: 'file:///etc/passwd' });
        response.end();
      } else if (url === '/loop') {
        response.writeHead(302, { location: '/loop' });
        response.end();
      } else if (url === '/huge') {
        response.writeHead(200, { 'content-type': 'image/png' });
        response.end(Buffer.concat([png, Buffer.alloc(5000)]));
      } else if (url === '/page') {
        response.writeHead(200, { 'content-type': 'image/png' });
        response.end('<html><body>not an image</body></html>');
      } else if (url === '/script.svg') {
        response.writeHead(200, { 'content-type': 'image/svg+xml' });
        response.end('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
      } else if (url === '/slow') {
        // Never answers; the client's timeout must end it.
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses loopback in every spelling before connecting, with the default policy', async () => {
    const images = new RemoteImages();
    const spellings = [
      `http://127.0.0.1:${port}/map.png`,
      `http://localhost:${port}/map.png`,
      `http://LocalHost:${port}/map.png`,
      `http://2130706433:${port}/map.png`,
      `http://0x7f.1:${port}/map.png`,
      `http://0177.0.0.1:${port}/map.png`,
      `http://[::1]:${port}/map.png`,
      `http://[::ffff:127.0.0.1]:${port}/map.png`,
      `https://127.0.0.1:${port}/map.png`,
    ];
    for (const url of spellings) {
      const loaded = await images.load(new URL(url).href);
      expect(loaded, url).toMatchObject({ problem: { ruleId: 'remote-image-address' } });
    }
    expect(hits).toEqual([]);
  });

  it('refuses a host when any of its addresses is private', async () => {
    const images = new RemoteImages({
      resolve: async () => [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ],
    });
    expect(await images.load('https://images.example/map.png')).toMatchObject({
      problem: { ruleId: 'remote-image-address', reason: expect.stringContaining('`10.0.0.7`') },
    });
  });

  describe('with a policy that lets the test reach 127.0.0.1 only', () => {
    const onlyTestServer = (address: string) => (address === '127.0.0.1' ? undefined : 'not the test server');
    const images = () => new RemoteImages({ addressPolicy: onlyTestServer, maxBytes: 1000, timeoutMs: 500 });

    it('fetches an image once and names it by its digest', async () => {
      const fetcher = images();
      const before = hits.length;
      const first = await fetcher.load(`http://127.0.0.1:${port}/map.png`);
      const second = await fetcher.load(`http://127.0.0.1:${port}/map.png`);
      expect(first).toMatchObject({
        asset: { mediaType: 'image/png', href: expect.stringMatching(/^assets\//) },
      });
      expect(second).toBe(first);
      expect(hits.length - before).toBe(1);
    });

    it('inlines a fetched image as an asset of the briefing, so the browser never fetches it', async () => {
      const header = '---\ntitle: T\n---\n';
      const file = new VFile({
        path: '/source/briefings/one.md',
        value: `${header}![A map](http://127.0.0.1:${port}/map.png)\n`,
      });
      file.data.briefing = briefingMeta('one');
      file.data.bodyStart = { line: 4, offset: header.length };
      await convertBriefing(file, '/source', { remoteImages: images() });
      const asset = file.data.content?.assets[0];
      expect(file.messages).toEqual([]);
      expect(asset?.mediaType).toBe('image/png');
      expect(file.data.content?.html).toContain(`<img src="${asset?.href}" alt="A map">`);
    });

    it('checks every redirect again', async () => {
      expect(await images().load(`http://127.0.0.1:${port}/to-other-host`)).toMatchObject({
        problem: { ruleId: 'remote-image-address' },
      });
      expect(await images().load(`http://127.0.0.1:${port}/to-file`)).toMatchObject({
        problem: { ruleId: 'remote-image-address' },
      });
      expect(await images().load(`http://127.0.0.1:${port}/loop`)).toMatchObject({
        problem: { ruleId: 'remote-image-fetch', reason: 'it redirects more than 3 times' },
      });
    });

    it('caps the size, checks the bytes like a local image and gives up after the timeout', async () => {
      expect(await images().load(`http://127.0.0.1:${port}/huge`)).toMatchObject({
        problem: { ruleId: 'image-too-large' },
      });
      expect(await images().load(`http://127.0.0.1:${port}/page`)).toMatchObject({
        problem: { ruleId: 'image-type' },
      });
      expect(await images().load(`http://127.0.0.1:${port}/script.svg`)).toMatchObject({
        problem: { ruleId: 'unsafe-svg' },
      });
      expect(await images().load(`http://127.0.0.1:${port}/missing`)).toMatchObject({
        problem: { ruleId: 'remote-image-fetch', reason: 'the server answered 404' },
      });
      const started = performance.now();
      expect(await images().load(`http://127.0.0.1:${port}/slow`)).toMatchObject({
        problem: { ruleId: 'remote-image-fetch', reason: 'it took longer than 0.5 s to fetch' },
      });
      expect(performance.now() - started).toBeLessThan(5000);
    });
  });
});
