/**
 * Remote images, for builds run with `--allow-remote-images` (off by default). The pipeline — never
 * the browser — fetches each address once, with a timeout and a size cap, and only from public
 * addresses: the host is resolved and every address it resolves to is checked (loopback, private,
 * link-local, multicast, reserved and documentation ranges are refused, in every IPv4 and IPv6 form,
 * IPv4-mapped and NAT64 included), the connection goes to the address that was checked, and each
 * redirect is checked again. The bytes then go through the same checks as a local image and are
 * inlined as an asset.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { type AssetProblem, checkImageBytes, maxImageBytes } from './assets.ts';
import type { Asset } from './model.ts';
import { classifyUrl } from './urls.ts';

/** A resolved address of a host. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Options of {@link RemoteImages}. */
export interface RemoteImageOptions {
  /** Time allowed for one image, redirects included. */
  timeoutMs?: number;
  /** Largest image fetched, in bytes. */
  maxBytes?: number;
  maxRedirects?: number;
  /** Resolves a host name to every address it has (default: the system resolver). */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  /**
   * Why an address may not be fetched from, if it may not (default: {@link addressProblem}). Tests
   * replace it to reach a server on loopback, the only server a test can run.
   */
  addressPolicy?: (address: string) => string | undefined;
}

/** Time allowed for one remote image, in milliseconds. */
export const remoteImageTimeoutMs = 10_000;
/** Redirects followed for one remote image. */
export const maxRemoteRedirects = 3;

/** The 16 bytes of an IPv6 address or the 4 of an IPv4 address in any form a URL parser accepts. */
export function addressBytes(text: string): number[] | undefined {
  const bare = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  let hostname: string;
  try {
    // The WHATWG parser reads every IPv4 spelling (`2130706433`, `0x7f.1`, `0177.0.0.1`) and
    // serialises IPv6 without an embedded dotted quad.
    hostname = new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname;
  } catch {
    return undefined;
  }
  if (isIP(hostname) === 4) return hostname.split('.').map(Number);
  const inner = hostname.replace(/^\[|\]$/g, '');
  if (isIP(inner) !== 6) return undefined;
  const [head = '', tail] = inner.split('::');
  const groups = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const start = groups(head);
  const end = tail === undefined ? [] : groups(tail);
  const words = [...start, ...new Array(8 - start.length - end.length).fill(0), ...end];
  return words.flatMap((word) => [word >> 8, word & 0xff]);
}

function inRange(bytes: number[], prefix: number[], bits: number): boolean {
  for (let bit = 0; bit < bits; bit++) {
    const index = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (((bytes[index] ?? 0) & mask) !== ((prefix[index] ?? 0) & mask)) return false;
  }
  return true;
}

/** IPv4 ranges that are not the public Internet (RFC 6890 and friends). */
const privateIpv4: Array<[number[], number, string]> = [
  [[0, 0, 0, 0], 8, 'a "this network" address'],
  [[10, 0, 0, 0], 8, 'a private address'],
  [[100, 64, 0, 0], 10, 'a shared (carrier-grade NAT) address'],
  [[127, 0, 0, 0], 8, 'a loopback address'],
  [[169, 254, 0, 0], 16, 'a link-local address'],
  [[172, 16, 0, 0], 12, 'a private address'],
  [[192, 0, 0, 0], 24, 'a protocol-assignment address'],
  [[192, 0, 2, 0], 24, 'a documentation address'],
  [[192, 88, 99, 0], 24, 'a relay address'],
  [[192, 168, 0, 0], 16, 'a private address'],
  [[198, 18, 0, 0], 15, 'a benchmarking address'],
  [[198, 51, 100, 0], 24, 'a documentation address'],
  [[203, 0, 113, 0], 24, 'a documentation address'],
  [[224, 0, 0, 0], 4, 'a multicast address'],
  [[240, 0, 0, 0], 4, 'a reserved address'],
];

function ipv4Problem(bytes: number[]): string | undefined {
  for (const [prefix, bits, why] of privateIpv4) if (inRange(bytes, prefix, bits)) return why;
  return undefined;
}

/**
 * Why an address may not be fetched from, or undefined for a public address. IPv6 is allowed only in
 * global unicast (2000::/3) outside its special ranges; addresses that embed an IPv4 address
 * (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by the address they embed.
 */
export function addressProblem(address: string): string | undefined {
  const bytes = addressBytes(address);
  if (!bytes) return 'not an IP address';
  if (bytes.length === 4) return ipv4Problem(bytes);
  const zeros = (count: number) => new Array(count).fill(0);
  const embedded = bytes.slice(12, 16);
  if (inRange(bytes, zeros(16), 128)) return 'the unspecified address';
  if (inRange(bytes, [...zeros(15), 1], 128)) return 'a loopback address';
  if (inRange(bytes, [...zeros(10), 0xff, 0xff], 96)) return ipv4Problem(embedded) ?? undefined;
  if (inRange(bytes, [...zeros(8), 0xff, 0xff, 0, 0], 96)) return ipv4Problem(embedded) ?? undefined;
  if (inRange(bytes, zeros(12), 96)) return 'an IPv4-compatible address';
  if (inRange(bytes, [0, 0x64, 0xff, 0x9b, ...zeros(8)], 96)) return ipv4Problem(embedded);
  if (inRange(bytes, [0xfe, 0x80], 10)) return 'a link-local address';
  if (inRange(bytes, [0xfc], 7)) return 'a unique local (private) address';
  if (inRange(bytes, [0xff], 8)) return 'a multicast address';
  if (inRange(bytes, [0x20, 0x01, 0x0d, 0xb8], 32)) return 'a documentation address';
  if (inRange(bytes, [0x20, 0x02], 16)) return ipv4Problem(bytes.slice(2, 6));
  if (inRange(bytes, [0x20, 0x01], 23)) return 'a protocol-assignment (Teredo, ORCHID) address';
  if (inRange(bytes, [0x3f, 0xff], 20)) return 'a documentation address';
  if (!inRange(bytes, [0x20], 3)) return 'a reserved address';
  return undefined;
}

