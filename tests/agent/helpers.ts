/** An agent API server on a random port over a handoff fixture, with signed-in agents. */
import type { TurnContext } from 'botbuilder';
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
