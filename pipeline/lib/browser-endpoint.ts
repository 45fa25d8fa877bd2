/**
 * The address of a browser that runs elsewhere (`--browser-endpoint`, `BRIEFING_PACK_BROWSER_ENDPOINT`):
 * which kind it is, and how to print it without its secrets. No puppeteer here: the command line
 * checks an endpoint before anything heavy is loaded.
 */

/** The kind of a browser endpoint: a DevTools WebSocket, an HTTP address to read one from, or neither. */
export function endpointKind(endpoint: string): 'websocket' | 'http' | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  if (url.hostname === '') return undefined;
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return 'websocket';
  if (url.protocol === 'http:' || url.protocol === 'https:') return 'http';
  return undefined;
}

/**
 * An endpoint as it may be printed: without a password and with the values of its query hidden, so a
 * pool's token (`?token=…`) never reaches a terminal or a CI log.
 */
export function shownEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return endpoint.replace(/[?#].*$/s, '');
  }
  if (url.password) url.password = '***';
  const names = [...new Set(url.searchParams.keys())];
  url.search = '';
  url.hash = '';
  const query = names.map((name) => `${encodeURIComponent(name)}=***`).join('&');
  return `${url.href}${query ? `?${query}` : ''}`;
}
