/**
 * Simulated customers and agents for bench/load.ts, all over loopback HTTP with a lean keep-alive
 * client (fetch/undici costs more CPU than the server in a shared-CPU bench):
 * - Messenger and WhatsApp customers post signed webhooks; their reply is the Send API / messages API
 *   call arriving at the fake Graph API (routed back here by recipient id);
 * - Direct Line customers open a conversation with a token and post activities; their reply is the
 *   bot's activity on the conversation's WebSocket stream;
 * - agents sign in through the agent API and keep the console's server-sent-event stream open.
 * With several instances (bench/scale.ts) each customer spreads its requests over them round-robin,
 * as a load balancer without session affinity would.
 */
import http from 'node:http';
import { WebSocket } from 'ws';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';

/** The three channels, in report order. */
export const CHANNELS = ['messenger', 'whatsapp', 'webchat'] as const;
export type Channel = (typeof CHANNELS)[number];

/** Secrets and ids both servers are started with, and the customers sign and address with. */
export const SECRETS = {
  messenger: 'bench-m-secret',
  whatsapp: 'bench-w-secret',
  pageAccessToken: 'page-token',
  whatsappAccessToken: 'wa-token',
  phoneNumberId: '106540352242922',
  directLine: 'bench-directline-secret-0123456789abcdefghij',
};

// Idle sockets are closed after 4 s, before the servers' 5 s keep-alive timeout: otherwise a request can
// be written onto a socket the server is closing at that moment (ECONNRESET, a message the bench loses).
const agent = new http.Agent({ keepAlive: true, maxSockets: 4096, timeout: 4000 });

/** Requests written onto a kept-alive socket the server had just closed, and sent again (Node's documented `reusedSocket` retry). */
export const resent = { count: 0 };

/**
 * One HTTP request over the shared keep-alive agent; resolves with status and body text. A request
 * that met ECONNRESET on a reused socket never reached the server (it had closed that idle socket
 * while this busy process had not yet noticed) and is sent once more, as Meta would resend a webhook.
 */
export async function request(url: string, method: string, headers: Record<string, string>, body?: string, timeoutMs = 60_000): Promise<{ status: number; text: string }> {
  try {
    return await requestOnce(url, method, headers, body, timeoutMs);
  } catch (err) {
    if (!(err as { resend?: boolean }).resend) throw err;
    resent.count++;
    return requestOnce(url, method, headers, body, timeoutMs);
  }
}

function requestOnce(url: string, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, timeout: timeoutMs, headers: body !== undefined ? { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } : headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(Object.assign(err, { resend: req.reusedSocket && err.code === 'ECONNRESET' })));
    req.end(body);
  });
}

/** Closes the keep-alive sockets (end of the bench). */
export function closeHttp(): void {
  agent.destroy();
}

/**
 * The instances one customer's requests go to, round-robin from `start` (a load balancer without
 * session affinity); with one URL every request goes there.
 */
export class RoundRobin {
  private n: number;
  constructor(readonly urls: readonly string[], start = 0) {
    if (urls.length === 0) throw new Error('bench/load: RoundRobin needs at least one instance URL');
    this.n = start;
  }
  next(): string {
    return this.urls[this.n++ % this.urls.length]!;
  }
}

const roundRobin = (target: string | RoundRobin) => (typeof target === 'string' ? new RoundRobin([target]) : target);

/** One customer message's outcome. */
export interface TurnResult {
  /** POST sent → first bot message for this customer arrived. */
  firstMs: number;
  /** POST sent → the turn's last message arrived. */
  lastMs: number;
}

/** A customer on one channel: `turn` posts a message and waits for the bot's reply. */
export abstract class Customer {
  private pending?: { t0: number; first?: number; isFinal: (text: string) => boolean; resolve: (r: TurnResult) => void };
  /** Bot messages that arrived while no turn was waiting (e.g. the web chat welcome). */
  stray = 0;
  constructor(readonly channel: Channel, readonly id: string) {}

