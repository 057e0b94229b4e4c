/**
 * `npm start`: the ready Switchboard server. Composition only — every piece is built in app.ts from
 * the validated configuration.
 */
import { ConfigError, loadConfig, loadDotEnv } from './config.js';
import { createLogger } from './log.js';
import { buildApp } from './app.js';

async function main() {
  loadDotEnv();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const app = await buildApp({ config, logger });
  const url = await app.listen();
  const channels = Object.keys(app.adapters).join(', ');
  logger.info('Switchboard is listening', { url, channels, knowledge: app.knowledge.status().entries });
  console.log(`\nSwitchboard is running.\n  Web chat demo:  ${url}/\n  Agent console:  ${url}/agent\n  Health:         ${url}/healthz\n  Channels:       ${channels}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await app.close();
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
