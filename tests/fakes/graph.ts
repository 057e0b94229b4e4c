/**
 * A local fake of Meta's Graph API for the Messenger and WhatsApp tests and benchmarks: node http on
 * port 0. It checks paths, access tokens (`access_token` query or `Authorization: Bearer`) and bodies
 * against zod schemas that mirror Meta's documented rules (text length, quick-reply and button counts,
 * title lengths, messaging_type / tag rules), records every request, and can be told to answer
 * 429 (with Retry-After), 500, or the window errors (Messenger 10/2018278, WhatsApp 131047).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { FakeGraphMedia } from './graph-media.js';
import { FakeGraphUploads } from './graph-uploads.js';

/** One request the fake answered, as the tests inspect it. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  body: any;
  /** What the fake answered. */
  status: number;
  response: any;
  /** ms since epoch when it arrived (for benchmarks). */
  at: number;
  /** `messenger`, `whatsapp` or `profile`. */
  api: 'messenger' | 'whatsapp' | 'profile' | 'media' | 'unknown';
  /** True for message sends (not sender actions, read receipts, profile lookups). */
  isMessage: boolean;
}

/** A failure the fake answers instead of success (see `failNext`), in Meta's error envelope. */
export interface ScriptedFailure {
  status: number;
  code?: number;
  subcode?: number;
  message?: string;
  retryAfterSeconds?: number;
}

/** Tokens and data the fake checks against; defaults match tests/meta/helpers.ts. */
export interface FakeGraphOptions {
  pageAccessToken?: string;
  whatsappAccessToken?: string;
  phoneNumberId?: string;
  /** Messenger User Profile API answers, by PSID. */
  profiles?: Record<string, { first_name: string; last_name: string }>;
  /** Keep request bodies (default true; benchmarks may turn it off). */
  record?: boolean;
}

// ---- Messenger Send API rules (https://developers.facebook.com/docs/messenger-platform/reference/send-api/)
const quickReply = z.object({
  content_type: z.enum(['text', 'user_phone_number', 'user_email']),
  title: z.string().min(1).max(20, 'quick reply title over 20 characters'),
  payload: z.union([z.string().max(1000), z.number()]),
  image_url: z.string().optional(),
});
const messengerMessage = z.union([
  z.object({
    text: z.string().min(1).max(2000, 'text over 2000 characters'),
    quick_replies: z.array(quickReply).min(1).max(13, 'more than 13 quick replies').optional(),
    metadata: z.string().optional(),
  }).strict(),
  z.object({
    attachment: z.object({ type: z.enum(['image', 'video', 'audio', 'file', 'template']), payload: z.record(z.string(), z.unknown()) }),
    quick_replies: z.array(quickReply).max(13).optional(),
  }).strict(),
]);
/** A PSID, or a Customer Chat Plugin guest's `user_ref` (answered without `recipient_id`). */
const messengerRecipient = z.union([z.object({ id: z.string().min(1) }).strict(), z.object({ user_ref: z.string().min(1) }).strict()]);
const messengerSend = z.union([
  z.object({ recipient: messengerRecipient, sender_action: z.enum(['typing_on', 'typing_off', 'mark_seen']) }).strict(),
  z
    .object({
      recipient: messengerRecipient,
      messaging_type: z.enum(['RESPONSE', 'UPDATE', 'MESSAGE_TAG']),
      tag: z.string().optional(),
      message: messengerMessage,
    })
    .strict()
    .refine((b) => (b.messaging_type === 'MESSAGE_TAG') === (b.tag !== undefined), 'tag is required with MESSAGE_TAG and only then')
    .refine((b) => b.tag === undefined || b.tag === 'HUMAN_AGENT', 'since 27 April 2026 only the HUMAN_AGENT tag is accepted'),
]);

