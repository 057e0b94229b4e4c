import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildApp, type App } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { launchBrowser } from '../helpers/browser.js';
import { PASSWORD, signInToConsole } from './helpers.js';

const PHONE_ID = '106540352242922';
const SECRETS = { whatsapp: 'w-secret', messenger: 'm-secret' } as const;
const HOUR = 3600_000;

/** The text of a message send the fake Graph API recorded, on either Meta channel. */
const textOf = (r: RecordedRequest): string => r.body?.text?.body ?? r.body?.interactive?.body?.text ?? r.body?.message?.text ?? '';
/** Whom a message send the fake Graph API recorded was for. */
const recipientOf = (r: RecordedRequest): string | undefined => (r.api === 'whatsapp' ? r.body?.to : r.body?.recipient?.id);

describe('handoff end to end in a real browser: a customer on each channel → agent console → the customer', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let app: App;
  let graph: FakeGraph;
  let url: string;
  let dataDir: string;
  let pages: Page[] = [];
  let sequence = 0;
  /** The server's time runs this far ahead of the browsers' (the Messenger test lets a day pass). */
  let aheadMs = 0;
  const clock: Clock = { now: () => new Date(Date.now() + aheadMs) };

  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());

  beforeEach(async () => {
    aheadMs = 0;
    graph = new FakeGraph({ phoneNumberId: PHONE_ID, profiles: { '7777000011': { first_name: 'Maria', last_name: 'Rossi' } } });
    const graphUrl = await graph.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-e2e-handoff-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      KNOWLEDGE_DIR: 'knowledge',
      GRAPH_API_URL: graphUrl,
      WHATSAPP_APP_SECRET: SECRETS.whatsapp,
      WHATSAPP_VERIFY_TOKEN: 'v',
      WHATSAPP_ACCESS_TOKEN: 'wa-token',
      WHATSAPP_PHONE_NUMBER_ID: PHONE_ID,
      MESSENGER_APP_SECRET: SECRETS.messenger,
      MESSENGER_VERIFY_TOKEN: 'v',
      MESSENGER_PAGE_ACCESS_TOKEN: 'page-token',
      BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
    });
    app = await buildApp({ config, clock, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
    url = await app.listen(0, '127.0.0.1');
    await app.accounts.add('ada', PASSWORD, { displayName: 'Ada' });
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    await app?.close();
    await graph?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  /** A page in a browser context of its own (the customer and the agent do not share a session). */
  async function newPage(): Promise<Page> {
    const page = await browser!.newPage();
    pages.push(page);
    return page;
  }

  /** The agent Ada, signed in to the console in a page of her own. */
  async function agentConsole() {
    return signInToConsole(await newPage(), url, 'ada');
  }

  /**
   * A customer on WhatsApp or Messenger: every message is a signed webhook (timestamped by the server's
   * clock, as Meta's are by the world's), and what they receive is what reached the fake Graph API.
   */
  function metaCustomer(channel: 'whatsapp' | 'messenger', id: string, name?: string) {
    const toCustomer = (r: RecordedRequest) => r.api === channel && r.isMessage && r.status === 200 && recipientOf(r) === id;
    const customer = {
      /** Accepted message sends to this customer, in order. */
      received: () => graph.sent(channel).filter(toCustomer),
      async write(text: string): Promise<void> {
        const timestamp = clock.now().getTime();
        const event =
          channel === 'whatsapp'
            ? whatsappTextWebhook({ waId: id, name, text, phoneNumberId: PHONE_ID, wamid: `wamid.e2e.${++sequence}`, timestamp })
            : messengerTextWebhook({ psid: id, text, mid: `m_e2e_${++sequence}`, timestamp });
        const raw = serializeLikeMeta(event);
        const res = await fetch(`${url}/webhooks/${channel}`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, SECRETS[channel]) }, body: raw });
        expect(res.status, `webhook for "${text}"`).to.equal(200);
      },
      /** Waits for a message to this customer, after the first `after` they received, whose text matches. */
      async receives(matches: (text: string) => boolean, after = 0): Promise<RecordedRequest> {
        const isIt = (r: RecordedRequest) => toCustomer(r) && matches(textOf(r)) && customer.received().indexOf(r) >= after;
        await graph.waitFor(isIt);
        return customer.received().find(isIt)!;
      },
      /** Writes `text` and waits for the reply that matches. */
      async says(text: string, replyMatches: (text: string) => boolean): Promise<RecordedRequest> {
        const seen = customer.received().length;
        await customer.write(text);
        return customer.receives(replyMatches, seen);
      },
    };
    return customer;
  }

  it('web chat on the demo page: two answers, a person on request, the reply in Web Chat, then the bot again', async () => {
    const chat = await newPage();
    const problems: string[] = [];
    chat.on('pageerror', (err) => problems.push(err.message));
    chat.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    /** What the customer sees: a bubble from us (bot or agent) or one they sent. */
    const fromUs = (text: string | RegExp) => chat.locator('.webchat__bubble:not(.webchat__bubble--from-user) .webchat__bubble__content', { hasText: text });
    const fromCustomer = (text: string | RegExp) => chat.locator('.webchat__bubble--from-user .webchat__bubble__content', { hasText: text });
    const input = chat.locator('[data-id="webchat-sendbox-input"]');
    const ask = async (text: string) => {
      await input.fill(text);
      await input.press('Enter');
      await fromCustomer(text).waitFor();
    };

    await chat.goto(`${url}/`);
    await ask('How can I pay my bill?');
    await fromUs('whichever way suits you').waitFor();
    await ask('Can I use my phone in Europe?');
    await fromUs('Roam Free').waitFor();

    // Ada is already in the console: the escalation appears there live, with its channel and reason.
    const agent = await agentConsole();
    expect(await agent.page.isVisible('#queue-empty'), 'nobody is waiting yet').to.equal(true);
    await ask('can I talk to a person');
    await fromUs('can see this whole conversation').waitFor();
    const row = agent.row('webchat');
    await row.waitFor();
    expect(await row.textContent()).to.include('asked for a person');
    await agent.page.waitForFunction(() => document.title.includes('New escalation'));

    // The transcript has what the customer asked and what the bot answered before.
    await row.click();
    await agent.said('user', 'How can I pay my bill?').waitFor();
    await agent.said('bot', 'whichever way suits you').waitFor();
    await agent.said('user', 'Can I use my phone in Europe?').waitFor();
    await agent.said('bot', 'Roam Free').waitFor();
    expect(await agent.page.textContent('[data-testid=question]')).to.equal('can I talk to a person');

    // Claim and reply: both reach the customer's Web Chat; what the customer writes reaches Ada, not the bot.
    await agent.claim();
    await fromUs('Ada from our team has joined').waitFor();
    await ask('It is for a trip to Spain next week');
    await agent.said('user', 'It is for a trip to Spain next week').waitFor();
    await agent.reply('Hi, Ada here. Roaming in Spain is included in your plan.');
    await fromUs('Ada here. Roaming in Spain is included').waitFor();
    const between = await chat.evaluate(() => {
      const bubbles = [...document.querySelectorAll('.webchat__bubble__content')].map((b) => b.textContent ?? '');
      return bubbles.slice(bubbles.findIndex((t) => t.includes('trip to Spain')) + 1, bubbles.findIndex((t) => t.includes('Ada here.')));
    });
    expect(between, 'the bot did not answer while Ada had the chat').to.deep.equal([]);

    // The customer's Direct Line token does not open the agent API.
    const session = JSON.parse((await chat.evaluate(() => sessionStorage.getItem('nimbus.webchat.session'))) ?? '{}');
    expect((await fetch(`${url}/api/agent/conversations`, { headers: { authorization: `Bearer ${session.token}` } })).status).to.equal(401);

    // Resolve: the customer is told, and the bot answers the next question again.
    await agent.resolve();
    await fromUs('Ada has closed this chat').waitFor();
    await ask('How do I set up an eSIM?');
    await fromUs('Switching to an eSIM is free').waitFor();

    expect(await chat.getByText('Send failed').count()).to.equal(0);
    expect(problems).to.deep.equal([]);
  });

  it('WhatsApp: a person on request; the agent sees the history, claims, replies on WhatsApp and resolves', async () => {
    const customer = metaCustomer('whatsapp', '4915112345678', 'Jürgen');
    await customer.says('How can I pay my bill by card?', (t) => /card/i.test(t));
    await customer.says('My order 55512 has not arrived', (t) => t.length > 0);
    const handoffNotice = await customer.says('I want to talk to a human', (t) => t.includes('can see this whole conversation'));
    expect(handoffNotice.body.to).to.equal('4915112345678');
    await app.hub.settled();

    // The agent signs in and sees the queue entry with the earlier questions.
    const agent = await agentConsole();
    const row = agent.row('Jürgen');
    await row.waitFor();
    expect(await row.textContent()).to.include('whatsapp');
    await agent.row('Reply window: 23h').waitFor(); // WhatsApp's 24-hour window, counting down
    await row.click();
    await agent.said('user', 'How can I pay my bill by card?').waitFor();
    await agent.said('user', 'My order 55512 has not arrived').waitFor();
    expect(await agent.page.textContent('#d-summary')).to.include('55512');

    // Claim and reply: the reply reaches the fake Graph API for the customer's number.
    await agent.claim();
    await agent.reply('Hi Jürgen, Ada here. I am checking order 55512.');
    const reply = await customer.receives((t) => t === 'Hi Jürgen, Ada here. I am checking order 55512.');
    expect(reply.body).to.include({ to: '4915112345678', messaging_product: 'whatsapp' });

    // When Meta refuses a reply because the window closed, the console says so instead of losing it.
    // (closeWindow: every free-form send to the number fails with 131047 until it reopens — a one-shot
    // scripted failure could be taken by another Graph call of the conversation.)
    graph.closeWindow('4915112345678');
    await agent.reply('Are you still there?');
    try {
      await agent.page.waitForFunction(() => (document.getElementById('error')!.textContent ?? '').includes('reply window is closed'), undefined, { timeout: 15_000 });
    } catch (err) {
      const shown = await agent.page.textContent('#error');
      const calls = graph.requests.slice(-6).map((r) => `${r.method} ${r.path} ${r.status} ${JSON.stringify(r.body).slice(0, 80)}`);
      throw new Error(`the console did not say the window closed; it shows ${JSON.stringify(shown)}; last Graph calls: ${calls.join(' | ')}`, { cause: err });
    }
    graph.openWindow('4915112345678'); // the customer writes again below, which reopens it
    expect(await agent.page.inputValue('#reply'), 'the unsent reply stays in the box').to.equal('Are you still there?');

    // While Ada owns the conversation the bot stays silent; the customer's message reaches the console.
    const before = customer.received().length;
    await customer.write('How can I pay my bill by card?');
    await agent.said('user', 'How can I pay my bill by card?').nth(1).waitFor();
    expect(customer.received().length, 'nothing sent by the bot').to.equal(before);

    // Resolve: the bot answers the next question again.
    await agent.resolve();
    await customer.receives((t) => t.includes('has closed this chat'));
    const cardAnswer = (t: string) => /card/i.test(t) && !t.includes('closed');
    const cardAnswers = customer.received().filter((r) => cardAnswer(textOf(r))).length;
    await customer.says('How can I pay my bill by card?', cardAnswer);
    expect(customer.received().filter((r) => cardAnswer(textOf(r))).length).to.be.greaterThan(cardAnswers);
  });

  it('Messenger: a person on request; replies at the Send API, with the HUMAN_AGENT tag only for the agent after 24 hours', async () => {
    const psid = '7777000011';
    const customer = metaCustomer('messenger', psid);
    const answer = await customer.says('How can I pay my bill by card?', (t) => /card/i.test(t));
    expect(answer.body.messaging_type).to.equal('RESPONSE');
    await customer.says('can I speak to someone', (t) => t.includes('can see this whole conversation'));

    // The queue entry carries the customer's name from the User Profile API and the 7-day HUMAN_AGENT window.
    const agent = await agentConsole();
    const row = agent.row('Maria Rossi');
    await row.waitFor();
    expect(await row.textContent()).to.include('messenger').and.include('asked for a person');
    await agent.row('Reply window: 6d 23h').waitFor();
    await row.click();
    await agent.said('user', 'How can I pay my bill by card?').waitFor();
    await agent.said('bot', /card/i).waitFor();

    // Within 24 hours of the customer's last message everything goes as a standard response.
    await agent.claim();
    await customer.receives((t) => t.includes('Ada from our team has joined'));
    await agent.reply('Hi Maria, Ada here. Let me look at your bill.');
    const first = await customer.receives((t) => t === 'Hi Maria, Ada here. Let me look at your bill.');
    expect(first.body).to.deep.include({ recipient: { id: psid }, messaging_type: 'RESPONSE' });

    // A day later (the customer has not written since): Meta takes only HUMAN_AGENT-tagged messages, and
    // Ada signs in again (her session has expired) to answer with one.
    aheadMs = 25 * HOUR;
    graph.closeWindow(psid);
    await agent.page.reload();
    await signInToConsole(agent.page, url, 'ada');
    await agent.page.locator('#tabs button[data-status=mine]').click();
    await agent.row('Maria Rossi').click();
    await agent.reply('Your card payment went through this morning.');
    const tagged = await customer.receives((t) => t === 'Your card payment went through this morning.');
    expect(tagged.body).to.deep.include({ recipient: { id: psid }, messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });

    // Resolving: the "closed this chat" notice is the bot's, so it may not go out now (no tag for bots);
    // the console lists it as not delivered.
    await agent.resolve();
    await agent.page.locator('#d-failure-list li', { hasText: 'has closed this chat' }).waitFor();
    const tags = graph.requests.filter((r) => r.api === 'messenger' && r.isMessage && r.body.tag !== undefined).map(textOf);
    expect(tags, 'only the agent\'s own message used the HUMAN_AGENT tag').to.deep.equal(['Your card payment went through this morning.']);

    // The customer writes again, which reopens the window: the bot answers, as a standard response.
    graph.openWindow(psid);
    const again = await customer.says('How can I pay my bill by card?', (t) => /card/i.test(t) && !t.includes('closed'));
    expect(again.body.messaging_type).to.equal('RESPONSE');
  });
});
