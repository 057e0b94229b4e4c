import { expect } from 'chai';
import { ActivityTypes, type ConversationReference } from 'botbuilder';
import { DirectLineTokens } from '../../adapters/webchat/tokens.js';
import { ReplyWindowClosedError } from '../../adapters/shared/errors.js';
import { ProactiveTestAdapter, settle } from '../handoff/helpers.js';
import { mountAgentApi } from '../../src/agent/api.js';
import { openAgentDirectory } from '../../src/agent/directory.js';
import { silentLogger } from '../../src/log.js';
import { createServer } from '../../src/server.js';
import { listen } from '../helpers/http.js';
import { createFixture, fakeKnowledge, type Fixture } from '../handoff/helpers.js';
import { createApiFixture, openEventStream, PASSWORD, type ApiFixture } from './helpers.js';

describe('agent API', () => {
  let f: ApiFixture;
  afterEach(() => f?.stop());

  describe('sign-in and tokens', () => {
    beforeEach(async () => (f = await createApiFixture(['ada'])));

    it('answers 401 JSON on every route without a token', async () => {
      const routes: Array<[string, string]> = [
        ['GET', '/api/agent/conversations'],
        ['GET', '/api/agent/conversations/x'],
        ['POST', '/api/agent/conversations/x/claim'],
        ['POST', '/api/agent/conversations/x/messages'],
        ['POST', '/api/agent/conversations/x/resolve'],
        ['POST', '/api/agent/conversations/x/transfer'],
        ['GET', '/api/agent/events'],
        ['GET', '/api/agent/me'],
        ['GET', '/api/agent/knowledge'],
        ['GET', '/api/agent/knowledge/search?q=refund'],
      ];
      for (const [method, path] of routes) {
        const r = await f.call(method, path);
        expect(r.status, `${method} ${path}`).to.equal(401);
        expect(r.body.code).to.equal('Unauthorized');
      }
    });

    it('refuses a wrong password and issues a token for the right one', async () => {
      expect((await f.call('POST', '/api/agent/login', undefined, { username: 'ada', password: 'wrong password' })).status).to.equal(401);
      const ok = await f.call('POST', '/api/agent/login', undefined, { username: 'ada', password: PASSWORD });
      expect(ok.status).to.equal(200);
      expect(ok.body.agent).to.include({ id: 'ada', name: 'Ada' }).and.not.have.property('passwordHash');
      expect((await f.call('GET', '/api/agent/me', ok.body.token)).status).to.equal(200);
    });

    it("does not let a customer's Direct Line token reach the agent API", async () => {
      const dl = new DirectLineTokens('x'.repeat(40), f.clock).issue('conv-1', 'user-1', 3600);
      const r = await f.call('GET', '/api/agent/conversations', dl);
      expect(r.status).to.equal(401);
    });

    it('refuses a token once the session has expired', async () => {
      const token = await f.login('ada');
      expect((await f.call('GET', '/api/agent/conversations', token)).status).to.equal(200);
      f.clock.advance(60 * 60 * 1000 + 1);
      const r = await f.call('GET', '/api/agent/conversations', token);
      expect(r.status).to.equal(401);
      expect(r.body.message).to.include('expired');
    });

    it('answers 400 JSON for a malformed body', async () => {
      const token = await f.login('ada');
      const r = await f.call('POST', '/api/agent/conversations/x/transfer', token, { agentId: 'ada', team: 'billing' });
      expect(r.status).to.equal(400);
      expect(r.body.message).to.include('exactly one');
      expect((await f.call('POST', '/api/agent/login', undefined, '{not json')).status).to.equal(400);
    });
  });

  describe('the queue', () => {
    const racers = ['ada', 'bob', 'cy', 'di', 'ed', 'flo', 'gus', 'hal', 'ivy', 'jo'];
    beforeEach(async () => (f = await createApiFixture(['ada', 'bob'])));

    it('lists a queued conversation with its position and shows its transcript and context', async () => {
      const customer = f.customer('conv-1');
      await customer.receiveActivity('my email is ada@example.com and my order is 55512');
      await customer.receiveActivity('agent please');
      await settle(f.hub);
      const token = await f.login('ada');
      const list = await f.call('GET', '/api/agent/conversations?status=queued', token);
      expect(list.body.conversations.map((c: any) => [c.id, c.position, c.reason])).to.deep.equal([['conv-1', 1, 'customer-asked']]);
      const one = await f.call('GET', '/api/agent/conversations/conv-1', token);
      expect(one.status).to.equal(200);
      expect(one.body.transcript.map((a: any) => a.text)).to.include.members(['my email is ada@example.com and my order is 55512', 'agent please']);
      expect(one.body.context.question).to.equal('where is order 55512?');
      expect(one.body.context.summary.text).to.include('ada@example.com').and.include('55512');
      expect(one.body.conversation).to.not.have.property('reference');
    });

    it('lets exactly one of many concurrent claims win; the others get 409 naming the holder', async () => {
      for (const name of racers.slice(2)) await f.accounts.add(name, PASSWORD);
      await f.customer('conv-1').receiveActivity('agent please');
      const tokens = await Promise.all(racers.map((n) => f.login(n)));
      const results = await Promise.all(tokens.map((t) => f.call('POST', '/api/agent/conversations/conv-1/claim', t)));
      const winners = results.filter((r) => r.status === 200);
      expect(winners).to.have.length(1);
      const holder = winners[0]!.body.conversation.agentId;
      const losers = results.filter((r) => r.status === 409);
      expect(losers).to.have.length(racers.length - 1);
      for (const l of losers) expect(l.body.holder.agentId).to.equal(holder);
      expect((await f.store.get('conv-1'))!.agentId).to.equal(holder);
    });

    it('delivers the holder’s reply on the customer’s channel and refuses anyone else', async () => {
      const customer = f.customer('conv-1');
      await customer.receiveActivity('agent please');
      const ada = await f.login('ada');
      const bob = await f.login('bob');
      expect((await f.call('POST', '/api/agent/conversations/conv-1/messages', ada, { text: 'hi' })).status, 'before claiming').to.equal(409);
      await f.call('POST', '/api/agent/conversations/conv-1/claim', ada);
      customer.activeQueue.splice(0);
      const sent = await f.call('POST', '/api/agent/conversations/conv-1/messages', ada, { text: 'Hello, Ada here.' });
      expect(sent.status).to.equal(201);
      expect(customer.activeQueue.map((a) => a.text)).to.deep.equal(['Hello, Ada here.']);
      const other = await f.call('POST', '/api/agent/conversations/conv-1/messages', bob, { text: 'me too' });
      expect(other.status).to.equal(409);
      expect(other.body.holder.agentId).to.equal('ada');
    });

    it('shows a closed reply window as a 409 the console can display', async () => {
      await f.customer('conv-1').receiveActivity('agent please');
      class ClosedWindowAdapter extends ProactiveTestAdapter {
        override async continueConversationAsync(_id: any, reference: Partial<ConversationReference>): Promise<void> {
          throw new ReplyWindowClosedError('whatsapp', reference.conversation!.id, new Date('2026-11-22T09:00:00Z'));
        }
      }
      f.hub.adapters.test = new ClosedWindowAdapter();
      const ada = await f.login('ada');
      await f.call('POST', '/api/agent/conversations/conv-1/claim', ada);
      const r = await f.call('POST', '/api/agent/conversations/conv-1/messages', ada, { text: 'Sorry for the wait' });
      expect(r.status).to.equal(409);
      expect(r.body).to.include({ code: 'ReplyWindowClosed', closedAt: '2026-11-22T09:00:00.000Z' });
      expect(r.body.message).to.include('the customer has to write again');
    });

    it('transfers to another agent or back to a team queue, only by the holder', async () => {
      await f.customer('conv-1').receiveActivity('agent please');
      const ada = await f.login('ada');
      const bob = await f.login('bob');
      await f.call('POST', '/api/agent/conversations/conv-1/claim', ada);
      expect((await f.call('POST', '/api/agent/conversations/conv-1/transfer', bob, { agentId: 'bob' })).status).to.equal(409);
      const toBob = await f.call('POST', '/api/agent/conversations/conv-1/transfer', ada, { agentId: 'bob' });
      expect(toBob.body.conversation).to.include({ owner: 'assigned', agentId: 'bob' });
      const toTeam = await f.call('POST', '/api/agent/conversations/conv-1/transfer', bob, { team: 'billing' });
      expect(toTeam.body.conversation).to.include({ owner: 'queued', team: 'billing', position: 1 });
    });

    it('resolves: the bot owns the conversation again and answers the next message', async () => {
      const customer = f.customer('conv-1');
      await customer.receiveActivity('agent please');
      const ada = await f.login('ada');
      await f.call('POST', '/api/agent/conversations/conv-1/claim', ada);
      const r = await f.call('POST', '/api/agent/conversations/conv-1/resolve', ada);
      expect(r.body.conversation.owner).to.equal('bot');
      const resolved = await f.call('GET', '/api/agent/conversations?status=resolved', ada);
      expect(resolved.body.conversations.map((c: any) => c.id)).to.deep.equal(['conv-1']);
      customer.activeQueue.splice(0);
      await customer.receiveActivity('opening hours?');
      expect(customer.activeQueue.map((a) => a.text)).to.deep.equal(['bot: opening hours?']);
    });

    it('keeps notes and searches the knowledge answers for the reply box', async () => {
      await f.customer('conv-1').receiveActivity('agent please');
      const ada = await f.login('ada');
      const noted = await f.call('POST', '/api/agent/conversations/conv-1/notes', ada, { text: 'VIP customer' });
      expect(noted.body.conversation.notes.map((n: any) => n.text)).to.deep.equal(['VIP customer']);
      const k = await f.call('GET', '/api/agent/knowledge/search?q=refund', ada);
      expect(k.body.matches[0]).to.include({ id: 'billing/refund', answer: 'Refunds take 5 days.' });
    });

    it('has no knowledge view without a KnowledgeBase and the bot\'s insights (a plain searcher)', async () => {
      const ada = await f.login('ada');
      const r = await f.call('GET', '/api/agent/knowledge', ada);
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ status: null, gaps: null, changes: null });
    });

    it('streams a new queue entry to a connected console over server-sent events', async () => {
      const ada = await f.login('ada');
      const events = await openEventStream(f.url, ada);
      expect(events.contentType).to.include('text/event-stream');
      await events.until('event: hello');
      expect(f.hub.onlineAgents()).to.deep.equal(['ada']);
      const customer = f.customer('conv-9');
      await customer.receiveActivity('agent please');
      await events.until('"change":"queued"');
      expect(events.text()).to.include('"id":"conv-9"');
      expect(customer.activeQueue.at(-1)!.text).to.include('number 1 in the queue');
      await customer.receiveActivity('still there?');
      await events.until('still there?');
      expect(events.text()).to.include(`event: message`);
      events.close();
      expect(customer.activeQueue.every((a) => a.type === ActivityTypes.Message)).to.equal(true);
    });
  });
});

