/**
 * Security headers. Each response gets defaults just before its head is written, unless the route set
 * the header itself (restify's `res.header` appends, so routes and this hook never both set one).
 *
 *   every response:  X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer
 *   API JSON (/api, /v3/directline, /webhooks, /healthz): Cache-Control: no-store
 *   demo page (/, /assets/*):  X-Frame-Options: SAMEORIGIN (its CSP is DEMO_PAGE_CSP, set by the page)
 *   agent console (/agent*):   X-Frame-Options: DENY and AGENT_CONSOLE_CSP (frame-ancestors 'none')
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The demo page's policy: Web Chat styles itself with CSS-in-JS (inline styles), talks to us over
 * fetch and WebSocket, and shows data:/blob: images; no eval, no third-party origin. `connect-src blob:`:
 * the Direct Line client reads a picked file from its blob: URL before it uploads it; `worker-src blob:`:
 * Web Chat draws a picked picture's thumbnail in a worker it makes from a blob.
 */
export const DEMO_PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' blob: ws: wss:; worker-src 'self' blob:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/** The agent console's policy: only our own files, never framed (clickjacking of claim/resolve). */
export const AGENT_CONSOLE_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const API_PREFIXES = ['/api/', '/v3/directline', '/webhooks/', '/healthz'];

/** The default headers for a request path. */
export function securityHeadersFor(pathname: string): Record<string, string> {
  const headers: Record<string, string> = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
  if (API_PREFIXES.some((p) => pathname.startsWith(p))) headers['Cache-Control'] = 'no-store';
  else if (pathname === '/agent' || pathname.startsWith('/agent/')) {
    headers['X-Frame-Options'] = 'DENY';
    headers['Content-Security-Policy'] = AGENT_CONSOLE_CSP;
  } else headers['X-Frame-Options'] = 'SAMEORIGIN';
  return headers;
}

/**
 * Installs the defaults on `res`: they are added when the head is written, each only if the route
 * did not set it (call from `server.pre`).
 */
export function applySecurityHeaders(req: IncomingMessage, res: ServerResponse): void {
  const pathname = (req.url ?? '/').split('?')[0]!;
  const defaults = securityHeadersFor(pathname);
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    // Headers passed to writeHead itself win over ours (node merges them after setHeader values).
    for (const [k, v] of Object.entries(defaults)) if (!this.hasHeader(k)) this.setHeader(k, v);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