  /** Called by the router when a bot message for this customer arrives. */
  deliver(text: string): void {
    const p = this.pending;
    if (!p) return void this.stray++;
    const now = performance.now();
    p.first ??= now;
    if (p.isFinal(text)) {
      this.pending = undefined;
      p.resolve({ firstMs: p.first - p.t0, lastMs: now - p.t0 });
    }
  }

  /** Posts `text` and resolves when a message passing `isFinal` has arrived (rejects after `timeoutMs`). */
  async turn(text: string, isFinal: (text: string) => boolean, timeoutMs: number): Promise<TurnResult> {
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<TurnResult>((resolve, reject) => {
      this.pending = { t0: performance.now(), isFinal, resolve };
      timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`${this.channel} customer ${this.id}: no reply to "${text}" in ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await this.post(text);
      return await done;
    } catch (err) {
      this.pending = undefined;
      throw err;
    } finally {
      clearTimeout(timer);
      done.catch(() => undefined);
    }
  }

  protected abstract post(text: string): Promise<void>;
  /** Frees what the customer holds (the web chat WebSocket). */
  close(): void {}
}

let mids = 0;

/** A Messenger or WhatsApp customer: signed webhooks in, replies at the fake Graph API. */
export class MetaCustomer extends Customer {
  private readonly instances: RoundRobin;
  constructor(channel: 'messenger' | 'whatsapp', id: string, target: string | RoundRobin) {
    super(channel, id);
    this.instances = roundRobin(target);
  }
  protected async post(text: string): Promise<void> {
    const raw =
      this.channel === 'messenger'
        ? serializeLikeMeta(messengerTextWebhook({ psid: this.id, text, mid: `m_bench_${++mids}_${Date.now()}` }))
        : serializeLikeMeta(whatsappTextWebhook({ waId: this.id, name: 'Bench Customer', text, phoneNumberId: SECRETS.phoneNumberId, wamid: `wamid.bench${++mids}x${Date.now()}` }));
    const secret = this.channel === 'messenger' ? SECRETS.messenger : SECRETS.whatsapp;
    const res = await request(`${this.instances.next()}/webhooks/${this.channel}`, 'POST', { 'content-type': 'application/json', 'x-hub-signature-256': signBody(raw, secret) }, raw);
    if (res.status !== 200) throw new Error(`${this.channel} webhook answered ${res.status} ${res.text.slice(0, 200)}`);
  }
}

/**
 * A Direct Line customer: token, conversation, WebSocket stream, activities posted over HTTP. With
 * several instances the WebSocket is held by the first one `target` names, and every HTTP request
 * (token, conversation, each activity) goes round-robin to the others, so each reply crosses instances.
 */
export class DirectLineCustomer extends Customer {
  private ws?: WebSocket;
  private token = '';
  private conversationId = '';
  private n = 0;
  private readonly socketUrl: string;
  private readonly http: RoundRobin;
  constructor(id: string, target: string | RoundRobin) {
    super('webchat', id);
    const instances = roundRobin(target);
    this.socketUrl = instances.next();
    const others = instances.urls.filter((u) => u !== this.socketUrl);
    this.http = others.length ? new RoundRobin(others, Math.floor(Math.random() * others.length)) : instances;
  }

  /** Starts the conversation; with `welcome`, waits (up to 15 s) for the bot's first message so it is not taken for a reply. */
  async open(welcome: boolean): Promise<void> {
    const gen = await request(`${this.http.next()}/v3/directline/tokens/generate`, 'POST', { authorization: `Bearer ${SECRETS.directLine}`, 'content-type': 'application/json' }, JSON.stringify({ user: { id: this.id } }));
    if (gen.status !== 200) throw new Error(`tokens/generate answered ${gen.status} ${gen.text.slice(0, 200)}`);
    this.token = (JSON.parse(gen.text) as { token: string }).token;
    const conv = await request(`${this.http.next()}/v3/directline/conversations`, 'POST', { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, '{}');
    if (conv.status !== 201 && conv.status !== 200) throw new Error(`conversations answered ${conv.status} ${conv.text.slice(0, 200)}`);
    const started = JSON.parse(conv.text) as { conversationId: string; streamUrl: string; token: string };
    this.conversationId = started.conversationId;
    this.token = started.token ?? this.token;
    const stream = new URL(started.streamUrl);
    stream.host = new URL(this.socketUrl).host; // the instance that answered need not be the one holding the socket
    const ws = new WebSocket(stream.toString());
    this.ws = ws;
    const welcomed = new Promise<void>((resolve) => {
      ws.on('message', (data) => {
        const text = data.toString();
        if (!text) return;
        for (const a of (JSON.parse(text) as { activities: { type: string; text?: string; from?: { role?: string } }[] }).activities) {
          if (a.type === 'message' && a.from?.role === 'bot') {
            this.deliver(a.text ?? '');
            resolve();
          }
        }
      });
    });
    ws.on('error', () => undefined);
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    if (welcome) await Promise.race([welcomed, new Promise((r) => setTimeout(r, 15_000))]);
  }

  protected async post(text: string): Promise<void> {
    const body = JSON.stringify({ type: 'message', from: { id: this.id, name: 'Bench Customer' }, locale: 'en-US', text, channelData: { clientActivityID: `${this.id}-${++this.n}` } });
    const res = await request(`${this.http.next()}/v3/directline/conversations/${encodeURIComponent(this.conversationId)}/activities`, 'POST', { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' }, body);
    if (res.status !== 200) throw new Error(`POST activities answered ${res.status} ${res.text.slice(0, 200)}`);
  }

  override close(): void {
    this.ws?.terminate();
  }
}

/** A Messenger / WhatsApp reply as the fake Graph API received it: to whom, and its text. */
export function graphReply(api: string, body: any): { to: string; text: string } | undefined {
  if (api === 'messenger') return body?.recipient?.id ? { to: body.recipient.id, text: body.message?.text ?? body.message?.attachment?.payload?.text ?? '' } : undefined;
  if (api === 'whatsapp') return body?.to ? { to: body.to, text: body.text?.body ?? body.interactive?.body?.text ?? '' } : undefined;
  return undefined;
}

/** Signed-in agents with the console's event stream open; counts what they receive. */
export class Agents {
  readonly events: Record<string, number> = {};
  private readonly requests: http.ClientRequest[] = [];
  connected = 0;

  /**
   * Signs in `count` agents (`agent0`..) and opens their `/api/agent/events` streams; resolves once each
   * got `hello`. With several instances agent i signs in on instance i and streams from instance i + 1.
   */
  async connect(target: string | readonly string[], count: number, password: string): Promise<void> {
    const urls = typeof target === 'string' ? [target] : target;
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const login = await request(`${urls[i % urls.length]}/api/agent/login`, 'POST', { 'content-type': 'application/json' }, JSON.stringify({ username: `agent${i}`, password }));
        if (login.status !== 200) throw new Error(`agent login answered ${login.status} ${login.text.slice(0, 200)}`);
        const { token } = JSON.parse(login.text) as { token: string };
        await new Promise<void>((resolve, reject) => {
          const req = http.get(`${urls[(i + 1) % urls.length]}/api/agent/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
            if (res.statusCode !== 200) return reject(new Error(`agent events answered ${res.statusCode}`));
            res.setEncoding('utf8');
            let buffer = '';
            res.on('data', (chunk: string) => {
              buffer += chunk;
              let at;
              while ((at = buffer.indexOf('\n\n')) >= 0) {
                const block = buffer.slice(0, at);
                buffer = buffer.slice(at + 2);
                const name = /^event: (\S+)/m.exec(block)?.[1];
                if (!name) continue;
                this.events[name] = (this.events[name] ?? 0) + 1;
                if (name === 'hello') {
                  this.connected++;
                  resolve();
                }
              }
            });
            res.on('error', () => undefined);
          });
          req.on('error', (err) => (this.connected ? undefined : reject(err)));
          this.requests.push(req);
        });
      }),
    );
  }

  close(): void {
    for (const r of this.requests) r.destroy();
  }
}
