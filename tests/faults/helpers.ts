/**
 * Shared rig of the fault tests: the ready server in a child process (real SIGKILL, real file-size
 * limits), a gate in front of the fake Graph API that can hold, fail or hang requests, signed webhook
 * posts, and the `FAULT-COUNTS` line the lead copies into BENCHMARKS.md.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Activity } from 'botbuilder';
import { LowdbTranscriptStore } from '../../src/storage/index.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';

export const PHONE_NUMBER_ID = '106540352242922';
export const M_SECRET = 'm-secret';
export const W_SECRET = 'w-secret';
const here = join(fileURLToPath(import.meta.url), '..');
export const KNOWLEDGE_DIR = join(here, '..', '..', 'knowledge');

/** The environment of a server with both Meta channels on, pointed at `graphApiUrl`. */
export function metaEnv(dataDir: string, graphApiUrl: string, knowledgeDir = KNOWLEDGE_DIR): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    KNOWLEDGE_DIR: knowledgeDir,
    GRAPH_API_URL: graphApiUrl,
    LOG_LEVEL: 'error',
    MESSENGER_APP_SECRET: M_SECRET,
    MESSENGER_VERIFY_TOKEN: 'v',
    MESSENGER_PAGE_ACCESS_TOKEN: 'page-token',
    WHATSAPP_APP_SECRET: W_SECRET,
    WHATSAPP_VERIFY_TOKEN: 'v',
    WHATSAPP_ACCESS_TOKEN: 'wa-token',
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
  };
}

/** The server in its own process. */
export interface Child {
  proc: ChildProcess;
  url: string;
  stderr: string[];
  /** SIGKILL: no cleanup of any kind runs in the server. */
  kill(): Promise<void>;
  /** SIGTERM: the server finishes accepted turns and closes its files. */
  stop(): Promise<void>;
}

/** Starts `server-child.ts` and waits for its URL; `watchKnowledge` turns on hot reload of the knowledge folder. */
export function startChild(env: Record<string, string>, retry?: Record<string, number>, options: { watchKnowledge?: boolean } = {}): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'server-child.ts'), JSON.stringify({ env, retry, watchKnowledge: options.watchKnowledge })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const waitExit = async (signal: NodeJS.Signals) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server child did not start in 20 s: ${stderr.join('')}`)), 20_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /LISTENING (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]!, stderr, kill: () => waitExit('SIGKILL'), stop: () => waitExit('SIGTERM') });
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server child exited (${code ?? signal}) before listening: ${stderr.join('')}`));
    });
  });
}

/** One customer message as Meta would post it. */
export interface Msg {
  channel: 'whatsapp' | 'messenger';
  id: string;
  from: string;
  text: string;
  raw: string;
  signature: string;
}

let seq = 0;
/** A signed webhook body holding one text message. */
export function message(channel: 'whatsapp' | 'messenger', from: string, text: string): Msg {
  const id = channel === 'whatsapp' ? `wamid.fault${++seq}x${Date.now()}` : `m_fault${++seq}x${Date.now()}`;
  const body =
    channel === 'whatsapp'
      ? whatsappTextWebhook({ waId: from, text, phoneNumberId: PHONE_NUMBER_ID, wamid: id })
      : messengerTextWebhook({ psid: from, text, mid: id });
  const raw = serializeLikeMeta(body);
  return { channel, id, from, text, raw, signature: signBody(raw, channel === 'whatsapp' ? W_SECRET : M_SECRET) };
}

