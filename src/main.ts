/**
 * `npm start`: the ready Switchboard server. Composition only — every piece is built in app.ts from
 * the validated configuration.
 */
import { ConfigError, loadConfig, loadDotEnv } from './config.js';
import { createLogger } from './log.js';
import { buildApp } from './app.js';

/** How long a stop may take before the process exits anyway (with code 1). */
const FORCED_EXIT_MS = 10_000;

async function main() {
  loadDotEnv();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const app = await buildApp({ config, logger });
  const url = await app.listen();
  const channels = Object.keys(app.adapters).join(', ');
  logger.info('Switchboard is listening', { url, channels, knowledge: app.knowledge.status().entries });
  console.log(`\nSwitchboard is running.\n  Web chat demo:  ${url}/\n  Agent console:  ${url}/agent\n  Health:         ${url}/healthz\n  Channels:       ${channels}\n`);
  // A broken knowledge file does not stop the server (its last good version serves): say so where the operator looks.
  const knowledge = app.knowledge.summary();
  if (knowledge.status === 'degraded') console.log(`  Knowledge is degraded (see /healthz): ${knowledge.lastError}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.info('stopping', { signal });
    // A last resort only: close() ends streams and sockets itself and is done well within this.
    const force = setTimeout(() => {
      logger.error('did not stop in time; exiting anyway', { signal, ms: Date.now() - started });
      process.exit(1);
    }, FORCED_EXIT_MS);
    force.unref();
    try {
      await app.close();
    } catch (err) {
      logger.error('stopping failed', { signal, error: (err as Error).message });
      process.exit(1);
    }
    logger.info('stopped', { signal, ms: Date.now() - started });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: Error) => {
  // Configuration and knowledge problems are the user's to fix: print them plainly, without a stack.
  const plain = err instanceof ConfigError || err.name === 'KnowledgeLoadError' || err.name === 'BusinessHoursError';
  console.error(plain ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
