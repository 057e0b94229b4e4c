/**
 * The ready Switchboard server (src/app.ts `buildApp`) as a child process of bench/load.ts, so the
 * load generator's CPU and memory are not billed to the server. Started with an IPC channel:
 * `node --expose-gc --import tsx bench/load/app-child.ts '<json>'` where the JSON is
 * `{env: {...config variables...}, agents: number, agentPassword: string}`.
 *
 * IPC protocol (no public route is added for it): the child sends `{type: 'ready', url}` once it
 * listens on 127.0.0.1; it answers `{type: 'memory', gc?}` with `{type: 'memory', usage}`
 * (process.memoryUsage() after an optional full GC) and ends on `{type: 'stop'}`.
 */
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { serveMemoryRequests } from './ipc.js';

const input = JSON.parse(process.argv[2] ?? '{}') as { env: Record<string, string>; agents?: number; agentPassword?: string };
const config = loadConfig(input.env);
const app = await buildApp({ config, logger: createLogger(config.logLevel), watchKnowledge: false });
for (let i = 0; i < (input.agents ?? 0); i++) {
  await app.accounts.add(`agent${i}`, input.agentPassword ?? 'bench password', { displayName: `Agent ${i}` });
}
const url = await app.listen(0, '127.0.0.1');
serveMemoryRequests(() => app.close());
process.send!({ type: 'ready', url });