// ---- WhatsApp messages API rules (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages)
const replyButton = z.object({ type: z.literal('reply'), reply: z.object({ id: z.string().min(1).max(256), title: z.string().min(1).max(20, 'button title over 20 characters') }) });
const listRow = z.object({ id: z.string().min(1).max(256), title: z.string().min(1).max(24, 'row title over 24 characters'), description: z.string().max(72).optional() });
const interactive = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('button'),
    header: z.unknown().optional(),
    footer: z.object({ text: z.string().max(60) }).optional(),
    body: z.object({ text: z.string().min(1).max(1024, 'button body over 1024 characters') }),
    action: z.object({ buttons: z.array(replyButton).min(1).max(3, 'more than 3 reply buttons') }),
  }),
  z.object({
    type: z.literal('list'),
    header: z.unknown().optional(),
    footer: z.object({ text: z.string().max(60) }).optional(),
    body: z.object({ text: z.string().min(1).max(4096) }),
    action: z.object({
      button: z.string().min(1).max(20),
      sections: z
        .array(z.object({ title: z.string().max(24).optional(), rows: z.array(listRow).min(1) }))
        .min(1)
        .max(10)
        .refine((s) => s.reduce((n, x) => n + x.rows.length, 0) <= 10, 'more than 10 rows in all sections'),
    }),
  }),
]);
const waBase = { messaging_product: z.literal('whatsapp'), recipient_type: z.literal('individual').optional(), to: z.string().min(1), context: z.object({ message_id: z.string() }).optional() };
const whatsappSend = z.union([
  z.object({ messaging_product: z.literal('whatsapp'), status: z.literal('read'), message_id: z.string().min(1), typing_indicator: z.object({ type: z.literal('text') }).optional() }).strict(),
  z.object({ ...waBase, type: z.literal('text'), text: z.object({ body: z.string().min(1).max(4096, 'text over 4096 characters'), preview_url: z.boolean().optional() }) }).strict(),
  z.object({ ...waBase, type: z.literal('interactive'), interactive }).strict(),
  z.object({ ...waBase, type: z.literal('template'), template: z.object({ name: z.string().min(1), language: z.object({ code: z.string().min(2) }), components: z.array(z.unknown()).optional() }) }).strict(),
  z.object({ ...waBase, type: z.literal('image'), image: z.object({ link: z.string().url().optional(), id: z.string().optional(), caption: z.string().max(1024).optional() }) }).strict(),
  z
    .object({ ...waBase, type: z.literal('document'), document: z.object({ link: z.string().url().optional(), id: z.string().optional(), caption: z.string().max(1024).optional(), filename: z.string().max(240).optional() }).strict() })
    .strict(),
]);

/** The fake Graph API server; `start()` it, point `graphApiUrl` at `url`. */
export class FakeGraph {
  readonly requests: RecordedRequest[] = [];
  private server?: Server;
  private scripted: ScriptedFailure[] = [];
  private readonly closedWindows = new Set<string>();
  private seq = 0;
  private readonly listeners: ((rec: RecordedRequest, body: any) => void)[] = [];
  private waiters: { pred: (r: RecordedRequest) => boolean; count: number; resolve: () => void }[] = [];
  url = '';
  readonly options: Required<FakeGraphOptions>;
  /** Customers' files: WhatsApp's media lookup and download, Messenger's CDN (tests/fakes/graph-media.ts). */
  readonly media = new FakeGraphMedia({
    whatsappAccessToken: () => this.options.whatsappAccessToken,
    phoneNumberId: () => this.options.phoneNumberId,
    origin: () => new URL(this.url).origin,
  });

  /** Files our server uploaded: WhatsApp `/media`, Messenger multipart sends (tests/fakes/graph-uploads.ts). */
  readonly uploads = new FakeGraphUploads({
    pageAccessToken: () => this.options.pageAccessToken,
    whatsappAccessToken: () => this.options.whatsappAccessToken,
    phoneNumberId: () => this.options.phoneNumberId,
    windowClosed: (id) => this.closedWindows.has(id),
  });

