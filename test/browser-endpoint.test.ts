import { describe, expect, it } from 'vitest';
import { endpointKind, shownEndpoint } from '../pipeline/lib/browser-endpoint.ts';

describe('a browser endpoint', () => {
  it('is a DevTools WebSocket or an HTTP address to read one from', () => {
    expect(endpointKind('ws://127.0.0.1:9222/devtools/browser/1f2e')).toBe('websocket');
    expect(endpointKind('wss://pool.internal/?token=x')).toBe('websocket');
    expect(endpointKind('http://127.0.0.1:9222')).toBe('http');
    expect(endpointKind('https://pool.internal')).toBe('http');
    for (const wrong of ['127.0.0.1:9222', 'ftp://pool', 'ws://', 'file:///tmp/x', '', 'pool'])
      expect(endpointKind(wrong), wrong).toBeUndefined();
  });

  it('is shown without its password or the values of its query', () => {
    expect(shownEndpoint('ws://127.0.0.1:9222/devtools/browser/1f2e')).toBe(
      'ws://127.0.0.1:9222/devtools/browser/1f2e',
    );
    expect(shownEndpoint('wss://pool.internal/?token=s3cret&--font-render-hinting=none')).toBe(
      'wss://pool.internal/?token=***&--font-render-hinting=***',
    );
    expect(shownEndpoint('ws://me:s3cret@pool:3000/x#s3cret')).toBe('ws://me:***@pool:3000/x');
    expect(shownEndpoint('pool:3000?token=s3cret')).not.toContain('s3cret');
    expect(shownEndpoint('not a url ?token=s3cret')).not.toContain('s3cret');
  });
});
