/**
 * The URL policy of briefing content: which link and image addresses are allowed, decided by a pure
 * function so it can be tested on its own against every trick in the book.
 *
 * Allowed: `https:` and `http:` links, `mailto:` links, in-document `#fragments`, and images given as
 * paths relative to the briefing. Everything else — `javascript:`, `data:`, `file:`, `//host`,
 * backslash and UNC paths, absolute paths — is refused.
 */

/** What an address is, once normalised the way a browser would read it. */
export type UrlKind =
  | { kind: 'fragment'; fragment: string }
  | { kind: 'web'; url: string }
  | { kind: 'mailto'; url: string }
  | { kind: 'relative'; path: string }
  | { kind: 'refused'; why: string };

/** Normalises like the WHATWG URL parser: trims C0 controls and spaces, drops tabs and newlines inside. */
function normalise(raw: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point.
  return raw.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
}

/** Classifies a link or image address from a briefing. */
export function classifyUrl(raw: string): UrlKind {
  const value = normalise(raw);
  if (value === '') return { kind: 'refused', why: 'an empty address' };
  if (value.startsWith('#')) return { kind: 'fragment', fragment: value.slice(1) };
  if (value.includes('\\')) return { kind: 'refused', why: 'a path with backslashes' };
  if (value.startsWith('//')) return { kind: 'refused', why: 'an address without a scheme (`//…`)' };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (value.startsWith('/')) return { kind: 'refused', why: 'an absolute path' };
    // A colon before any slash would make some readers see a scheme (`java%0Ascript:`); refuse it.
    const beforeSlash = value.split('/')[0] ?? '';
    if (beforeSlash.includes(':'))
      return { kind: 'refused', why: 'an address with a colon in its first part' };
    return { kind: 'relative', path: value };
  }
  if (scheme === 'http' || scheme === 'https') {
    try {
      const url = new URL(value);
      if (url.username || url.password)
        return { kind: 'refused', why: 'a web address with a user name or password' };
      return { kind: 'web', url: url.href };
    } catch {
      return { kind: 'refused', why: 'a malformed web address' };
    }
  }
  if (scheme === 'mailto') return { kind: 'mailto', url: value };
  return { kind: 'refused', why: `the scheme \`${scheme}:\`` };
}
