import { describe, expect, it } from 'vitest';
import { classifyUrl } from '../pipeline/lib/urls.ts';

/** Addresses as remark-rehype hands them over (percent-encoded where Markdown allowed raw characters). */
const refused: Array<[string, string]> = [
  ['javascript:alert(1)', 'the scheme `javascript:`'],
  ['JaVaScRiPt:alert(1)', 'the scheme `javascript:`'],
  ['  javascript:alert(1)', 'the scheme `javascript:`'],
  ['java\tscript:alert(1)', 'the scheme `javascript:`'],
  ['java%0Ascript:alert(1)', 'an address with an encoded control character'],
  ['%6A%61vascript:alert(1)', 'an address with a colon in its first part'],
  ['javascript%3Aalert(1)', 'an address with a colon in its first part'],
  ['javascript%253Aalert(1)', 'a path that is percent-encoded twice (`%25…`)'],
  ['vbscript:msgbox(1)', 'the scheme `vbscript:`'],
  ['data:text/html,%3Cscript%3E', 'the scheme `data:`'],
  ['data:image/svg+xml;base64,PHN2Zz4=', 'the scheme `data:`'],
  ['DATA:image/png;base64,AAAA', 'the scheme `data:`'],
  ['file:///etc/passwd', 'the scheme `file:`'],
  ['FILE:///etc/passwd', 'the scheme `file:`'],
  ['//127.0.0.1/x.png', 'an address without a scheme (`//…`)'],
  ['%2F%2F127.0.0.1/x.png', 'an address without a scheme (`//…`)'],
  ['\\\\server\\share\\x.png', 'a path with backslashes'],
  ['%5C%5Cserver%5Cshare%5Cx.png', 'a path with backslashes'],
  ['..%5C..%5Csecret.png', 'a path with backslashes'],
  ['https:/%5C127.0.0.1/', 'a path with backslashes'],
  ['C:/Windows/win.ini', 'a Windows drive path'],
  ['c:%5Cx.png', 'a path with backslashes'],
  ['/etc/passwd', 'an absolute path'],
  ['%2Fetc%2Fpasswd', 'an absolute path'],
  ['%252e%252e/%252e%252e/secret.png', 'a path that is percent-encoded twice (`%25…`)'],
  ['x.png%00.svg', 'an address with an encoded control character'],
  ['http://user:password@127.0.0.1/', 'a web address with a user name or password'],
  ['http://[::1', 'a malformed web address'],
  ['', 'an empty address'],
];

describe('classifyUrl', () => {
  it.each(refused)('refuses `%s` as %s', (raw, why) => {
    expect(classifyUrl(raw)).toEqual({ kind: 'refused', why });
  });

  it('keeps web and e-mail addresses, normalised as a browser reads them', () => {
    expect(classifyUrl('HTTPS://Example.org/a b')).toEqual({ kind: 'web', url: 'https://example.org/a%20b' });
    expect(classifyUrl('http://2130706433/')).toEqual({ kind: 'web', url: 'http://127.0.0.1/' });
    expect(classifyUrl('https://%5B::1%5D:8080/x')).toEqual({ kind: 'web', url: 'https://[::1]:8080/x' });
    expect(classifyUrl('mailto:desk@example.org')).toEqual({
      kind: 'mailto',
      url: 'mailto:desk@example.org',
    });
  });

  it('keeps fragments for the anchor check', () => {
    expect(classifyUrl('#the-answer')).toEqual({ kind: 'fragment', fragment: 'the-answer' });
  });

  it('decodes a relative path once and drops its query and fragment', () => {
    expect(classifyUrl('../assets/a%20map.png?v=2#top')).toEqual({
      kind: 'relative',
      path: '../assets/a map.png',
    });
    expect(classifyUrl('%2e%2e/%2e%2e/secret.png')).toEqual({ kind: 'relative', path: '../../secret.png' });
  });
});
