/**
 * The floor for bench/load.ts: a bare restify server answering the same requests as Switchboard on the
 * same routes, with a canned reply and nothing of ours (no durable inbox, no bot, no state, no
 * transcripts, no handoff). What the load bench measures above this is the cost of our own work.
 *
 * - `POST /webhooks/messenger|whatsapp`: reads the raw body, checks `X-Hub-Signature-256` (HMAC-SHA256,
 *   constant-time compare), parses it, answers 200 `EVENT_RECEIVED`, then makes one canned Send API /
 *   messages API call to GRAPH_API_URL with `fetch` (as our Graph client does).
 * - Direct Line: `POST tokens/generate` (secret) and `POST conversations` (token) answer JSON with a
 *   `streamUrl`; the WebSocket stream is served by `ws`; `POST conversations/{id}/activities` parses
 *   the activity, answers `{id}`, and writes one frame holding the echo and a canned bot reply.
 *
 * Run as a child of bench/load.ts (IPC, see bench/load/ipc.ts):
 *   node --import tsx bench/bare-restify.ts '{"graphApiUrl": "...", "messengerSecret": "...", ...}'
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import restify from 'restify';
import { WebSocket, WebSocketServer } from 'ws';
import { serveMemoryRequests } from './load/ipc.js';
import { LISTEN_BACKLOG } from '../src/server.js';

/** What the bare server needs to answer like Switchboard does. */
export interface BareOptions {
  graphApiUrl: string;
  messengerSecret: string;
  whatsappSecret: string;
  pageAccessToken: string;
  whatsappAccessToken: string;
  phoneNumberId: string;
  directLineSecret: string;
}

const CANNED = 'You can pay your bill by card in the app under Billing → Pay now.';

function readRaw(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function signatureOk(raw: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice(7), 'hex');
  const expected = createHmac('sha256', secret).update(raw).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Builds the bare server; `listen` it yourself. */
export function createBareServer(o: BareOptions): { server: restify.Server; close(): Promise<void> } {
  const server = restify.createServer({ name: 'bare', handleUncaughtExceptions: false });

  for (const channel of ['messenger', 'whatsapp'] as const) {
    server.post(`/webhooks/${channel}`, async (req: restify.Request, res: restify.Response) => {
      const raw = await readRaw(req);
      if (!signatureOk(raw, req.headers['x-hub-signature-256'], channel === 'messenger' ? o.messengerSecret : o.whatsappSecret)) {
        res.send(401, { code: 'Unauthorized', message: 'bad signature' });
        return;
      }
      const body = JSON.parse(raw.toString('utf8'));
      res.sendRaw(200, 'EVENT_RECEIVED', { 'content-type': 'text/plain; charset=utf-8' });
      const [url, reply, auth] =
        channel === 'messenger'
          ? [`${o.graphApiUrl}/me/messages`, { recipient: { id: body.entry[0].messaging[0].sender.id }, messaging_type: 'RESPONSE', message: { text: CANNED } }, o.pageAccessToken]
          : [
              `${o.graphApiUrl}/${o.phoneNumberId}/messages`,
              { messaging_product: 'whatsapp', to: body.entry[0].changes[0].value.messages[0].from, type: 'text', text: { body: CANNED } },
              o.whatsappAccessToken,
            ];
      try {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` }, body: JSON.stringify(reply) });
        await r.text();
      } catch (err) {
        // A lost canned reply shows as a timeout in the bench; the reason goes to stderr, which the bench reports.
        const e = err as Error & { cause?: { code?: string } };
        console.error(`bare: Send API call failed: ${e.cause?.code ?? e.message}`);
      }
    });
  }

  // Direct Line, minimal: tokens are random strings kept in a map, one WebSocket per conversation.
  const tokens = new Map<string, string>(); // token → conversationId
  const sockets = new Map<string, WebSocket>();
  const bearer = (req: restify.Request) => (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
  let seq = 0;
  server.post('/v3/directline/tokens/generate', async (req: restify.Request, res: restify.Response) => {
    await readRaw(req);
    if (bearer(req) !== o.directLineSecret) return res.send(403, { code: 'Forbidden', message: 'secret needed' });
    const conversationId = randomBytes(12).toString('base64url');
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, conversationId);
    res.json(200, { conversationId, token, expires_in: 3600 });
  });
  server.post('/v3/directline/conversations', async (req: restify.Request, res: restify.Response) => {
    await readRaw(req);
    const conversationId = tokens.get(bearer(req));
    if (!conversationId) return res.send(401, { code: 'Unauthorized', message: 'token needed' });
    const host = req.headers.host ?? '127.0.0.1';
    res.json(201, { conversationId, token: bearer(req), expires_in: 3600, streamUrl: `ws://${host}/v3/directline/conversations/${conversationId}/stream?t=${bearer(req)}` });
  });
  server.post('/v3/directline/conversations/:conversationId/activities', async (req: restify.Request, res: restify.Response) => {
    const raw = await readRaw(req);
    const conversationId = String(req.params.conversationId);
    if (tokens.get(bearer(req)) !== conversationId) return res.send(403, { code: 'Forbidden', message: 'not your conversation' });
    const activity = JSON.parse(raw.toString('utf8'));
    const id = `${conversationId}|${++seq}`;
    res.json(200, { id });
    const now = new Date().toISOString();
    const echo = { ...activity, id, from: { id: 'user', role: 'user' }, timestamp: now, conversation: { id: conversationId } };
    const reply = { type: 'message', id: `${conversationId}|${++seq}`, from: { id: 'bare', name: 'Bare', role: 'bot' }, text: CANNED, timestamp: now, replyToId: id, conversation: { id: conversationId } };
    sockets.get(conversationId)?.send(JSON.stringify({ activities: [echo, reply], watermark: String(seq) }));
  });

  const wss = new WebSocketServer({ noServer: true });
  server.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://bare');
    const m = /^\/v3\/directline\/conversations\/([^/]+)\/stream$/.exec(url.pathname);
    const conversationId = m && tokens.get(url.searchParams.get('t') ?? '');
    if (!m || conversationId !== m[1]) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.set(conversationId!, ws);
      ws.on('close', () => {
        if (sockets.get(conversationId!) === ws) sockets.delete(conversationId!);
        tokens.forEach((c, t) => c === conversationId && tokens.delete(t));
      });
    });
  });

  return {
    server,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

if (process.send && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const bare = createBareServer(JSON.parse(process.argv[2] ?? '{}') as BareOptions);
  await new Promise<void>((r) => bare.server.listen(0, '127.0.0.1', LISTEN_BACKLOG, () => r()));
  serveMemoryRequests(() => bare.close());
  process.send({ type: 'ready', url: `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}` });
}