  constructor(options: FakeGraphOptions = {}) {
    this.options = {
      pageAccessToken: options.pageAccessToken ?? 'page-token',
      whatsappAccessToken: options.whatsappAccessToken ?? 'wa-token',
      phoneNumberId: options.phoneNumberId ?? '106540352242922',
      profiles: options.profiles ?? {},
      record: options.record ?? true,
    };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v23.0`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** The next `times` message sends get this failure (sender actions and read receipts are not affected). */
  failNext(times: number, failure: ScriptedFailure): void {
    for (let i = 0; i < times; i++) this.scripted.push(failure);
  }

  /** Free-form sends to this recipient fail as Meta does outside the window (HUMAN_AGENT and templates pass). */
  closeWindow(recipientId: string): void {
    this.closedWindows.add(recipientId);
  }

  /** The customer wrote again, which opens their window: free-form sends to them pass again. */
  openWindow(recipientId: string): void {
    this.closedWindows.delete(recipientId);
  }

  /** Message sends that were accepted (2xx), optionally for one API. */
  sent(api?: 'messenger' | 'whatsapp'): RecordedRequest[] {
    return this.requests.filter((r) => r.isMessage && r.status === 200 && (!api || r.api === api));
  }

  /** Resolves once `count` recorded requests match `pred` (already recorded ones count). */
  waitFor(pred: (r: RecordedRequest) => boolean, count = 1, timeoutMs = 10_000): Promise<void> {
    if (this.requests.filter(pred).length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { pred, count, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`FakeGraph: timed out waiting for ${count} matching request(s); got ${this.requests.filter(pred).length} of ${this.requests.length}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Waits for `count` accepted message sends. */
  waitForSent(count: number, api?: 'messenger' | 'whatsapp', timeoutMs?: number): Promise<void> {
    return this.waitFor((r) => r.isMessage && r.status === 200 && (!api || r.api === api), count, timeoutMs);
  }

  /** Calls `fn` for every request as it is answered, with its body even when recording is off (benchmarks). */
  onRequest(fn: (rec: RecordedRequest, body: any) => void): void {
    this.listeners.push(fn);
  }

  reset(): void {
    this.requests.length = 0;
    this.scripted = [];
    this.closedWindows.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.media.serve(req, res)) return; // file downloads are bytes, not Graph JSON
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    let body: any;
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      authorization: req.headers.authorization,
      body: this.options.record ? body : undefined,
      status: 0,
      response: undefined,
      at: Date.now(),
      api: 'unknown',
      isMessage: false,
    };
    const form = await this.uploads.parse(req.headers, Buffer.concat(chunks));
    const [status, response, headers] = form ? this.routeForm(rec, form, req.headers.authorization, query) : this.route(rec, body, req.headers.authorization, query);
    rec.status = status;
    rec.response = response;
    if (this.options.record) this.requests.push(rec);
    for (const fn of this.listeners) fn(rec, body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(response));
    for (const w of [...this.waiters]) {
      if (this.requests.filter(w.pred).length >= w.count) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve();
      }
    }
  }

  /** A multipart request (a file upload): recorded with its fields and file sizes, answered by `uploads`. */
  private routeForm(rec: RecordedRequest, form: NonNullable<Awaited<ReturnType<FakeGraphUploads['parse']>>>, authorization: string | undefined, query: Record<string, string>): [number, unknown, Record<string, string>?] {
    const path = /^\/v\d+\.\d+\/(.+)$/.exec(rec.path)?.[1] ?? '';
    const token = query.access_token ?? (authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined);
    const { api, isMessage, answer } = this.uploads.route(rec.method, path, token, form);
    rec.api = api;
    rec.isMessage = isMessage;
    if (this.options.record) rec.body = { ...form.fields, files: form.files.map((f) => ({ field: f.field, filename: f.filename, contentType: f.contentType, size: f.bytes.length })) };
    return answer;
  }

  private route(rec: RecordedRequest, body: any, authorization: string | undefined, query: Record<string, string>): [number, unknown, Record<string, string>?] {
    const m = /^\/v\d+\.\d+\/(.+)$/.exec(rec.path);
    if (!m) return graphError(400, 2500, undefined, `Unknown path ${rec.path}: expected /v<major>.<minor>/...`);
    const path = m[1]!;
    const token = query.access_token ?? (authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined);

    if (rec.method === 'POST' && (path === 'me/messages' || /^\d+\/messages$/.test(path)) && path !== `${this.options.phoneNumberId}/messages`) {
      rec.api = 'messenger';
      if (token !== this.options.pageAccessToken) return graphError(400, 190, undefined, 'Invalid OAuth access token - Cannot parse access token');
      const parsed = messengerSend.safeParse(body);
      if (!parsed.success) return graphError(400, 100, undefined, `(#100) ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      rec.isMessage = 'message' in parsed.data;
      if (!rec.isMessage) return [200, { recipient_id: body.recipient.id }];
      const scripted = this.scripted.shift();
      if (scripted) return scriptedResponse(scripted);
      if (this.closedWindows.has(body.recipient.id) && body.tag !== 'HUMAN_AGENT')
        return graphError(400, 10, 2018278, '(#10) This message is sent outside of allowed window.');
      // Sends to a user_ref are answered without recipient_id (Send API reference).
      return [200, { ...(body.recipient.id ? { recipient_id: body.recipient.id } : {}), message_id: `m_fake_${++this.seq}` }];
    }

    if (rec.method === 'POST' && path === `${this.options.phoneNumberId}/messages`) {
      rec.api = 'whatsapp';
      if (token !== this.options.whatsappAccessToken) return graphError(401, 190, undefined, 'Invalid OAuth access token - Cannot parse access token');
      const parsed = whatsappSend.safeParse(body);
      if (!parsed.success) return graphError(400, 100, undefined, `(#100) Invalid parameter: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      rec.isMessage = !('status' in parsed.data);
      if (!rec.isMessage) return [200, { success: true }];
      const mediaObject = body.type === 'image' ? body.image : body.type === 'document' ? body.document : undefined;
      if (mediaObject && (mediaObject.id === undefined) === (mediaObject.link === undefined)) return graphError(400, 100, undefined, `(#100) Invalid parameter: ${body.type} needs exactly one of id or link`);
      if (mediaObject?.id !== undefined && !this.uploads.has(mediaObject.id)) return graphError(400, 131053, undefined, `(#131053) Media upload error: unknown media id ${mediaObject.id}`);
      const scripted = this.scripted.shift();
      if (scripted) return scriptedResponse(scripted);
      if (this.closedWindows.has(body.to) && body.type !== 'template') return graphError(400, 131047, undefined, '(#131047) Re-engagement message');
      return [200, { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: `wamid.fake${++this.seq}` }] }];
    }

    const media = this.media.lookup(rec.method, path, token, query);
    if (media) {
      rec.api = 'media';
      return media;
    }

    if (rec.method === 'GET' && /^[\w.-]+$/.test(path)) {
      rec.api = 'profile';
      if (token !== this.options.pageAccessToken) return graphError(400, 190, undefined, 'Invalid OAuth access token');
      const p = this.options.profiles[path];
      if (!p) return graphError(400, 100, 33, `Unsupported get request. Object with ID '${path}' does not exist`);
      return [200, { ...p, id: path }];
    }
    return graphError(400, 2500, undefined, `Unknown path components: /${path}`);
  }
}

function graphError(status: number, code: number, subcode: number | undefined, message: string, headers?: Record<string, string>): [number, unknown, Record<string, string>?] {
  return [status, { error: { message, type: 'OAuthException', code, ...(subcode !== undefined ? { error_subcode: subcode } : {}), fbtrace_id: 'AFakeTrace' } }, headers];
}

function scriptedResponse(f: ScriptedFailure): [number, unknown, Record<string, string>?] {
  return graphError(
    f.status,
    f.code ?? (f.status === 429 ? 4 : 2),
    f.subcode,
    f.message ?? (f.status === 429 ? '(#4) Application request limit reached' : 'An unexpected error has occurred. Please retry your request later.'),
    f.retryAfterSeconds !== undefined ? { 'retry-after': String(f.retryAfterSeconds) } : undefined,
  );
}
