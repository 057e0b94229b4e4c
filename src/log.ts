/**
 * A small structured logger: one JSON object per line on stderr. Never log secrets or tokens;
 * pass identifiers, not credentials.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export function createLogger(level: LogLevel = 'info', component = 'switchboard', sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const min = order[level];
  const at = (lvl: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < min) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level: lvl, component, msg, ...fields }));
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (c) => createLogger(level, `${component}.${c}`, sink),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger('silent');
