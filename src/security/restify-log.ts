/**
 * restify's own logger, routed to ours. restify's default (pino on stdout) logs whole request objects,
 * Authorization headers included (e.g. "Discarded returned value from async handler"); this one keeps
 * only the message text, so no credential or body reaches any log line.
 */
import type { Logger } from '../log.js';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** A pino-shaped object for `restify.createServer({ log })`; `trace()` with no arguments answers false (off). */
export function restifyLog(logger: Logger): Record<Level | 'child', (...args: unknown[]) => unknown> {
  const at = (write: ((msg: string) => void) | undefined) => (...args: unknown[]) => {
    if (!write || args.length === 0) return false;
    const msg = args.filter((a): a is string => typeof a === 'string').join(' ') || 'restify event';
    write(`restify: ${msg}`);
    return true;
  };
  const self: Record<Level | 'child', (...args: unknown[]) => unknown> = {
    child: () => self,
    trace: at(undefined),
    debug: at(undefined),
    info: at((m) => logger.info(m)),
    warn: at((m) => logger.warn(m)),
    error: at((m) => logger.error(m)),
    fatal: at((m) => logger.error(m)),
  };
  return self;
}
