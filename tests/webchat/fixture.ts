/** A Switchboard server with only the web chat adapter and an echo bot, on a random port, with its own data folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ActivityHandler, type TurnContext } from 'botbuilder';
import { WebChatAdapter, type WebChatAdapterOptions } from '../../adapters/webchat/index.js';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { listen } from '../helpers/http.js';

export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnop';

/** Says "Welcome" when a conversation starts and echoes every message; counts starts per conversation. */
export class EchoBot extends ActivityHandler {
  readonly starts = new Map<string, number>();
  constructor() {
    super();
    this.onMembersAdded(async (context, next) => {
      const id = context.activity.conversation.id;
      this.starts.set(id, (this.starts.get(id) ?? 0) + 1);
      await context.sendActivity('Welcome to the echo bot');
      await next();
    });
    this.onMessage(async (context, next) => {
      await context.sendActivity(`You said: ${context.activity.text}`);
      await next();
    });
  }
}

export async function startWebChat(options: Partial<WebChatAdapterOptions> & { dataDir?: string; logic?: (context: TurnContext) => Promise<void> } = {}) {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'webchat-')));
  const server = createServer({ logger: silentLogger });
  const adapter = new WebChatAdapter({ secret: TEST_SECRET, ...options, dataDir });
  const bot = new EchoBot();
  adapter.mount(server, options.logic ?? ((context) => bot.run(context)));
  const http = await listen(server);
  return {
    adapter,
    bot,
    server,
    dataDir,
    url: http.url,
    domain: `${http.url}/v3/directline`,
    /** Stops the server; `keepData` leaves the folder for a restart. */
    async close(keepData = false) {
      await adapter.close();
      await http.close();
      if (!keepData && !options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A started web chat server, as `startWebChat` gives it. */
export type WebChatApp = Awaited<ReturnType<typeof startWebChat>>;

/** One Direct Line REST call against `app`, the JSON answer parsed. */
export async function api(app: WebChatApp, method: string, path: string, options: { auth?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${app.domain}${path}`, {
    method,
    headers: {
      ...(options.auth ? { Authorization: `Bearer ${options.auth}` } : {}),
      ...(options.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** Starts a conversation with a fresh token, as Web Chat does. */
export async function start(app: WebChatApp) {
  const generated = app.adapter.generateToken();
  const started = await api(app, 'POST', '/conversations', { auth: generated.token });
  if (started.status !== 201) throw new Error(`POST conversations answered ${started.status}: ${JSON.stringify(started.body)}`);
  return started.body as { conversationId: string; token: string; streamUrl: string; expires_in: number };
}
