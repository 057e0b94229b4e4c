/**
 * The demo page at `/`: a landing page for the fictional operator "Nimbus Mobile" with Microsoft's
 * Web Chat in a help panel, talking Direct Line to our own server. Web Chat's bundle is served from
 * the installed npm package (no CDN), and the page keeps its conversation id and token in
 * sessionStorage so a reload reconnects to the same conversation with its history.
 *
 * Routes: `GET /`, `GET /assets/webchat.js`, `GET /assets/demo.js`, `GET /assets/demo.css`, and
 * `POST /api/webchat/token` — the site backend's job of exchanging the Direct Line secret for a
 * token, so the secret never reaches the browser.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Request, Response, Server } from 'restify';
import errors from 'restify-errors';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { DEMO_PAGE_CSP } from '../security/headers.js';
import { DEFAULT_RATE_LIMITS, enforceRateLimit, makeLimiter, type RateLimiter, type RateLimitOptions } from '../security/rate-limit.js';

/** Mints a token for a new web chat conversation; `WebChatAdapter` is one. */
export interface WebChatTokenIssuer {
  /** `user.name`: the site's name for a signed-in customer, which agents then see (the demo page has none). */
  generateToken(user?: { id?: string; name?: string }): { conversationId: string; token: string; expires_in: number };
}

/** Options of {@link mountDemoPage}. */
export interface DemoPageOptions {
  /** Issues tokens for new conversations (pass the `WebChatAdapter`). */
  tokens: WebChatTokenIssuer;
  /** Path of the Direct Line routes on this server; default `/v3/directline`. */
  directLinePath?: string;
  /**
   * When people answer, for the chat header (e.g. `BusinessHours.describe()` of the configured
   * `BUSINESS_HOURS`); without it the header promises only the assistant.
   */
  peopleHours?: string;
  /** Web Chat's UMD bundle; default `botframework-webchat/dist/webchat.js` from node_modules. */
  webChatBundlePath?: string;
  logger?: Logger;
  /** Per-address limit on `POST /api/webchat/token` (default `DEFAULT_RATE_LIMITS.webChatToken`); `false`: none. */
  tokenRateLimit?: RateLimiter | RateLimitOptions | false;
}

/** Web Chat's bundle was not found where the page expects it. */
export class WebChatBundleMissingError extends Error {
  override name = 'WebChatBundleMissingError';
}

const here = path.dirname(fileURLToPath(import.meta.url));
const publicDir = path.join(here, 'public');

/** Finds `node_modules/botframework-webchat/dist/webchat.js` from this file upwards. */
export function findWebChatBundle(from = here): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', 'botframework-webchat', 'dist', 'webchat.js');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new WebChatBundleMissingError('mountDemoPage: botframework-webchat/dist/webchat.js not found; run npm install (or pass webChatBundlePath)');
}

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
  cache: string;
}

function asset(file: string, type: string, cache: string, transform?: (text: string) => string): Asset {
  const raw = readFileSync(file);
  const body = transform ? Buffer.from(transform(raw.toString('utf8'))) : raw;
  return { type, body, gzip: gzipSync(body), etag: `"${statSync(file).mtimeMs.toString(36)}-${body.length.toString(36)}"`, cache };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Security headers for our own pages: Web Chat needs inline styles (CSS-in-JS) and WebSockets back to us. */
const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': DEMO_PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** Adds the demo page and its assets to `server`. */
export function mountDemoPage(server: Server, options: DemoPageOptions): void {
  const logger = options.logger ?? silentLogger;
  const directLinePath = options.directLinePath ?? '/v3/directline';
  const assets: Record<string, Asset> = {
    '/': asset(path.join(publicDir, 'index.html'), 'text/html; charset=utf-8', 'no-cache', (html) =>
      html
        .replace('__DIRECT_LINE_PATH__', directLinePath.replace(/[^A-Za-z0-9/_.-]/g, ''))
        .replace('__PEOPLE_HOURS__', () => (options.peopleHours ? ` · people ${escapeHtml(options.peopleHours)}` : '')),
    ),
    '/assets/demo.js': asset(path.join(publicDir, 'demo.js'), 'text/javascript; charset=utf-8', 'no-cache'),
    '/assets/demo.css': asset(path.join(publicDir, 'demo.css'), 'text/css; charset=utf-8', 'no-cache'),
  };
  const bundlePath = options.webChatBundlePath ?? findWebChatBundle();
  let bundle: Asset | undefined; // 3.9 MB: loaded and compressed on first request

  const serve = (get: () => Asset) => async (req: Request, res: Response) => {
    const a = get();
    for (const [k, v] of Object.entries(PAGE_HEADERS)) res.header(k, v);
    res.header('Cache-Control', a.cache);
    res.header('ETag', a.etag);
    if (req.headers['if-none-match'] === a.etag) {
      res.send(304);
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (gzip) res.header('Content-Encoding', 'gzip');
    res.header('Vary', 'Accept-Encoding');
    res.writeHead(200, { 'Content-Type': a.type, 'Content-Length': String((gzip ? a.gzip : a.body).length) });
    res.end(gzip ? a.gzip : a.body);
  };

  for (const route of Object.keys(assets)) server.get(route, serve(() => assets[route]!));
  server.get('/assets/webchat.js', serve(() => (bundle ??= asset(bundlePath, 'text/javascript; charset=utf-8', 'public, max-age=86400'))));

  const tokenLimiter = makeLimiter(options.tokenRateLimit, DEFAULT_RATE_LIMITS.webChatToken);
  server.post('/api/webchat/token', async (req: Request, res: Response) => {
    enforceRateLimit(tokenLimiter, req, res, 'POST /api/webchat/token');
    try {
      res.header('Cache-Control', 'no-store');
      res.json(200, options.tokens.generateToken());
    } catch (err) {
      logger.error('demo page could not issue a web chat token', { error: (err as Error).message });
      throw new errors.InternalServerError('could not start a chat; try again');
    }
  });
}