describe('agent API routing rules', () => {
  let f: ApiFixture;
  beforeEach(async () => {
    f = await createApiFixture([]);
    await f.accounts.add('solo', PASSWORD, { capacity: 1 });
    await f.accounts.add('biller', PASSWORD, { teams: ['billing'] });
    await f.accounts.add('techie', PASSWORD, { teams: ['tech'] });
  });
  afterEach(() => f.stop());

  it("refuses a claim beyond the agent's capacity", async () => {
    await f.customer('conv-1').receiveActivity('agent please');
    await f.customer('conv-2').receiveActivity('agent please');
    const solo = await f.login('solo');
    expect((await f.call('POST', '/api/agent/conversations/conv-1/claim', solo)).status).to.equal(200);
    const second = await f.call('POST', '/api/agent/conversations/conv-2/claim', solo);
    expect(second.status).to.equal(409);
    expect(second.body.message).to.include('capacity 1');
  });

  it("keeps a team's conversation for that team's agents", async () => {
    await f.customer('conv-1').receiveActivity('agent please');
    const biller = await f.login('biller');
    await f.call('POST', '/api/agent/conversations/conv-1/claim', biller);
    await f.call('POST', '/api/agent/conversations/conv-1/transfer', biller, { team: 'billing' });
    const techie = await f.login('techie');
    const refused = await f.call('POST', '/api/agent/conversations/conv-1/claim', techie);
    expect(refused.status).to.equal(409);
    expect(refused.body.message).to.include('team billing');
    expect((await f.call('POST', '/api/agent/conversations/conv-1/claim', biller)).status).to.equal(200);
  });
});

