/**
 * Who is really asking, behind reverse proxies. With `TRUST_PROXY=N` the last N hops are our own
 * proxies (a load balancer, TLS termination): the client is the address N entries from the right of
 * `X-Forwarded-For` + the peer, and the protocol and host customers used come from
 * `X-Forwarded-Proto` / `X-Forwarded-Host`. With 0 (the default) forwarding headers are ignored:
 * anyone can send them, so believing them without a proxy would let a client pick its own address.
 *
 * `createServer` resolves this once per request (`resolveForwarded`); rate limits and Direct Line
 * stream URLs read it through `requestInfo`.
 */
import type { IncomingMessage } from 'node:http';

/** The client's address and the protocol and host it used, as far as the trusted hops tell. */
export interface RequestInfo {
  address: string;
  protocol: 'http' | 'https';
  /** `host[:port]` as the client addressed it. */
  host: string;
}

const resolved = new WeakMap<IncomingMessage, RequestInfo>();

function headerList(req: IncomingMessage, name: string): string[] {
  const raw = req.headers[name];
  const joined = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  return joined
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The value the outermost trusted proxy saw: `hops` entries from the right (each proxy appends its own). */
function fromTrusted(values: string[], hops: number): string | undefined {
  if (values.length === 0 || hops <= 0) return undefined;
  return values[Math.max(0, values.length - hops)];
}

/** Works out `RequestInfo` for `req` believing `trustProxy` hops, and remembers it for `requestInfo`. */
export function resolveForwarded(req: IncomingMessage, trustProxy: number): RequestInfo {
  const peer = req.socket?.remoteAddress ?? 'unknown';
  const secure = Boolean((req.socket as { encrypted?: boolean } | undefined)?.encrypted);
  let info: RequestInfo = { address: peer, protocol: secure ? 'https' : 'http', host: req.headers.host ?? 'localhost' };
  if (trustProxy > 0) {
    const chain = [...headerList(req, 'x-forwarded-for'), peer];
    const proto = fromTrusted(headerList(req, 'x-forwarded-proto'), trustProxy)?.toLowerCase();
    const host = fromTrusted(headerList(req, 'x-forwarded-host'), trustProxy);
    info = {
      address: chain[Math.max(0, chain.length - 1 - trustProxy)]!,
      protocol: proto === 'https' || proto === 'wss' ? 'https' : proto === 'http' || proto === 'ws' ? 'http' : info.protocol,
      host: host && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(host) ? host : info.host,
    };
  }
  resolved.set(req, info);
  return info;
}

/** The request's `RequestInfo` (resolved by the server; the bare peer when the request did not pass through it). */
export function requestInfo(req: IncomingMessage): RequestInfo {
  return resolved.get(req) ?? resolveForwarded(req, 0);
}
