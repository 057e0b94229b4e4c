/**
 * Limits on the HTTP server's connections, against slow and greedy clients: a client that opens
 * sockets and sends half a request (or nothing) must not hold a file descriptor for long, and one
 * address must not take every connection the process can have.
 *
 * - `headersTimeoutMs`: the headers of a request must have arrived this long after its first byte
 *   (Node's `server.headersTimeout`, answered 408); a socket that sends no byte at all is closed after
 *   the same time (Node does not time those out by itself).
 * - `requestTimeoutMs`: the whole request, body included (`server.requestTimeout`, 408).
 * - `keepAliveTimeoutMs`: an idle keep-alive connection is closed after this (`server.keepAliveTimeout`).
 * - `maxConnectionsPerAddress`: sockets open at once from one peer address; more are closed at once.
 *   Sockets are counted per peer, whatever `TRUST_PROXY` says: behind a proxy every socket is the
 *   proxy's, so the cap is off there by default (Config) and the proxy is the place to limit clients.
 *   The host itself (127.0.0.1, ::1) is never capped: that is a proxy, a probe or a load test on the
 *   same machine, not a visitor.
 * - `maxConnections`: sockets open at once in all (`server.maxConnections`); keep it under the
 *   process's file limit (`ulimit -n`) with room for files and the database.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

/** The connection limits of the server (0 turns a cap off). */
export interface ConnectionLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnectionsPerAddress: number;
  maxConnections: number;
}

/**
 * Defaults (Config: `HTTP_HEADERS_TIMEOUT_SECONDS`, `HTTP_REQUEST_TIMEOUT_SECONDS`,
 * `HTTP_KEEP_ALIVE_SECONDS`, `MAX_CONNECTIONS_PER_ADDRESS`, `MAX_CONNECTIONS`).
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  /** Node's 60 s lets 20,000 half-sent requests pile up; a real client sends its headers at once. */
  headersTimeoutMs: 10_000,
  /** Node's 300 s; a 1 MiB webhook or an upload over a slow mobile link fits in 60 s. */
  requestTimeoutMs: 60_000,
  /** Node's default; behind a load balancer set it above the balancer's idle timeout. */
  keepAliveTimeoutMs: 5_000,
  /** A NAT'd office of browsers (each a few sockets) and Meta's delivery hosts stay well under it. */
  maxConnectionsPerAddress: 128,
  /** Under the usual container file limit (1,048,576) and far over one instance's real load; lower it with `ulimit -n`. */
  maxConnections: 10_000,
};

/**
 * The limits to apply: `given` where set, else the defaults — except that behind a proxy
 * (`trustProxy` > 0) the per-address cap is off unless given, since every socket is then the proxy's.
 */
export function resolveConnectionLimits(given: Partial<ConnectionLimits> = {}, trustProxy = 0): ConnectionLimits {
  const pick = <K extends keyof ConnectionLimits>(k: K, fallback = DEFAULT_CONNECTION_LIMITS[k]) => given[k] ?? fallback;
  return {
    headersTimeoutMs: pick('headersTimeoutMs'),
    requestTimeoutMs: pick('requestTimeoutMs'),
    keepAliveTimeoutMs: pick('keepAliveTimeoutMs'),
    maxConnectionsPerAddress: pick('maxConnectionsPerAddress', trustProxy > 0 ? 0 : DEFAULT_CONNECTION_LIMITS.maxConnectionsPerAddress),
    maxConnections: pick('maxConnections'),
  };
}

/** How often Node looks for requests past their header or request timeout: a fraction of the timeout, at most a second. */
function checkingIntervalMs(limits: ConnectionLimits): number {
  return Math.max(50, Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/** Peers that are this host itself, never capped per address. */
const THIS_HOST = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** How often refused connections are summed up in the log (one line per period, however many). */
const REFUSED_LOG_INTERVAL_MS = 10_000;

/**
 * Applies `limits` to `server` (before it listens). Returns the live count of sockets per address,
 * for tests and `/metrics`.
 */
export function limitConnections(server: Server, limits: ConnectionLimits, logger: Logger): { perAddress: ReadonlyMap<string, number> } {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Read by Node when the server starts listening.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = checkingIntervalMs(limits);
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;

  const perAddress = new Map<string, number>();
  let refused = 0;
  let lastLogged = 0;
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const open = (perAddress.get(address) ?? 0) + 1;
    if (limits.maxConnectionsPerAddress > 0 && open > limits.maxConnectionsPerAddress && !THIS_HOST.has(address)) {
      socket.destroy();
      refused++;
      const now = Date.now();
      if (now - lastLogged >= REFUSED_LOG_INTERVAL_MS) {
        logger.warn('refused connections over the per-address cap', { refused, lastAddress: address, cap: limits.maxConnectionsPerAddress });
        refused = 0;
        lastLogged = now;
      }
      return;
    }
    perAddress.set(address, open);
    // Node's header timeout starts with the first byte; a socket that never sends one is ours to close.
    const silent = setTimeout(() => socket.bytesRead === 0 && socket.destroy(), limits.headersTimeoutMs);
    silent.unref();
    socket.once('close', () => {
      clearTimeout(silent);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });
  return { perAddress };
}
