/**
 * The preview server of `npm run dev`: the documents of the last good build, served from memory on
 * 127.0.0.1, with live reload over Server-Sent Events.
 *
 * - Each document is mounted at a folder of its own (`/pack/`, `/briefings/<id>/`, `/brief/`,
 *   `/briefs/<id>/`) and everything below it is answered exactly as the print stage answers a page it
 *   prints: the document, its `page.css`, then the build's own files (`sharedResources`: style sheets,
 *   bundled fonts, checked images). Nothing else is served: no file of the disk is ever read by path.
 * - The EPUB's unzipped documents are under `/epub/`, packaged on first request.
 * - Into each page served the server injects one script of its own (`/__dev/client.js`) and a style
 *   sheet for the error overlay. The page's Content-Security-Policy (the templates' `default-src
 *   'none'`…) is kept, and only that script, by a nonce fresh on every response, may run, and only
 *   `/__events` may be connected to. Content scripts still never run. Printed output is never touched:
 *   the injection happens on the way out of this server.
 * - The client script listens on `/__events` and reloads when a newer good build is served, or shows
 *   the build's errors over the page (the last good build stays underneath) until they are fixed.
 * - Requests must name the server by its loopback address (`Host`), so a web page cannot reach it
 *   through a DNS name rebound to 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VFile } from 'vfile';
import type { Resource } from './browser.ts';

/** A document of the preview and where it is mounted. */
export interface PreviewDocument {
  /** The folder it is served at, with slashes around it: `/briefings/dprk-russia/`. */
  mount: string;
  /** Where the index links to, when not the mount itself. */
  href?: string;
  /** What the index calls it. */
  label: string;
  /** `pack`, `brief`, `briefing`, `briefing-brief`, `epub`. */
  kind: string;
  /**
   * Answers a path below the mount as the print stage would (`document.html` is the document
   * itself); may take its time (the EPUB is packaged on first request).
   */
  resolve: (path: string) => Resource | undefined | Promise<Resource | undefined>;
}

/** What the server serves: the documents of one good build. */
export interface Preview {
  /** Counts good builds from 1; the client reloads when it changes. */
  generation: number;
  title: string;
  documents: PreviewDocument[];
}

/** What the client is told after each build. */
export interface DevState {
  /** The generation of the build served (0 until one succeeds). */
  good: number;
  /** The lines of the report when the last build failed (as in the terminal), otherwise null. */
  errors: string[] | null;
  /** The lines of warnings of the last build. */
  warnings: string[];
}

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** The port to listen on; 0 lets the system choose. */
  port: number;
  /** Try the next ports when `port` is busy (the default port), instead of failing. */
  fallback: number;
  host?: string;
}

/** A running preview server. */
export interface DevServer {
  url: string;
  port: number;
  /** Serves a new good build (does not tell the clients: {@link DevServer.publish} does). */
  serve(preview: Preview): void;
  /** Tells every client the state after a build. */
  publish(state: DevState): void;
  close(): Promise<void>;
}

/** Where the injected script and style sheet are served from. */
const devPrefix = '/__dev/';
const eventsPath = '/__events';

/** The policy of a page that has none of its own (the EPUB's XHTML, the server's own pages). */
const strictPolicy =
  "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'";

/** The policy of everything that is not a page: nothing runs if it is opened on its own. */
const resourcePolicy = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

/** The templates' `<meta http-equiv="Content-Security-Policy" …>` (quotes as the layout writes them). */
const metaPolicy = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"\s*\/?>/i;