/** Posts a webhook; resolves with the status, or 0 when the connection failed (the server died). */
export async function post(url: string, m: Msg): Promise<number> {
  try {
    const res = await fetch(`${url}/webhooks/${m.channel}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': m.signature },
      body: m.raw,
      signal: AbortSignal.timeout(10_000),
    });
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

/** What the gate does with Graph API requests. */
export type GateMode =
  | { kind: 'open' }
  | { kind: 'hold' }
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  | { kind: 'hang' };

/**
 * An HTTP gate in front of the fake Graph API. `open` forwards; `hold` parks requests without
 * forwarding them (they never reach Meta); `status` answers an error in Meta's envelope; `hang` never
 * answers (the client's timeout fires). Parked or hung requests are dropped by `drop()`.
 */
export class GraphGate {
  mode: GateMode = { kind: 'open' };
  url = '';
  /** Requests answered with an error or left hanging, by kind. */
  readonly refused: Record<string, number> = {};
  /** Requests forwarded to the target whose answer has not been passed back yet. */
  forwarding = 0;
  private server?: Server;
  private parked: { req: IncomingMessage; res: ServerResponse; body: Buffer }[] = [];
  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    const path = new URL(this.target).pathname;
    this.url = `http://127.0.0.1:${port}${path}`;
    return this.url;
  }

  /** Forwards again; parked requests are forwarded now (kept order). */
  async open(): Promise<void> {
    this.mode = { kind: 'open' };
    const parked = this.parked.splice(0);
    for (const p of parked) await this.forward(p.req, p.res, p.body);
  }

  /** Drops parked requests without forwarding them (their client is gone). */
  drop(): void {
    for (const p of this.parked.splice(0)) p.res.destroy();
  }

  async close(): Promise<void> {
    this.drop();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const mode = this.mode;
    if (mode.kind === 'open') return this.forward(req, res, body);
    this.refused[mode.kind === 'status' ? String(mode.status) : mode.kind] = (this.refused[mode.kind === 'status' ? String(mode.status) : mode.kind] ?? 0) + 1;
    if (mode.kind === 'hold' || mode.kind === 'hang') {
      if (mode.kind === 'hold') this.parked.push({ req, res, body });
      else res.on('close', () => undefined); // never answered; the client's timeout ends it
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (mode.retryAfterSeconds !== undefined) headers['retry-after'] = String(mode.retryAfterSeconds);
    res.writeHead(mode.status, headers);
    res.end(JSON.stringify({ error: { message: 'An unexpected error has occurred. Please retry your request later.', type: 'OAuthException', code: mode.status === 429 ? 4 : 2, fbtrace_id: 'AGate' } }));
  }

  private async forward(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    if (res.destroyed) return;
    this.forwarding++;
    try {
      await this.relay(req, res, body);
    } finally {
      this.forwarding--;
    }
  }

  private async relay(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const base = new URL(this.target);
    const target = `${base.protocol}//${base.host}${req.url}`;
    try {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
      const r = await fetch(target, { method: req.method, headers, body: body.length ? body.toString('utf8') : undefined });
      const text = await r.text();
      const out: Record<string, string> = { 'content-type': r.headers.get('content-type') ?? 'application/json' };
      const ra = r.headers.get('retry-after');
      if (ra) out['retry-after'] = ra;
      res.writeHead(r.status, out);
      res.end(text);
    } catch {
      res.destroy();
    }
  }
}

/** Prints the counts line for BENCHMARKS.md. */
export function reportCounts(test: string, counts: Record<string, number | string>): void {
  process.stdout.write(`FAULT-COUNTS ${JSON.stringify({ test, ...counts })}\n`);
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true or `timeoutMs` passes. */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

/** What the transcripts under `dataDir` hold for the Meta channels: inbound ids, replies by the message they answer. */
export async function readMetaTranscripts(dataDir: string): Promise<{ inbound: Map<string, number>; replies: Map<string, Activity[]>; botIds: Map<string, number> }> {
  const store = new LowdbTranscriptStore({ dir: dataDir });
  const inbound = new Map<string, number>();
  const replies = new Map<string, Activity[]>();
  const botIds = new Map<string, number>();
  for (const channel of ['whatsapp', 'messenger']) {
    for (const info of await store.allTranscripts(channel)) {
      for (const a of await store.readTranscript(channel, info.id)) {
        if (a.type !== 'message') continue;
        if (a.from?.role === 'user') inbound.set(a.id!, (inbound.get(a.id!) ?? 0) + 1);
        else {
          botIds.set(a.id!, (botIds.get(a.id!) ?? 0) + 1);
          const list = replies.get(a.replyToId ?? '') ?? [];
          list.push(a);
          replies.set(a.replyToId ?? '', list);
        }
      }
    }
  }
  return { inbound, replies, botIds };
}

/**
 * Sets the soft RLIMIT_FSIZE of a running process with util-linux `prlimit` (no privilege needed for
 * one's own processes, and root is not exempt): 0 makes every write to a regular file fail with EFBIG,
 * as on a full disk, while reads, pipes and sockets keep working. Returns the previous soft limit.
 */
export function setFileSizeLimit(pid: number, soft: string): string {
  const previous = execFileSync('prlimit', ['--pid', String(pid), '--fsize', '--output', 'SOFT', '--noheadings', '--raw'], { encoding: 'utf8' }).trim();
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${soft}:`]);
  return previous;
}

/** The Direct Line secret of the web chat fault tests (so tokens stay valid across a restart). */
export const DL_SECRET = 'fault-directline-secret-0123456789-abcdef';

/** The environment of a server with only web chat on (no Meta channel). */
export function webchatEnv(dataDir: string, knowledgeDir = KNOWLEDGE_DIR): Record<string, string> {
  return { DATA_DIR: dataDir, KNOWLEDGE_DIR: knowledgeDir, LOG_LEVEL: 'error', DIRECTLINE_SECRET: DL_SECRET };
}

/** Starts a Direct Line conversation with the secret, as a site's backend would. */
export async function startWebChatConversation(url: string): Promise<{ conversationId: string; token: string }> {
  const res = await fetch(`${url}/v3/directline/conversations`, { method: 'POST', headers: { Authorization: `Bearer ${DL_SECRET}` } });
  if (res.status !== 201) throw new Error(`POST conversations answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { conversationId: string; token: string };
}

/** Posts a web chat message; `status` 0 when the connection failed (the server died), `id` from a 200. */
export async function postWebChat(url: string, c: { conversationId: string; token: string }, text: string, clientActivityID: string): Promise<{ status: number; id?: string }> {
  try {
    const res = await fetch(`${url}/v3/directline/conversations/${c.conversationId}/activities`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${c.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'message', text, from: { id: 'customer' }, channelData: { clientActivityID } }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { id?: string };
    return { status: res.status, id: body.id };
  } catch {
    return { status: 0 };
  }
}

/** Every web chat conversation log under `dataDir` (the file store's `webchat/<id>.jsonl`). */
export async function readWebChatLogs(dataDir: string, conversationIds: string[]): Promise<Map<string, Partial<Activity>[]>> {
  const { readFile } = await import('node:fs/promises');
  const logs = new Map<string, Partial<Activity>[]>();
  for (const id of conversationIds) {
    const text = await readFile(join(dataDir, 'webchat', `${id}.jsonl`), 'utf8').catch(() => '');
    logs.set(
      id,
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
  }
  return logs;
}