async function systemResolve(hostname: string): Promise<ResolvedAddress[]> {
  return dnsLookup(hostname, { all: true, verbatim: true });
}

/** A problem with a remote image, with the rule id of its message. */
class RemoteImageError extends Error {
  constructor(
    message: string,
    readonly ruleId: string,
  ) {
    super(message);
  }
}

/** The images of one build: each address fetched once, however many briefings use it. */
export class RemoteImages {
  private readonly cache = new Map<string, Promise<{ asset: Asset } | { problem: AssetProblem }>>();
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxRedirects: number;
  private readonly resolve: (hostname: string) => Promise<ResolvedAddress[]>;
  private readonly policy: (address: string) => string | undefined;

  constructor(options: RemoteImageOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? remoteImageTimeoutMs;
    this.maxBytes = options.maxBytes ?? maxImageBytes;
    this.maxRedirects = options.maxRedirects ?? maxRemoteRedirects;
    this.resolve = options.resolve ?? systemResolve;
    this.policy = options.addressPolicy ?? addressProblem;
  }

  /** Fetches and checks the image at a web address (`http:` or `https:`). */
  load(url: string): Promise<{ asset: Asset } | { problem: AssetProblem }> {
    let pending = this.cache.get(url);
    if (!pending) {
      pending = this.fetchChecked(url).catch((cause: unknown) => ({
        problem:
          cause instanceof RemoteImageError
            ? { reason: cause.message, ruleId: cause.ruleId }
            : {
                reason: `it could not be fetched (${describeFailure(cause)})`,
                ruleId: 'remote-image-fetch',
              },
      }));
      this.cache.set(url, pending);
    }
    return pending;
  }

  private async fetchChecked(url: string): Promise<{ asset: Asset } | { problem: AssetProblem }> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let current = url;
    for (let hop = 0; hop <= this.maxRedirects; hop++) {
      const response = await this.request(current, signal);
      if ('bytes' in response) return checkImageBytes(response.bytes);
      const next = classifyUrl(new URL(response.location, current).href);
      if (next.kind !== 'web')
        throw new RemoteImageError(
          `it redirects to \`${response.location.slice(0, 60)}\`, which is not a web address`,
          'remote-image-address',
        );
      current = next.url;
    }
    throw new RemoteImageError(`it redirects more than ${this.maxRedirects} times`, 'remote-image-fetch');
  }

  /** Checks the host's addresses, then makes one request to the address checked. */
  private async request(
    url: string,
    signal: AbortSignal,
  ): Promise<{ bytes: Uint8Array } | { location: string }> {
    const target = new URL(url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    let addresses: ResolvedAddress[];
    if (isIP(host)) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      addresses = await this.resolve(host).catch((cause: unknown) => {
        throw new RemoteImageError(
          `its host \`${host}\` could not be resolved (${describeFailure(cause)})`,
          'remote-image-fetch',
        );
      });
    }
    if (addresses.length === 0)
      throw new RemoteImageError(`its host \`${host}\` has no address`, 'remote-image-fetch');
    for (const { address } of addresses) {
      const problem = this.policy(address);
      if (problem)
        throw new RemoteImageError(
          `its host \`${host}\` is ${problem} (\`${address}\`); remote images are fetched from public addresses only`,
          'remote-image-address',
        );
    }
    const [first] = addresses;
    // Connect to the address just checked, so a second resolution cannot swap in another (DNS rebinding).
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, addresses);
      else callback(null, first?.address ?? '', first?.family ?? 4);
    };
    const client = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.get(
        target,
        {
          lookup: pinned,
          agent: false,
          signal,
          headers: { accept: 'image/*', 'accept-encoding': 'identity', 'user-agent': 'briefing-pack' },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          if ([301, 302, 303, 307, 308].includes(status) && response.headers.location) {
            response.resume();
            resolve({ location: response.headers.location });
            return;
          }
          if (status !== 200) {
            response.resume();
            reject(new RemoteImageError(`the server answered ${status}`, 'remote-image-fetch'));
            return;
          }
          const declared = Number(response.headers['content-length'] ?? 0);
          const tooLarge = new RemoteImageError(
            `it is over the ${this.maxBytes / 1024 / 1024} MiB limit`,
            'image-too-large',
          );
          if (declared > this.maxBytes) {
            request.destroy();
            reject(tooLarge);
            return;
          }
          const chunks: Buffer[] = [];
          let length = 0;
          response.on('data', (chunk: Buffer) => {
            length += chunk.length;
            if (length > this.maxBytes) {
              request.destroy();
              reject(tooLarge);
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => resolve({ bytes: new Uint8Array(Buffer.concat(chunks)) }));
          response.on('error', reject);
        },
      );
      request.on('error', (cause) =>
        reject(
          signal.aborted
            ? new RemoteImageError(
                `it took longer than ${this.timeoutMs / 1000} s to fetch`,
                'remote-image-fetch',
              )
            : cause,
        ),
      );
    });
  }
}

function describeFailure(cause: unknown): string {
  if (cause instanceof Error) return (cause as NodeJS.ErrnoException).code ?? cause.message;
  return String(cause);
}

declare module 'vfile' {
  interface DataMap {
    /** On a briefing body in conversion, when remote images are allowed: the build's fetcher. */
    remoteImages: RemoteImages;
  }
}
