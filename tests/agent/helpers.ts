/** An agent API server on a random port over a handoff fixture, with signed-in agents; the console driven in Chromium. */
import type { TurnContext } from 'botbuilder';
import type { Page } from 'playwright-core';
import { AgentAccounts, AgentSessions } from '../../src/agent/accounts.js';
import { mountAgentApi } from '../../src/agent/api.js';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { HANDOFF_REQUESTER, type HandoffRequester } from '../../src/handoff/types.js';
import { listen } from '../helpers/http.js';
import { createFixture, fakeKnowledge, type Fixture } from '../handoff/helpers.js';

export interface ApiFixture extends Fixture {
  url: string;
  accounts: AgentAccounts;
  sessions: AgentSessions;
  /** Signs in and returns the token. */
  login(username: string, password?: string): Promise<string>;
  /** fetch with JSON body and optional token; returns status and parsed body. */
  call(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** A customer conversation whose bot hands off on "agent please" and echoes otherwise. */
  customer(conversationId: string, userId?: string): ReturnType<Fixture['adapter']>;
  stop(): Promise<void>;
}

export const PASSWORD = 'correct horse';

export async function createApiFixture(agents: string[] = ['ada', 'bob'], options: { hours?: string } = {}): Promise<ApiFixture> {
  const f = await createFixture(options);
  const accounts = await AgentAccounts.open(f.dir);
  for (const name of agents) await accounts.add(name, PASSWORD, { displayName: name[0]!.toUpperCase() + name.slice(1), capacity: 5 });
  const sessions = new AgentSessions(60 * 60 * 1000, f.clock);
  const server = createServer({ logger: silentLogger });
  mountAgentApi(server, { hub: f.hub, accounts, sessions, knowledge: fakeKnowledge, clock: f.clock, logger: silentLogger });
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
    ...f,
    url: http.url,
    accounts,
    sessions,
    call,
    async login(username, password = PASSWORD) {
      const r = await call('POST', '/api/agent/login', undefined, { username, password });
      if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    customer(conversationId, userId = `user-${conversationId}`) {
      return f.adapter(async (context: TurnContext) => {
        if (context.activity.type !== 'message') return;
        const requester = context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester;
        if (context.activity.text === 'agent please') await requester.requestHandoff(context, { reason: 'customer-asked', question: 'where is order 55512?' });
        else await context.sendActivity(`bot: ${context.activity.text}`);
      }, conversationId, userId);
    },
    async stop() {
      await http.close();
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
