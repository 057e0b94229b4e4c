/**
 * An agent API server on a random port over a handoff fixture, with signed-in agents; the console driven
 * in Chromium; the event stream read as text; a small knowledge folder and the broken edit the tests save.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TurnContext } from 'botbuilder';
import type { Page } from 'playwright-core';
import type { AgentAccountStore } from '../../src/agent/accounts.js';
import type { AgentSessionStore } from '../../src/agent/sessions.js';
import { mountAgentApi, type AgentApiOptions } from '../../src/agent/api.js';
import { openAgentDirectory, type AgentDirectory } from '../../src/agent/directory.js';
import type { Database } from '../../src/storage/postgres/database.js';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { HANDOFF_REQUESTER, type HandoffRequester } from '../../src/handoff/types.js';
import { listen } from '../helpers/http.js';
import { createFixture, fakeKnowledge, type Fixture } from '../handoff/helpers.js';

export interface ApiFixture extends Fixture {
  url: string;
  accounts: AgentAccountStore;
  sessions: AgentSessionStore;
  /** Signs in and returns the token. */
  login(username: string, password?: string): Promise<string>;
  /** fetch with JSON body and optional token; returns status and parsed body. */
  call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** A customer conversation whose bot hands off on "agent please" and echoes otherwise. */
  customer(conversationId: string, userId?: string): ReturnType<Fixture['adapter']>;
  stop(): Promise<void>;
}

export const PASSWORD = 'correct horse';

/** How long the fixture's sessions last (its clock moves only when a test says so). */
export const SESSION_TTL_MS = 60 * 60 * 1000;

/** An agent API on a random port: its URL, a JSON `call`, `login`, and `close`. */
export interface AgentApiServer {
  url: string;
  call: ApiFixture['call'];
  login: ApiFixture['login'];
  close(): Promise<void>;
}

/** Mounts the agent API over `directory` on a new server (a second instance, or the same one after a restart). */
export async function startAgentApi(options: Pick<AgentApiOptions, 'hub' | 'clock' | 'knowledge' | 'insights' | 'sessionRecheckMs'> & AgentDirectory): Promise<AgentApiServer> {
  const server = createServer({ logger: silentLogger });
  mountAgentApi(server, { ...options, knowledge: options.knowledge ?? fakeKnowledge, logger: silentLogger });
  const http = await listen(server);
  const call: ApiFixture['call'] = async (method, path, token, body) => {
    const res = await fetch(http.url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    url: http.url,
    call,
    async login(username, password = PASSWORD) {
      const r = await call('POST', '/api/agent/login', undefined, { username, password });
      if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    close: async () => {
      await http.close();
      await options.sessions.close?.();
    },
  };
}

/**
 * `knowledge` replaces the fake searcher (a `KnowledgeBase` on a temp folder gives the console its
 * knowledge view); `insights` gives it the gaps. Accounts and sessions are those the server opens
 * (`openAgentDirectory`): files in the fixture's folder, or PostgreSQL with `db`.
 */
export async function createApiFixture(
  agents: string[] = ['ada', 'bob'],
  options: { hours?: string; db?: Database; channelId?: string } & Pick<AgentApiOptions, 'knowledge' | 'insights' | 'sessionRecheckMs'> = {},
): Promise<ApiFixture> {
  const f = await createFixture(options);
  const { accounts, sessions } = await openAgentDirectory({ dataDir: f.dir, db: options.db, sessionTtlMs: SESSION_TTL_MS, clock: f.clock });
  for (const name of agents) await accounts.add(name, PASSWORD, { displayName: name[0]!.toUpperCase() + name.slice(1), capacity: 5 });
  const api = await startAgentApi({ hub: f.hub, accounts, sessions, knowledge: options.knowledge, insights: options.insights, clock: f.clock, sessionRecheckMs: options.sessionRecheckMs });
  const { call, login } = api;
  return {
    ...f,
    url: api.url,
    accounts,
    sessions,
    call,
    login,
    customer(conversationId, userId = `user-${conversationId}`) {
      return f.adapter(async (context: TurnContext) => {
        if (context.activity.type !== 'message') return;
        const requester = context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester;
        if (context.activity.text === 'agent please') await requester.requestHandoff(context, { reason: 'customer-asked', question: 'where is order 55512?' });
        // As FaqBot does when a customer asks for a person outright: their own words are the question.
        else if (context.activity.text === 'a person please') await requester.requestHandoff(context, { reason: 'customer-asked', question: context.activity.text });
        else await context.sendActivity(`bot: ${context.activity.text}`);
      }, conversationId, userId);
    },
    async stop() {
      await api.close();
      await f.close();
    },
  };
}

/** The agent console at `/agent` in a Chromium page, signed in; see {@link signInToConsole}. */
export interface ConsolePage {
  page: Page;
  /** A row of the current tab of the queue list that contains `text` (customer name, channel, reason, ...). */
  row(text: string | RegExp): ReturnType<Page['locator']>;
  /** A message in the open conversation's transcript: from the customer (`user`), the bot or an agent. */
  said(who: 'user' | 'bot' | 'agent', text: string | RegExp): ReturnType<Page['locator']>;
  /** Claims the open conversation and waits until the reply box may send. */
  claim(): Promise<void>;
  /** Writes `text` in the reply box and sends it (what the customer gets is for the caller to check). */
  reply(text: string): Promise<void>;
  /** Resolves the open conversation and waits until the console shows it back with the bot. */
  resolve(): Promise<void>;
}

/**
 * Signs `username` in to the console of the server at `baseUrl` in `page` (a fresh page, or one the
 * console signed out) and waits until the live updates are connected.
 */
export async function signInToConsole(page: Page, baseUrl: string, username: string, password = PASSWORD): Promise<ConsolePage> {
  if (!page.url().startsWith(`${baseUrl}/agent`)) await page.goto(`${baseUrl}/agent`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#connection.live');
  return {
    page,
    row: (text) => page.locator('[data-testid=queue-row]', { hasText: text }),
    said: (who, text) => page.locator(`[data-testid=transcript-item].${who}`, { hasText: text }),
    async claim() {
      await page.click('#claim');
      await page.waitForFunction(() => !(document.getElementById('send') as HTMLButtonElement).disabled);
    },
    async reply(text) {
      await page.fill('#reply', text);
      await page.click('#send');
    },
    async resolve() {
      await page.click('#resolve');
      await page.waitForFunction(() => (document.getElementById('d-meta')!.textContent ?? '').includes('resolved, with the bot'));
    },
  };
}

/** The agent event stream (`GET /api/agent/events`) read as text, as a console reads it. */
export interface EventStream {
  /** The response's Content-Type. */
  contentType: string | null;
  /** Everything received so far. */
  text(): string;
  /** Waits until the text received so far includes `needle` (the stream ending first is an error). */
  until(needle: string): Promise<void>;
  close(): void;
}

/** Opens the agent event stream of the server at `baseUrl` with `token`. */
export async function openEventStream(baseUrl: string, token: string): Promise<EventStream> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/api/agent/events`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    contentType: res.headers.get('content-type'),
    text: () => buffer,
    async until(needle) {
      while (!buffer.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the event stream ended before "${needle}" arrived; it sent:\n${buffer}`);
        buffer += value;
      }
    },
    close: () => controller.abort(),
  };
}