/** A policy with the server's own script and event stream allowed, and nothing more. */
export function devPolicy(policy: string, nonce: string): string {
  const directives = policy
    .split(';')
    .map((directive) => directive.trim())
    .filter(
      (directive) => directive !== '' && !/^(script-src|script-src-elem|connect-src)\b/i.test(directive),
    );
  return [...directives, `script-src 'nonce-${nonce}'`, "connect-src 'self'"].join('; ');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${(character.codePointAt(0) ?? 0).toString(10)};`);
}

/**
 * Adds the live-reload script and the overlay's style sheet to a page, and opens its policy to them.
 * Returns the page and the policy to send as a header. The markup is valid HTML and XHTML.
 */
export function injectClient(
  page: string,
  generation: number,
  nonce: string,
): { page: string; policy: string } {
  const headEnd = page.search(/<\/head>/i);
  if (headEnd < 0) throw new Error('the page has no </head> to inject the live-reload script into');
  const attributeText = (content: string) => content.replace(/&#39;|&apos;/g, "'");
  const found = new RegExp(metaPolicy.source, 'i').exec(page.slice(0, headEnd));
  const policy = devPolicy(found?.[1] ? attributeText(found[1]) : strictPolicy, nonce);
  // Each policy of the page, opened to the client alone (any one of them would block it otherwise).
  const head = page
    .slice(0, headEnd)
    .replace(
      new RegExp(metaPolicy.source, 'gi'),
      (_meta, content: string) =>
        `<meta http-equiv="Content-Security-Policy" content="${devPolicy(attributeText(content) || strictPolicy, nonce)}"/>`,
    );
  const tags = `<link rel="stylesheet" href="${devPrefix}dev.css"/><script nonce="${nonce}" src="${devPrefix}client.js" data-build="${generation}" defer="defer"></script>`;
  return { page: `${head}${tags}${page.slice(headEnd)}`, policy };
}

/** The script every served page runs: reloads on a newer good build, shows errors over the page. */
export const clientScript = `(() => {
  'use strict';
  const served = Number(document.currentScript && document.currentScript.dataset.build) || 0;
  const id = 'briefing-pack-dev-overlay';
  const hide = () => {
    const overlay = document.getElementById(id);
    if (overlay) overlay.remove();
  };
  const show = (lines) => {
    hide();
    const overlay = document.createElement('div');
    overlay.id = id;
    overlay.setAttribute('role', 'alert');
    const heading = document.createElement('p');
    heading.className = 'briefing-pack-dev-heading';
    heading.textContent = served > 0
      ? 'The last build failed. This is the last good build; fix the errors and the page reloads.'
      : 'The build failed. Fix the errors and the page reloads.';
    const report = document.createElement('pre');
    report.textContent = lines.join('\\n');
    overlay.append(heading, report);
    document.body.append(overlay);
  };
  const apply = (state) => {
    if (state.good !== served) window.location.reload();
    else if (state.errors) show(state.errors);
    else hide();
  };
  // A browser opens at most six connections to a server and an event stream holds one for good, so
  // the open pages share one stream: the page holding the lock listens and tells the others.
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('briefing-pack-dev') : null;
  let last = null;
  const listen = () =>
    new Promise(() => {
      const events = new EventSource('${eventsPath}');
      events.addEventListener('state', (event) => {
        last = JSON.parse(event.data);
        if (channel) channel.postMessage({ state: last });
        apply(last);
      });
    });
  if (channel && navigator.locks) {
    channel.onmessage = (event) => {
      if (event.data.state) {
        last = event.data.state;
        apply(last);
      } else if (event.data.hello && last) {
        channel.postMessage({ state: last });
      }
    };
    navigator.locks.request('briefing-pack-dev-events', listen);
    channel.postMessage({ hello: true });
  } else {
    listen();
  }
})();
`;

/** The overlay's style sheet (only in the preview). */
export const clientStyles = `#briefing-pack-dev-overlay {
  position: fixed; inset: 0; z-index: 2147483647; overflow: auto; margin: 0; padding: 24px;
  background: rgba(40, 0, 0, 0.93); color: #fff; font: 14px/1.5 monospace;
}
#briefing-pack-dev-overlay .briefing-pack-dev-heading { margin: 0 0 12px; font-weight: bold; }
#briefing-pack-dev-overlay pre { margin: 0; white-space: pre-wrap; font: inherit; color: #ffd9d9; }
.briefing-pack-dev-index { font: 16px/1.5 sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
`;

/** The server's own page around some markup (already escaped). */
function ownPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
</head>
<body class="briefing-pack-dev-index">
${body}
</body>
</html>
`;
}

/** The index: the pack, the brief, each briefing and its brief, the EPUB. */
function indexPage(preview: Preview | undefined): string {
  if (!preview) {
    return ownPage(
      'Briefing pack preview',
      '<h1>Briefing pack preview</h1>\n<p>Waiting for a build without errors…</p>',
    );
  }
  const groups = new Map<string, PreviewDocument[]>();
  for (const document of preview.documents) {
    const group = groups.get(document.kind) ?? [];
    group.push(document);
    groups.set(document.kind, group);
  }
  const names: Record<string, string> = {
    pack: 'The pack',
    brief: 'The one-page brief',
    briefing: 'Briefings',
    'briefing-brief': 'One-page briefs of each briefing',
    epub: 'EPUB',
  };
  const sections = [...groups].map(
    ([kind, documents]) =>
      `<h2>${escapeHtml(names[kind] ?? kind)}</h2>\n<ul>\n${documents
        .map(
          (document) =>
            `<li><a href="${escapeHtml(encodeURI(document.href ?? document.mount))}">${escapeHtml(document.label)}</a></li>`,
        )
        .join('\n')}\n</ul>`,
  );
  return ownPage(
    `${preview.title} — preview`,
    `<h1>${escapeHtml(preview.title)}</h1>\n<p>Preview of the HTML the templates make (nothing is printed); pages reload after each build.</p>\n${sections.join('\n')}`,
  );
}

const securityHeaders = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

/** Whether a resource is a page that gets the client (HTML or XHTML). */
function isPage(resource: Resource): boolean {
  return /^(text\/html|application\/xhtml\+xml)/.test(resource.contentType);
}

