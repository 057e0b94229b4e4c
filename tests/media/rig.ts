/**
 * The ready server (`buildApp`) with both Meta channels on the fake Graph API, an agent account, and
 * helpers to send a customer's media as Meta's webhooks do and to read what the agent API shows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { M_SECRET, PHONE_NUMBER_ID, W_SECRET, metaEnv } from '../faults/helpers.js';

export const PHONE_ID = PHONE_NUMBER_ID;
const SECRETS = { whatsapp: W_SECRET, messenger: M_SECRET } as const;
export const AGENT_PASSWORD = 'correct horse battery';

/** A tiny real PNG (1×1, red), so a browser can show it. */
export const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

export interface MediaRig {
  app: App;
  graph: FakeGraph;
  url: string;
  /** A signed webhook POST; returns the HTTP status. */
  post(channel: 'whatsapp' | 'messenger', body: unknown): Promise<number>;
  /** An agent API call with the agent's token (or `token`); JSON body parsed. */
  agent(path: string, init?: { method?: string; body?: unknown; token?: string | null }): Promise<{ status: number; body: any; headers: Headers; bytes: Buffer }>;
  token: string;
  /** Message sends the fake Graph API accepted for `recipient`. */
  sentTo(channel: 'whatsapp' | 'messenger', recipient: string): RecordedRequest[];
  /** Resolves once the agent API's view of `conversationId` satisfies `pred` (the turn runs after the 200). */
  viewWhen(conversationId: string, pred: (view: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

let seq = 0;

/** A WhatsApp webhook with one message of `type` and its part (`{image: {...}}`). */
export function whatsappMessage(waId: string, type: string, part: Record<string, unknown>, wamid = `wamid.media.${++seq}`) {
  const body = whatsappTextWebhook({ waId, name: 'Sheena Nelson', text: 'x', phoneNumberId: PHONE_ID, wamid });
  const m = body.entry[0]!.changes[0]!.value.messages[0]! as Record<string, unknown>;
  delete m.text;
  m.type = type;
  m[type] = part;
  return body;
}

/** A Messenger webhook with one message carrying `attachments` (and optional `sticker_id`). */
export function messengerAttachments(psid: string, attachments: unknown[], extra: Record<string, unknown> = {}) {
  const body = messengerTextWebhook({ psid, text: 'x', mid: `m_media_${++seq}` });
  const message = body.entry[0]!.messaging[0]!.message as Record<string, unknown>;
  delete message.text;
  Object.assign(message, { attachments, ...extra });
  return body;
}

/** Starts the rig; with `databaseUrl`: on a fresh PostgreSQL database of that server. */
export async function startMediaRig(options: { serverDatabaseUrl?: string } = {}): Promise<MediaRig> {
  const graph = new FakeGraph({ phoneNumberId: PHONE_ID });
  const graphUrl = await graph.start();
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-media-'));
  const db = options.serverDatabaseUrl ? await createTestDatabase(options.serverDatabaseUrl) : undefined;
  const config = loadConfig({ ...metaEnv(dataDir, graphUrl), BUSINESS_HOURS: 'Mon-Sun 00:00-24:00', ...(db ? { DATABASE_URL: db.url } : {}) });
  const app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
  const url = await app.listen(0, '127.0.0.1');
  await app.accounts.add('ada', AGENT_PASSWORD, { displayName: 'Ada' });
  const login = await fetch(`${url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ada', password: AGENT_PASSWORD }) });
  const { token } = (await login.json()) as { token: string };

  const rig: MediaRig = {
    app,
    graph,
    url,
    token,
    async post(channel, body) {
      const raw = serializeLikeMeta(body);
      const res = await fetch(`${url}/webhooks/${channel}`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, SECRETS[channel]) }, body: raw });
      await res.arrayBuffer();
      return res.status;
    },
    async agent(path, init = {}) {
      const headers: Record<string, string> = {};
      const t = init.token === undefined ? token : init.token;
      if (t) headers.authorization = `Bearer ${t}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url + path, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
      const bytes = Buffer.from(await res.arrayBuffer());
      let body: any;
      try {
        body = JSON.parse(bytes.toString('utf8'));
      } catch {
        body = undefined;
      }
      return { status: res.status, body, headers: res.headers, bytes };
    },
    sentTo(channel, recipient) {
      return graph.sent(channel).filter((r) => (channel === 'whatsapp' ? r.body?.to : r.body?.recipient?.id) === recipient);
    },
    async viewWhen(conversationId, pred, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < until) {
        const r = await rig.agent(`/api/agent/conversations/${encodeURIComponent(conversationId)}`);
        last = r.body;
        if (r.status === 200 && pred(r.body)) return r.body;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`the agent view of ${conversationId} never matched; last: ${JSON.stringify(last).slice(0, 1500)}`);
    },
    async close() {
      await app.close();
      await graph.close();
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
  return rig;
}