/** A knowledge file: front matter lines, then the answer. */
export function knowledgeFile(question: string, answer: string, extra: string[] = []): string {
  return ['---', `question: ${question}`, ...extra, '---', answer, ''].join('\n');
}

/** The broken edit the tests save: `alternate:` (a typo of `alternates:`) on line 3 of the bill payment entry. */
export const BROKEN_EDIT = {
  path: 'billing/pay-bill.md',
  text: knowledgeFile('How can I pay my bill?', 'Half-written', ['alternate: [pay]']),
  problem: 'billing/pay-bill.md:3: unknown field "alternate" (did you mean "alternates"?)',
};

/** Writes a two-entry knowledge folder into `dir` (the bill payment entry at `BROKEN_EDIT.path`, and hello). */
export async function writeKnowledge(dir: string): Promise<void> {
  await mkdir(join(dir, 'billing'), { recursive: true });
  await writeFile(join(dir, BROKEN_EDIT.path), knowledgeFile('How can I pay my bill?', 'Pay in the app under Billing.', ['alternates: [pay my bill, pay invoice]']));
  await writeFile(join(dir, 'hello.md'), knowledgeFile('Hello', 'Hi there!', ['tags: [smalltalk]']));
}

/**
 * The agent API on a fixed `port` (the console's page keeps its origin, and so its session, across a
 * restart); `close` also drops open event streams, as a stopping process does.
 */
export async function startAgentApiOnPort(port: number, options: Pick<AgentApiOptions, 'hub' | 'clock' | 'knowledge' | 'sessionRecheckMs'> & AgentDirectory): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer({ logger: silentLogger });
  mountAgentApi(server, { ...options, knowledge: options.knowledge ?? fakeKnowledge, logger: silentLogger });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.server.closeAllConnections();
      await closed;
      await options.sessions.close?.();
    },
  };
}

/**
 * Makes `customer` (a `customer()` adapter) speak as `id` with `name` (undefined: no name, as a web
 * visitor or a WhatsApp user without a profile name). TestAdapter's template wins over an activity's own `from`.
 */
export function speakAs<T extends ReturnType<ApiFixture['customer']>>(customer: T, id: string, name?: string): T {
  (customer as unknown as { template: Record<string, unknown> }).template.from = { id, ...(name === undefined ? {} : { name }), role: 'user' };
  return customer;
}
