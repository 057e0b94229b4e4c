/**
 * The whole app (buildApp) on port 0 with all three channels, a fake Graph API, one agent account, and
 * every log line captured, for the hostile-input and access tests; plus a raw HTTP client that sends
 * exactly the bytes and headers it is given (fetch would fix them up).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Clock } from '../../src/clock.js';
import type { WebChatAdapter } from '../../adapters/webchat/index.js';
import { FakeGraph } from '../fakes/graph.js';

export const SECRETS = {
  messenger: 'm-app-secret-for-security-tests',
  whatsapp: 'w-app-secret-for-security-tests',
  verify: 'verify-token-for-security-tests',
  pageToken: 'EAAG-page-token-for-security-tests',
  waToken: 'EAAG-wa-token-for-security-tests',
  directLine: 'directline-secret-for-security-tests-0123456789',
  password: 'correct horse battery',
};
export const PHONE_ID = '106540352242922';

export interface Harness {
  app: App;
  url: string;
  dataDir: string;
  graph: FakeGraph;
  webchat: WebChatAdapter;
  logs: string[];
  close(): Promise<void>;
}

/** Starts the app; `clock` moves session and token expiry in the access tests; `env` adds or overrides settings; `logLevel` of the captured log (default debug). */
export async function startHarness(options: { clock?: Clock; env?: Record<string, string>; logLevel?: 'debug' | 'warn' } = {}): Promise<Harness> {
  const graph = new FakeGraph({ phoneNumberId: PHONE_ID });
  const graphUrl = await graph.start();
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-security-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    KNOWLEDGE_DIR: 'knowledge',
    GRAPH_API_URL: graphUrl,
    MESSENGER_APP_SECRET: SECRETS.messenger,
    MESSENGER_VERIFY_TOKEN: SECRETS.verify,
    MESSENGER_PAGE_ACCESS_TOKEN: SECRETS.pageToken,
    WHATSAPP_APP_SECRET: SECRETS.whatsapp,
    WHATSAPP_VERIFY_TOKEN: SECRETS.verify,
    WHATSAPP_ACCESS_TOKEN: SECRETS.waToken,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_ID,
    DIRECTLINE_SECRET: SECRETS.directLine,
    ...options.env,
  });
  const logs: string[] = [];
  const app = await buildApp({ config, logger: createLogger(options.logLevel ?? 'debug', 'switchboard', (l) => logs.push(l)), watchKnowledge: false, sleep: async () => {}, clock: options.clock });
  const url = await app.listen(0, '127.0.0.1');
  await app.accounts.add('ada', SECRETS.password, { displayName: 'Ada' });
  return {
    app,
    url,
    dataDir,
    graph,
    webchat: app.adapters.webchat as unknown as WebChatAdapter,
    logs,
    async close() {
      await app.close();
      await graph.close();
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

/**
 * Every route that reads a JSON body except the Meta webhooks, with the credentials it needs (a
 * started web chat conversation, a signed-in agent), for the body-limit tests.
 */
export async function jsonBodyRoutes(h: Harness): Promise<[path: string, headers: Record<string, string>][]> {
  const conversation = h.webchat.generateToken();
  await rawRequest(h.url, 'POST', '/v3/directline/conversations', { authorization: `Bearer ${conversation.token}` });
  const login = await rawRequest(h.url, 'POST', '/api/agent/login', { 'content-type': 'application/json' }, JSON.stringify({ username: 'ada', password: SECRETS.password }));
  const session = JSON.parse(login.text).token as string;
  return [
    ['/v3/directline/tokens/generate', { authorization: `Bearer ${SECRETS.directLine}` }],
    ['/v3/directline/conversations', { authorization: `Bearer ${conversation.token}` }],
    [`/v3/directline/conversations/${conversation.conversationId}/activities`, { authorization: `Bearer ${conversation.token}` }],
    ['/api/agent/login', {}],
    ['/api/agent/conversations/x/messages', { authorization: `Bearer ${session}` }],
    ['/api/agent/conversations/x/notes', { authorization: `Bearer ${session}` }],
    ['/api/agent/conversations/x/transfer', { authorization: `Bearer ${session}` }],
  ];
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Sends `body` as is (no content-type unless given); tolerates the server closing the upload after answering. */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    let answered: RawResponse | undefined;
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: { connection: 'close', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve((answered = { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') })));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(new Error(`${method} ${path}: no answer (${(err as Error).message})`));
    });
    if (body !== undefined) {
      // Set explicitly: node sends a GET/DELETE body without a length, which no server can frame.
      if (!('content-length' in headers)) req.setHeader('content-length', Buffer.byteLength(body));
      req.end(body);
    }
    else req.end();
  });
}

/** Every file under `dir` with its size, to prove a request stored nothing. */
export async function snapshot(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(p.slice(dir.length), (await stat(p)).size);
    }
  };
  await walk(dir);
  return out;
}

/** Files added or resized between two snapshots. */
export function changedFiles(before: Map<string, number>, after: Map<string, number>): string[] {
  const changed: string[] = [];
  for (const [f, size] of after) if (before.get(f) !== size) changed.push(f);
  for (const f of before.keys()) if (!after.has(f)) changed.push(`${f} (removed)`);
  return changed;
}

/** Text that gives away internals: stack frames, file paths, library error names. */
export const LEAK_PATTERN = /\n\s+at |at [\w$.<>]+ \(|node:internal|node_modules|\/work\/|file:\/\/|(?:Type|Reference|Syntax|Range)Error:/;
