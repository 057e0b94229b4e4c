/**
 * The rig of the long-input test and the `stall` benchmark: the ready server in its own process (so a
 * blocked event loop there cannot hide behind this one), the fake Graph API, a customer on each
 * channel (Direct Line, signed WhatsApp and Messenger webhooks), an agent who can take over, and a
 * `/healthz` poller that measures how long the server took to answer while a customer's longest
 * allowed message is handled in each of the bot's prompt states.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileAgentAccounts } from '../../src/agent/accounts.js';
import { MESSENGER_TEXT_LIMIT } from '../../adapters/messenger/outbound.js';
import { WHATSAPP_TEXT_LIMIT } from '../../adapters/whatsapp/outbound.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { message, metaEnv, post } from '../faults/helpers.js';

export const CHANNELS = ['webchat', 'whatsapp', 'messenger'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * The longest text a customer can send on each channel: what Direct Line's activity schema accepts
 * (adapters/webchat/schema.ts), and WhatsApp's and Messenger's own text limits.
 */
export const LONGEST_TEXT: Record<Channel, number> = { webchat: 16_000, whatsapp: WHATSAPP_TEXT_LIMIT, messenger: MESSENGER_TEXT_LIMIT };

/** Where the customer's long message lands: the question the bot's last message left open, or who owns the conversation. */
export const PROMPT_STATES = ['after-answer', 'offer-person', 'suggestions', 'queued', 'handoff', 'takeover'] as const;
export type PromptState = (typeof PROMPT_STATES)[number];

/** What each prompt state means, for the test titles and BENCHMARKS.md. */
export const STATE_LABEL: Record<PromptState, string> = {
  'after-answer': 'after an answer ("Did this help?")',
  'offer-person': 'after an offer of a person',
  suggestions: 'after suggestions',
  queued: 'while queued',
  handoff: 'at handoff (long message of dates and amounts, then "I want to talk to a person")',
  takeover: 'at takeover (long message of dates and amounts, agent takes over, long message)',
};

/** The goal of issue 13: `/healthz` answers within this while any customer message is handled. */
export const HEALTHZ_GOAL_MS = 200;
/** The poller asks `/healthz` this often (after the previous answer). */
export const POLL_INTERVAL_MS = 20;
/**
 * The poller keeps going this long after the reply: the handoff summary and other background work of
 * the turn run after the customer's reply is sent.
 */
export const TAIL_MS = 1500;
/** A gap of this process's own event loop longer than this is its own stall, not the server's (see `HealthPoller`). */
const OWN_GAP_MS = 20;

/**
 * What the long message says: "no no no …" made recognizers-text's yes/no model take half a minute;
 * dates, amounts and numbers are the handoff summary's worst case (its date-time and number models),
 * so the handoff and takeover states send those.
 */
export const LONG_UNIT: Record<PromptState, string> = {
  'after-answer': 'no ',
  'offer-person': 'no ',
  suggestions: 'no ',
  queued: 'no ',
  handoff: 'since 12 March 2025 at 3pm I paid £45 twice, order 123456, call +44 7700 900123. ',
  takeover: 'since 12 March 2025 at 3pm I paid £45 twice, order 123456, call +44 7700 900123. ',
};

/** `unit` repeated to exactly `length` characters. */
export function longText(length: number, unit = 'no '): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length).trimEnd().padEnd(length, 'o');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each of the rig's own requests gives up after this: a stalled server must not stall the rig that reports it. */
const REQUEST_TIMEOUT_MS = 2_000;

/** GET `url` as JSON; undefined when the server did not answer in time (it is stalled). */
async function getJson<T>(url: string, headers: Record<string, string>): Promise<T | undefined> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return res.status < 300 ? ((await res.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Asks `/healthz` every `POLL_INTERVAL_MS` and keeps the slowest answer. Time this process's own event
 * loop was blocked (a GC pause, the fake Graph API, a loaded machine) is subtracted from each
 * sample, measured by a 5 ms timer: the figure is the server's delay, not the poller's.
 */
export class HealthPoller {
  worstMs = 0;
  samples = 0;
  failures = 0;
  private running = false;
  private loop?: Promise<void>;
  private ticker?: NodeJS.Timeout;
  private gaps: Array<[number, number]> = [];

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  start(): void {
    this.running = true;
    let last = performance.now();
    this.ticker = setInterval(() => {
      const now = performance.now();
      if (now - last > OWN_GAP_MS) this.gaps.push([last, now]);
      last = now;
    }, 5);
    this.loop = (async () => {
      while (this.running) {
        const t0 = performance.now();
        let ok = false;
        try {
          const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(this.timeoutMs) });
          await res.text();
          ok = res.status < 500;
        } catch {
          ok = false;
        }
        const t1 = performance.now();
        const own = this.gaps.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, t1) - Math.max(a, t0)), 0);
        this.gaps = this.gaps.filter(([, b]) => b > t1);
        this.worstMs = Math.max(this.worstMs, t1 - t0 - own);
        this.samples++;
        if (!ok) this.failures++;
        await sleep(POLL_INTERVAL_MS);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.ticker);
    await this.loop;
  }
}