/** Starts the server; rejects with the listen error (`EADDRINUSE`) when no port could be had. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const host = options.host ?? '127.0.0.1';
  let preview: Preview | undefined;
  let state: DevState = { good: 0, errors: null, warnings: [] };
  const clients = new Set<http.ServerResponse>();
  let port = options.port;

  const send = (
    response: http.ServerResponse,
    status: number,
    contentType: string,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
  ) => {
    response.writeHead(status, {
      ...securityHeaders,
      'Content-Type': contentType,
      'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      ...headers,
    });
    response.end(response.req.method === 'HEAD' ? undefined : body);
  };
  const sendPage = (
    response: http.ServerResponse,
    status: number,
    contentType: string,
    page: string,
    from: Preview | undefined,
  ) => {
    const nonce = randomBytes(16).toString('base64');
    // The generation of the build the page comes from: the client reloads when a newer one is served.
    const injected = injectClient(page, from?.generation ?? 0, nonce);
    send(response, status, contentType, injected.page, { 'Content-Security-Policy': injected.policy });
  };
  const notFound = (response: http.ServerResponse) =>
    send(
      response,
      404,
      'text/plain; charset=utf-8',
      'Not found: the preview serves only the build’s own files.\n',
    );

  const server = http.createServer(async (request, response) => {
    try {
      await handle(request, response);
    } catch (error) {
      if (!response.headersSent)
        send(response, 500, 'text/plain; charset=utf-8', `${(error as Error).message}\n`);
      else response.destroy();
    }
  });

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    // Only this server's own names: a page elsewhere cannot reach it through DNS rebinding.
    const hostHeader = request.headers.host ?? '';
    if (hostHeader !== `${host}:${port}` && hostHeader !== `localhost:${port}`) {
      send(response, 403, 'text/plain; charset=utf-8', 'Forbidden: unexpected Host.\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'text/plain; charset=utf-8', 'Method not allowed.\n', { Allow: 'GET, HEAD' });
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://preview.invalid').pathname);
    } catch {
      notFound(response);
      return;
    }
    if (pathname === eventsPath) {
      response.writeHead(200, {
        ...securityHeaders,
        'Content-Type': 'text/event-stream; charset=utf-8',
        Connection: 'keep-alive',
      });
      response.write(`retry: 500\nevent: state\ndata: ${JSON.stringify(state)}\n\n`);
      clients.add(response);
      request.on('close', () => clients.delete(response));
      return;
    }
    if (pathname === `${devPrefix}client.js`) {
      send(response, 200, 'text/javascript; charset=utf-8', clientScript);
      return;
    }
    if (pathname === `${devPrefix}dev.css`) {
      send(response, 200, 'text/css; charset=utf-8', clientStyles);
      return;
    }
    if (pathname === '/' || pathname === '/index.html') {
      sendPage(response, 200, 'text/html; charset=utf-8', indexPage(preview), preview);
      return;
    }
    if (pathname === '/favicon.ico') {
      send(response, 404, 'text/plain; charset=utf-8', '');
      return;
    }
    if (!preview) {
      // No good build yet: a page that shows the errors and reloads once they are fixed.
      sendPage(response, 503, 'text/html; charset=utf-8', indexPage(undefined), undefined);
      return;
    }
    const served = preview;
    for (const document of served.documents) {
      const rest = pathname.startsWith(document.mount) ? pathname.slice(document.mount.length) : undefined;
      // `/pack` → `/pack/`, so the document's relative links resolve; `/epub/` → its title page.
      const redirect =
        `${pathname}/` === document.mount ? document.mount : rest === '' ? document.href : undefined;
      if (redirect) {
        response.writeHead(302, { ...securityHeaders, Location: encodeURI(redirect) });
        response.end();
        return;
      }
      if (rest === undefined) continue;
      const resource = await document.resolve(rest === '' ? 'document.html' : rest);
      if (!resource) break;
      if (isPage(resource)) sendPage(response, 200, resource.contentType, String(resource.body), served);
      // An image opened on its own (an SVG is a document too) gets no script, even a checked one.
      else
        send(response, 200, resource.contentType, resource.body, {
          'Content-Security-Policy': resourcePolicy,
          // The bundled fonts never change under a name: a reload need not fetch them again.
          ...(resource.contentType === 'font/woff2'
            ? { 'Cache-Control': 'private, max-age=3600, immutable' }
            : {}),
        });
      return;
    }
    notFound(response);
  };

  const listen = (candidate: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        server.off('listening', onListening);
        reject(error);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(candidate, host);
    });
  for (let attempt = 0; ; attempt++) {
    try {
      await listen(options.port === 0 ? 0 : options.port + attempt);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= options.fallback) throw error;
    }
  }
  port = (server.address() as AddressInfo).port;
  // A comment on each event stream now and then, so nothing between closes it as idle.
  const heartbeat = setInterval(() => {
    for (const client of clients) client.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();

  return {
    url: `http://${host}:${port}/`,
    port,
    serve(next) {
      preview = next;
    },
    publish(next) {
      state = next;
      const message = `event: state\ndata: ${JSON.stringify(state)}\n\n`;
      for (const client of clients) client.write(message);
    },
    async close() {
      clearInterval(heartbeat);
      for (const client of clients) client.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The folder a document of the build is served at: `briefings/x.html` → `/briefings/x/`. */
export function mountOf(document: VFile): string {
  return `/${document.path.replace(/\.x?html$/, '')}/`;
}
