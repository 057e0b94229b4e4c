import { expect } from 'chai';
import { startWebChat, TEST_SECRET } from './fixture.js';

/** The name a site passes for its signed-in customer reaches the bot (and so the agent console) as `from.name`. */
describe('web chat: the customer name the site passes with tokens/generate', () => {
  let app: Awaited<ReturnType<typeof startWebChat>>;
  const seen: { name?: string; type: string }[] = [];

  beforeEach(async () => {
    seen.length = 0;
    app = await startWebChat({
      logic: async (context) => {
        seen.push({ type: context.activity.type, name: context.activity.from?.name });
        if (context.activity.type === 'message') await context.sendActivity(`Hello ${context.activity.from?.name ?? 'stranger'}`);
      },
    });
  });
  afterEach(async () => app?.close());

  const post = async (path: string, credential: string, body?: unknown) => {
    const res = await fetch(app.domain + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** Starts the conversation with `token`, says hello, and returns the customer's echoed message and the bot's answer. */
  async function sayHello(token: string, conversationId: string) {
    expect((await post('/conversations', token)).status).to.equal(201);
    expect((await post(`/conversations/${conversationId}/activities`, token, { type: 'message', text: 'hi', from: { id: 'ignored', name: 'Mallory' } })).status).to.equal(200);
    for (;;) {
      const res = await fetch(`${app.domain}/conversations/${conversationId}/activities`, { headers: { authorization: `Bearer ${token}` } });
      const { activities } = (await res.json()) as { activities: any[] };
      const answer = activities.find((a) => a.from?.role === 'bot' && a.text?.startsWith('Hello'));
      if (answer) return { mine: activities.find((a) => a.from?.role === 'user'), answer };
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  for (const [casing, body] of [
    ['user/id/name', { user: { id: 'dl_site-42', name: 'Maria Rossi' } }],
    ["the docs' User/Id/Name", { User: { Id: 'dl_site-42', Name: 'Maria Rossi' } }],
  ] as const) {
    it(`keeps the name given as ${casing}: the customer's messages carry it, over what the page claims`, async () => {
      const generated = await post('/tokens/generate', TEST_SECRET, body);
      expect(generated.status).to.equal(200);
      const { mine, answer } = await sayHello(generated.body.token, generated.body.conversationId);
      expect(mine.from).to.include({ id: 'dl_site-42', name: 'Maria Rossi' });
      expect(answer.text).to.equal('Hello Maria Rossi');
      expect(seen.find((s) => s.type === 'conversationUpdate')?.name).to.equal('Maria Rossi');
    });
  }

  it('keeps the name through tokens/refresh', async () => {
    const generated = await post('/tokens/generate', TEST_SECRET, { user: { id: 'dl_site-7', name: 'Ana Lima' } });
    const refreshed = await post('/tokens/refresh', generated.body.token);
    expect(refreshed.status).to.equal(200);
    const { mine } = await sayHello(refreshed.body.token, refreshed.body.conversationId);
    expect(mine.from).to.include({ id: 'dl_site-7', name: 'Ana Lima' });
  });

  it('without a name from the site (a blank one counts as none), the page\'s own from.name is used as before', async () => {
    const generated = await post('/tokens/generate', TEST_SECRET, { user: { id: 'dl_site-9', name: '   ' } });
    const { answer } = await sayHello(generated.body.token, generated.body.conversationId);
    expect(answer.text).to.equal('Hello Mallory');
  });
});
