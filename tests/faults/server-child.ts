/**
 * The ready server as a child process for the fault tests, so a SIGKILL or a file-size limit hits a
 * real process. Usage: `node --import tsx tests/faults/server-child.ts '<json>'` where the JSON is
 * `{env: {...config variables...}, retry?: RetryOptions, watchKnowledge?: boolean}` (the knowledge folder is
 * watched only when asked, as a fault test that edits it does). Prints `LISTENING <url>` once ready.
 * Logs go to stderr (a pipe), never to a file, so a file-size limit on this process cannot kill its logging.
 */
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';

const input = JSON.parse(process.argv[2] ?? '{}') as { env: Record<string, string>; retry?: Record<string, number>; watchKnowledge?: boolean };
const config = loadConfig(input.env);
const app = await buildApp({ config, logger: createLogger(config.logLevel), watchKnowledge: input.watchKnowledge ?? false, retry: input.retry });
const url = await app.listen(0, '127.0.0.1');
process.stdout.write(`LISTENING ${url}\n`);
process.on('SIGTERM', () => {
  void app.close().finally(() => process.exit(0));
});
