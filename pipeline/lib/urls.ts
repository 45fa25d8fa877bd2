/**
 * The URL policy of briefing content: which link and image addresses are allowed, decided by a pure
 * function so it can be tested on its own against every trick in the book.
 *
 * Allowed: `https:` and `http:` links, `mailto:` links, in-document `#fragments`, and images given as
 * paths relative to the briefing. Everything else — `javascript:`, `data:`, `file:`, `//host`,
 * backslash and UNC paths, Windows drive paths, absolute paths, schemes or separators hidden behind
 * percent-encoding, and anything encoded twice — is refused.
 *
 * Addresses arrive here as remark-rehype leaves them: already percent-encoded (`\` becomes `%5C`), so
 * every check also looks at the decoded form.
 */

/** What an address is, once normalised the way a browser would read it. */
export type UrlKind =
  | { kind: 'fragment'; fragment: string }
  | { kind: 'web'; url: string }
  | { kind: 'mailto'; url: string }
  /** `path` is the decoded file path, without query or fragment, ready to resolve on disk. */
  | { kind: 'relative'; path: string }
  | { kind: 'refused'; why: string };

/** Normalises like the WHATWG URL parser: trims C0 controls and spaces, drops tabs and newlines inside. */
function normalise(raw: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point.
  return raw.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
}

/** Percent-decodes once; a malformed escape leaves the value as it is. */
function decodeOnce(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const schemePattern = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
const controlCharacters = /[\u0000-\u001f\u007f]/;

/** Classifies a link or image address from a briefing. */
export function classifyUrl(raw: string): UrlKind {
  const value = normalise(raw);
  if (value === '') return { kind: 'refused', why: 'an empty address' };
  if (value.startsWith('#')) return { kind: 'fragment', fragment: value.slice(1) };
  const decoded = decodeOnce(value);
  if (value.includes('\\') || decoded.includes('\\'))
    return { kind: 'refused', why: 'a path with backslashes' };
  if (controlCharacters.test(decoded))
    return { kind: 'refused', why: 'an address with an encoded control character' };
  if (value.startsWith('//') || decoded.startsWith('//'))
    return { kind: 'refused', why: 'an address without a scheme (`//…`)' };
  const scheme = schemePattern.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return classifyRelative(value, decoded);
  if (/^[a-z]$/.test(scheme)) return { kind: 'refused', why: 'a Windows drive path' };
  if (scheme === 'http' || scheme === 'https') {
    try {
      // remark-rehype percent-encodes the brackets of an IPv6 host; a URL parser needs them back.
      const url = new URL(value.replace(/^(https?:\/\/)%5B([0-9a-f:.]+)%5D/i, '$1[$2]'));
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

/** A path relative to the briefing, as long as no decoding turns it into something else. */
function classifyRelative(value: string, decoded: string): UrlKind {
  if (value.startsWith('/') || decoded.startsWith('/')) return { kind: 'refused', why: 'an absolute path' };
  // A colon before any slash makes some readers see a scheme (`java%0Ascript:`, `%6Aavascript:`).
  const firstPart = (text: string) => text.split('/')[0] ?? '';
  if (firstPart(value).includes(':') || firstPart(decoded).includes(':'))
    return { kind: 'refused', why: 'an address with a colon in its first part' };
  if (/%[0-9a-fA-F]{2}/.test(decoded))
    return { kind: 'refused', why: 'a path that is percent-encoded twice (`%25…`)' };
  const path = decodeOnce(value.replace(/[?#].*$/, ''));
  if (path === '') return { kind: 'refused', why: 'an address without a path' };
  return { kind: 'relative', path };
}