describe('agent takeover from the console', () => {
  let f: ApiFixture;
  beforeEach(async () => (f = await createApiFixture(['ada'])));
  afterEach(() => f.stop());

  it('lists live bot conversations and lets an agent take one over, telling the customer', async () => {
    const customer = f.customer('conv-live');
    await customer.receiveActivity('what does roaming cost?');
    const ada = await f.login('ada');
    const live = await f.call('GET', '/api/agent/conversations?status=bot', ada);
    expect(live.body.conversations.map((c: any) => c.id)).to.deep.equal(['conv-live']);
    customer.activeQueue.splice(0);
    const taken = await f.call('POST', '/api/agent/conversations/conv-live/claim', ada);
    expect(taken.body.conversation).to.include({ owner: 'assigned', agentId: 'ada', reason: 'agent-takeover' });
    expect(customer.activeQueue.map((a) => a.text)).to.deep.equal(['Ada from our team has joined and can see the whole conversation.']);
    await customer.receiveActivity('oh hello');
    expect(customer.activeQueue).to.have.length(1); // the bot said nothing
  });
});

describe('agent sign-in limits', () => {
  // Behind one trusted proxy, so each request says which address it comes from (X-Forwarded-For).
  let fx: Fixture;
  let close: () => Promise<void>;
  let url: string;
  async function start(loginThrottle?: { nameBurst: number; namePerHour: number }) {
    fx = await createFixture();
    const directory = await openAgentDirectory({ dataDir: fx.dir, clock: fx.clock });
    await directory.accounts.add('ada', PASSWORD, { displayName: 'Ada' });
    const server = createServer({ logger: silentLogger, trustProxy: 1 });
    mountAgentApi(server, { hub: fx.hub, ...directory, knowledge: fakeKnowledge, clock: fx.clock, logger: silentLogger, loginThrottle });
    const http = await listen(server);
    url = http.url;
    close = async () => {
      await http.close();
      await fx.close();
    };
  }
  afterEach(() => close?.());

  async function signIn(from: string, password: string, username = 'ada') {
    const res = await fetch(`${url}/api/agent/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
      body: JSON.stringify({ username, password }),
    });
    return { status: res.status, retryAfter: Number(res.headers.get('retry-after')), body: (await res.json()) as { code?: string; message?: string; token?: string } };
  }

  it('does not lock the agent out when someone else types wrong passwords for their name', async () => {
    await start();
    for (let i = 0; i < 5; i++) expect((await signIn('203.0.113.7', `guess number ${i}`)).status).to.equal(401);
    const blocked = await signIn('203.0.113.7', PASSWORD);
    expect(blocked.status, 'that address waits, even with the right password').to.equal(429);
    expect(blocked.body.code).to.equal('TooManyRequests');
    expect(blocked.body.message).to.equal('Sign-in paused: too many wrong passwords for ada from this address; try again in 1 minute.');
    expect(blocked.retryAfter).to.equal(60);
    const ada = await signIn('198.51.100.20', PASSWORD);
    expect(ada.status, 'the agent at another address signs in').to.equal(200);
    expect(ada.body.token).to.be.a('string');
  });

  it('makes an address wait longer with every further wrong password, and a right one ends the wait', async () => {
    await start();
    for (let i = 0; i < 5; i++) await signIn('203.0.113.7', `guess number ${i}`);
    fx.clock.advance(60_000);
    expect((await signIn('203.0.113.7', 'guess number 6')).status).to.equal(401);
    const longer = await signIn('203.0.113.7', PASSWORD);
    expect([longer.status, longer.retryAfter]).to.deep.equal([429, 120]);
    expect(longer.body.message).to.include('try again in 2 minutes');
    fx.clock.advance(120_000);
    expect((await signIn('203.0.113.7', PASSWORD)).status).to.equal(200);
    expect((await signIn('203.0.113.7', 'one more typo')).status, 'counting starts again after a right password').to.equal(401);
  });

  it('slows a guessing attack spread over many addresses, while the agent still signs in from where they did before', async () => {
    await start({ nameBurst: 10, namePerHour: 30 });
    expect((await signIn('192.0.2.10', PASSWORD)).status, 'the agent signs in at the office').to.equal(200);
    for (let i = 0; i < 10; i++) expect((await signIn(`203.0.113.${i + 1}`, `guess number ${i}`)).status).to.equal(401);
    const next = await signIn('203.0.113.99', 'guess number 11');
    expect(next.status, 'a new address has to wait').to.equal(429);
    expect(next.retryAfter).to.equal(120); // 30 an hour: one every two minutes
    expect(next.body.message).to.equal('Sign-in slowed down: there have been many wrong passwords for ada from other addresses; try again in 2 minutes, or from where you usually sign in.');
    expect((await signIn('192.0.2.10', PASSWORD)).status, 'the office is not affected').to.equal(200);
    expect((await signIn('198.51.100.20', PASSWORD)).status, 'the agent on a new network waits too: the price of the backstop').to.equal(429);
    fx.clock.advance(120_000);
    expect((await signIn('203.0.113.99', 'guess number 12')).status, 'one more guess after the wait').to.equal(401);
    expect((await signIn('203.0.113.98', 'guess number 13')).status, 'and then a wait again').to.equal(429);
  });
});
