/**
 * Builds the restify app; never calls `listen` itself so tests can use port 0.
 * Routes come from the plugins: each adapter mounts its own, the agent API mounts its own.
 */
import restify from 'restify';
import type { Logger } from './log.js';
import { applySecurityHeaders } from './security/headers.js';
import { restifyLog } from './security/restify-log.js';
import { resolveForwarded } from './security/proxy.js';
import { limitConnections, resolveConnectionLimits, type ConnectionLimits } from './security/connections.js';
import { metricsHandler, type MetricsRouteOptions } from './ops/metrics.js';

/**
 * What one check found: `ok: false` takes the server out of rotation (storage or database down);
 * `degraded: true` keeps it in while something needs a person's attention (a knowledge file held back).
 */
export interface HealthResult {
  ok: boolean;
  degraded?: true;
  [detail: string]: unknown;
}

/** One readiness check shown in `/healthz`: knowledge loaded, storage writable, ... */
export interface HealthCheck {
  name: string;
  check(): Promise<HealthResult> | HealthResult;
}

/** The overall `/healthz` status (DESIGN.md): failing answers 503, degraded and ok answer 200. */
export type HealthStatus = 'ok' | 'degraded' | 'failing';

export interface ServerOptions {
  logger: Logger;
  health?: HealthCheck[];
  /** Largest request body accepted, in bytes (default 256 KiB). */
  maxBodyBytes?: number;
  /** Reverse-proxy hops whose X-Forwarded-For/-Proto/-Host are believed (Config.trustProxy; default 0). */
  trustProxy?: number;
  /** Timeouts and connection caps against slow clients (Config.connections; default `DEFAULT_CONNECTION_LIMITS`). */
  connections?: Partial<ConnectionLimits>;
  /** Serves `GET /metrics` (Prometheus text format) behind its token or the loopback rule; none: no route. */
  metrics?: Omit<MetricsRouteOptions, 'trustProxy'>;
}

/**
 * Connections the kernel holds for us while the event loop is busy (Node's default is 511; Linux caps
 * it at net.core.somaxconn, 4096 on current kernels). Webhook bursts — Meta retrying a backlog after an
 * outage — open many connections at once; past the queue they are reset and must be retried.
 */
export const LISTEN_BACKLOG = 4096;

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** The restify server with `/healthz` and the common plumbing; adapters and the agent API add routes. */
export function createServer(options: ServerOptions): restify.Server {
  // restify's own log goes through ours, messages only (its default dumps requests with their headers).
  const server = restify.createServer({ name: 'switchboard', handleUncaughtExceptions: false, log: restifyLog(options.logger) as never });
  const health = options.health ?? [];
  const trustProxy = options.trustProxy ?? 0;
  limitConnections(server.server, resolveConnectionLimits(options.connections, trustProxy), options.logger);
  server.pre((req, res, next) => {
    resolveForwarded(req, trustProxy); // the client's address, protocol and host, for rate limits and stream URLs
    applySecurityHeaders(req, res); // nosniff, Referrer-Policy, no-store on APIs, framing rules (src/security/headers.ts)
    return next();
  });
  server.use(restify.plugins.queryParser({ mapParams: false }));

  server.get('/healthz', async (_req, res) => {
    const checks: Record<string, unknown> = {};
    let ok = true;
    let degraded = false;
    for (const h of health) {
      try {
        const r = await h.check();
        checks[h.name] = r;
        ok &&= r.ok;
        degraded ||= r.degraded === true;
      } catch (err) {
        checks[h.name] = { ok: false, error: (err as Error).message };
        ok = false;
      }
    }
    const status: HealthStatus = !ok ? 'failing' : degraded ? 'degraded' : 'ok';
    res.json(ok ? 200 : 503, { status, ok, checks });
  });
  if (options.metrics) server.get('/metrics', metricsHandler({ ...options.metrics, trustProxy }));

  server.on('restifyError', (req, res, err, cb) => {
    // restify answers with {code, message}; keep stack traces out of responses and log only the summary.
    if ((err?.statusCode ?? 500) >= 500) options.logger.error('request failed', { method: req.method, path: req.path(), error: String(err?.message ?? err) });
    // An unexpected throw reaches restify wrapped as `InternalError`, whose message is the original error's
    // (file paths, library internals): answer a fixed message instead. Errors we raise on purpose keep theirs.
    // restify would answer an unexpected throw (not a restify-errors HttpError) with the error's own text
    // (file paths, library internals): answer a fixed message instead. Errors raised on purpose keep theirs.
    if (!(err instanceof Error) || typeof (err as { statusCode?: unknown }).statusCode !== 'number') {
      if (!res.headersSent) res.send(500, { code: 'Internal', message: 'unexpected error; it is in the server log' });
    }
    return cb();
  });
  return server;
}