/** One customer of the rig, on one channel. */
export interface Customer {
  channel: Channel;
  /** The hub's conversation id (what the agent API names). */
  conversationId: string;
  /** Sends a message; resolves at once with the texts the bot sends later readable through `replies`. */
  send(text: string): Promise<void>;
  /** The bot's messages to this customer so far. */
  replies(): Promise<string[]>;
}

const PASSWORD = 'long input drill 9 amber kites';
/** A loaded machine starts the server slowly; a server that does not listen within this is killed. */
const START_TIMEOUT_MS = 90_000;
const SERVER_CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'faults', 'server-child.ts');

/** tests/faults/server-child.ts with `env`; resolves with its URL once it listens, kills it if it does not. */
function startServer(env: Record<string, string>): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SERVER_CHILD, JSON.stringify({ env })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the server did not listen within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /LISTENING (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1]! });
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening: ${stderr}`));
    });
  });
}

/** The server with all three channels, the fake Graph API and a signed-in agent. */
export class StallRig {
  graph = new FakeGraph({ record: true });
  private proc?: ChildProcess;
  private onExit?: () => void;
  url = '';
  private dataDir = '';
  private agentToken = '';
  private seq = 0;

  async start(): Promise<void> {
    const graphUrl = await this.graph.start();
    this.dataDir = await mkdtemp(path.join(os.tmpdir(), 'sb-long-input-'));
    await (await FileAgentAccounts.open(this.dataDir)).add('ana', PASSWORD);
    const server = await startServer({
      ...metaEnv(this.dataDir, graphUrl),
      DIRECTLINE_SECRET: 'long-input-directline-secret-0123456789-abcdef',
      BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
      BUSINESS_TIMEZONE: 'UTC',
    });
    this.url = server.url;
    this.proc = server.proc;
    // A stalled server must not outlive an interrupted run.
    this.onExit = () => server.proc.kill('SIGKILL');
    process.once('exit', this.onExit);
    const login = await fetch(`${this.url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ana', password: PASSWORD }) });
    if (login.status !== 200) throw new Error(`agent login answered ${login.status}: ${await login.text()}`);
    this.agentToken = ((await login.json()) as { token: string }).token;
  }

  async stop(): Promise<void> {
    if (this.onExit) process.off('exit', this.onExit);
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
    await this.graph.close();
    if (this.dataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  /** A new customer on `channel`, in a conversation of its own. */
  async customer(channel: Channel): Promise<Customer> {
    const n = ++this.seq;
    if (channel === 'webchat') return this.webChatCustomer();
    const from = channel === 'whatsapp' ? `4479000${String(n).padStart(5, '0')}${process.pid % 100}` : `77${n}${Date.now() % 1_000_000}`;
    const sentTo = (r: RecordedRequest) => r.isMessage && r.status === 200 && (channel === 'whatsapp' ? r.body?.to === from : r.body?.recipient?.id === from);
    return {
      channel,
      conversationId: from,
      send: async (text) => {
        const status = await post(this.url, message(channel, from, text));
        if (status !== 200) throw new Error(`${channel} webhook answered ${status}`);
      },
      replies: async () => this.graph.requests.filter(sentTo).map((r) => String(r.body?.message?.text ?? r.body?.text?.body ?? r.body?.interactive?.body?.text ?? '')),
    };
  }

  private async webChatCustomer(): Promise<Customer> {
    const res = await fetch(`${this.url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: 'Bearer long-input-directline-secret-0123456789-abcdef' } });
    if (res.status !== 201) throw new Error(`POST conversations answered ${res.status}`);
    const { conversationId, token } = (await res.json()) as { conversationId: string; token: string };
    const sent = new Set<string>();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    return {
      channel: 'webchat',
      conversationId,
      send: async (text) => {
        const r = await fetch(`${this.url}/v3/directline/conversations/${conversationId}/activities`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ type: 'message', text, from: { id: 'customer' }, channelData: { clientActivityID: `c${++this.seq}` } }),
          signal: AbortSignal.timeout(5 * REQUEST_TIMEOUT_MS),
        });
        const body = (await r.json()) as { id?: string };
        if (r.status !== 200 || !body.id) throw new Error(`POST activities answered ${r.status}: ${JSON.stringify(body)}`);
        sent.add(body.id);
      },
      replies: async () => {
        const out: string[] = [];
        let watermark = '';
        for (;;) {
          const page = await getJson<{ activities: Array<{ id: string; type: string; text?: string }>; watermark: string }>(
            `${this.url}/v3/directline/conversations/${conversationId}/activities${watermark ? `?watermark=${watermark}` : ''}`,
            headers,
          );
          if (!page) return out;
          for (const a of page.activities) if (a.type === 'message' && !sent.has(a.id)) out.push(a.text ?? '');
          if (!page.activities.length || page.watermark === watermark) return out;
          watermark = page.watermark;
        }
      },
    };
  }

  /** The agent takes the conversation over (from the bot or the queue). */
  async takeOver(c: Customer, timeoutMs: number): Promise<void> {
    const route = `/api/agent/conversations/${encodeURIComponent(c.conversationId)}/claim`;
    const res = await fetch(`${this.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${this.agentToken}` }, signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) throw new Error(`POST ${route} answered ${res.status}: ${await res.text()}`);
  }

  /** The messages the agent sees in the conversation's transcript (none while the server does not answer). */
  async agentSees(c: Customer): Promise<string[]> {
    const view = await getJson<{ transcript: Array<{ text?: string; type?: string }> }>(`${this.url}/api/agent/conversations/${encodeURIComponent(c.conversationId)}`, {
      authorization: `Bearer ${this.agentToken}`,
    });
    return (view?.transcript ?? []).filter((a) => a.type === 'message').map((a) => a.text ?? '');
  }
}

/** Waits until `done()` holds, checking every 50 ms; false when `timeoutMs` passed first. */
export async function until(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await done()) return true;
    await sleep(50);
  }
  return false;
}

/** A turn's replies are complete once no further one has come for this long (an answer and its "Did this help?" are two sends). */
const QUIET_MS = 400;

/**
 * Sends `text` and waits for the bot's replies to it, until none has come for `QUIET_MS` (or, with
 * `seenByAgent`, until the agent sees it in the transcript).
 */
export async function turn(rig: StallRig, c: Customer, text: string, timeoutMs: number, seenByAgent = false): Promise<{ ok: boolean; replies: string[] }> {
  const before = (await c.replies()).length;
  await c.send(text);
  let count = before;
  let changedAt = Date.now();
  const ok = await until(async () => {
    if (seenByAgent) return (await rig.agentSees(c)).includes(text);
    const now = (await c.replies()).length;
    if (now !== count) [count, changedAt] = [now, Date.now()];
    return count > before && Date.now() - changedAt >= QUIET_MS;
  }, timeoutMs);
  return { ok, replies: (await c.replies()).slice(before) };
}

/** What one channel × prompt state measured. */
export interface StallResult {
  channel: Channel;
  state: PromptState;
  /** Slowest `/healthz` answer while the long message was handled (capped at the turn's time limit). */
  worstMs: number;
  samples: number;
  /** Whether every turn got its reply (or reached the agent) within the time limit. */
  answered: boolean;
  /** What the bot said to the long message (empty while a person owns the conversation). */
  replies: string[];
}

/** The setup turns that bring a new conversation into `state`. */
async function reach(rig: StallRig, c: Customer, state: PromptState, timeoutMs: number): Promise<void> {
  const steps: Record<PromptState, string[]> = {
    'after-answer': ['Where can I see my bill?'],
    'offer-person': ['xqzv blorf', 'plonk wibble'],
    suggestions: ['money help'],
    queued: ['I want to talk to a person'],
    handoff: [],
    takeover: [],
  };
  for (const text of steps[state]) {
    const r = await turn(rig, c, text, timeoutMs);
    if (!r.ok) throw new Error(`${c.channel}: no reply to the setup message "${text}" within ${timeoutMs} ms`);
  }
}

/**
 * One measurement: a new conversation on `channel` is brought into `state`, then the channel's
 * longest message is handled while `/healthz` is polled. `timeoutMs` bounds each turn (a stalled
 * server is reported as stalled for at least that long).
 */
export async function measureStall(rig: StallRig, channel: Channel, state: PromptState, timeoutMs: number): Promise<StallResult> {
  const c = await rig.customer(channel);
  await reach(rig, c, state, timeoutMs);
  const long = longText(LONGEST_TEXT[channel], LONG_UNIT[state]);
  const poller = new HealthPoller(rig.url, timeoutMs);
  poller.start();
  let answered = true;
  let replies: string[] = [];
  try {
    if (state === 'takeover') {
      answered &&= (await turn(rig, c, long, timeoutMs)).ok;
      await rig.takeOver(c, timeoutMs);
      const r = await turn(rig, c, `${long.slice(0, -1)}!`, timeoutMs, true);
      answered &&= r.ok;
      replies = r.replies;
    } else if (state === 'handoff') {
      answered &&= (await turn(rig, c, long, timeoutMs)).ok;
      const r = await turn(rig, c, 'I want to talk to a person', timeoutMs);
      answered &&= r.ok;
      replies = r.replies;
    } else if (state === 'queued') {
      const r = await turn(rig, c, long, timeoutMs, true);
      answered &&= r.ok;
      replies = r.replies;
    } else {
      const r = await turn(rig, c, long, timeoutMs);
      answered &&= r.ok;
      replies = r.replies;
    }
    await sleep(TAIL_MS);
  } finally {
    await poller.stop();
  }
  return { channel, state, worstMs: Math.round(poller.worstMs), samples: poller.samples, answered, replies };
}

/** A short warm-up on each channel: the first turn builds recognizer models and opens files, once per process. */
export async function warmUp(rig: StallRig, timeoutMs: number): Promise<void> {
  for (const channel of CHANNELS) {
    const c = await rig.customer(channel);
    await turn(rig, c, 'How do I get a refund?', timeoutMs);
    await turn(rig, c, 'no', timeoutMs);
    await turn(rig, c, 'money help', timeoutMs);
  }
}
