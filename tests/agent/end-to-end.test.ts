import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { launchBrowser } from '../helpers/browser.js';

const PHONE_ID = '106540352242922';
const CUSTOMER = '4915112345678';
const textOf = (b: any): string => b?.text?.body ?? b?.interactive?.body?.text ?? '';

describe('handoff end to end: WhatsApp customer → agent console → WhatsApp', function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let app: App;
  let graph: FakeGraph;
  let url: string;
  let dataDir: string;
  let page: Page;
  let sequence = 0;

  before(async function () {
    browser = await launchBrowser(this);
    graph = new FakeGraph({ phoneNumberId: PHONE_ID });
    const graphUrl = await graph.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-e2e-handoff-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      KNOWLEDGE_DIR: 'knowledge',
      GRAPH_API_URL: graphUrl,
      WHATSAPP_APP_SECRET: 'w-secret',
      WHATSAPP_VERIFY_TOKEN: 'v',
      WHATSAPP_ACCESS_TOKEN: 'wa-token',
      WHATSAPP_PHONE_NUMBER_ID: PHONE_ID,
      BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
    });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
    url = await app.listen(0, '127.0.0.1');
    await app.accounts.add('ada', 'correct horse', { displayName: 'Ada' });
    page = await browser.newPage();
  });
  after(async () => {
    await page?.close();
    await browser?.close();
    await app?.close();
    await graph?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  /** The customer writes on WhatsApp (a signed webhook) and we wait until the bot's reply reaches the fake Graph API. */
  async function customerSays(text: string, replyMatches: (t: string) => boolean): Promise<RecordedRequest> {
    const seen = graph.sent('whatsapp').length;
    const isReply = (r: RecordedRequest) => r.api === 'whatsapp' && r.isMessage && r.status === 200 && replyMatches(textOf(r.body)) && graph.sent('whatsapp').indexOf(r) >= seen;
    const raw = serializeLikeMeta(whatsappTextWebhook({ waId: CUSTOMER, name: 'Jürgen', text, phoneNumberId: PHONE_ID, wamid: `wamid.e2e.${++sequence}`, timestamp: Date.now() }));
    const res = await fetch(`${url}/webhooks/whatsapp`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, 'w-secret') }, body: raw });
    expect(res.status).to.equal(200);
    await graph.waitFor(isReply);
    return graph.sent('whatsapp').filter(isReply).at(-1)!;
  }

  it('hands a WhatsApp customer to an agent who sees the history, claims, replies on WhatsApp and resolves', async () => {
    await customerSays('How can I pay my bill by card?', (t) => /card/i.test(t));
    await customerSays('My order 55512 has not arrived', (t) => t.length > 0);
    const handoffNotice = await customerSays('I want to talk to a human', (t) => t.includes('can see this whole conversation'));
    expect(handoffNotice.body.to).to.equal(CUSTOMER);
    await app.hub.settled();

    // The agent signs in and sees the queue entry with the earlier questions.
    await page.goto(`${url}/agent`);
    await page.fill('input[name=username]', 'ada');
    await page.fill('input[name=password]', 'correct horse');
    await page.click('#login-form button[type=submit]');
    const row = page.locator('[data-testid=queue-row]', { hasText: 'Jürgen' });
    await row.waitFor();
    expect(await row.textContent()).to.include('whatsapp');
    await page.locator('[data-testid=queue-row]', { hasText: 'Reply window: 23h' }).waitFor(); // WhatsApp's 24-hour window, counting down
    await row.click();
    await page.locator('[data-testid=transcript-item].user', { hasText: 'How can I pay my bill by card?' }).waitFor();
    await page.locator('[data-testid=transcript-item].user', { hasText: 'My order 55512 has not arrived' }).waitFor();
    expect(await page.textContent('#d-summary')).to.include('55512');

    // Claim and reply: the reply reaches the fake Graph API for the customer's number.
    await page.click('#claim');
    await page.waitForFunction(() => !(document.getElementById('send') as HTMLButtonElement).disabled);
    await page.fill('#reply', 'Hi Jürgen, Ada here. I am checking order 55512.');
    await page.click('#send');
    await graph.waitFor((r) => r.api === 'whatsapp' && r.isMessage && textOf(r.body) === 'Hi Jürgen, Ada here. I am checking order 55512.');
    const reply = graph.sent('whatsapp').find((r) => textOf(r.body).startsWith('Hi Jürgen, Ada here'))!;
    expect(reply.body).to.include({ to: CUSTOMER, messaging_product: 'whatsapp' });

    // When Meta refuses a reply because the window closed, the console says so instead of losing it.
    graph.failNext(1, { status: 400, code: 131047, message: 'Re-engagement message' });
    await page.fill('#reply', 'Are you still there?');
    await page.click('#send');
    await page.waitForFunction(() => (document.getElementById('error')!.textContent ?? '').includes('reply window is closed'));
    expect(await page.inputValue('#reply'), 'the unsent reply stays in the box').to.equal('Are you still there?');

    // While Ada owns the conversation the bot stays silent; the customer's message reaches the console.
    const before = graph.sent('whatsapp').filter((r) => r.isMessage).length;
    const raw = serializeLikeMeta(whatsappTextWebhook({ waId: CUSTOMER, name: 'Jürgen', text: 'How can I pay my bill by card?', phoneNumberId: PHONE_ID, wamid: `wamid.e2e.${++sequence}` }));
    await fetch(`${url}/webhooks/whatsapp`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, 'w-secret') }, body: raw });
    await page.locator('[data-testid=transcript-item].user', { hasText: 'How can I pay my bill by card?' }).nth(1).waitFor();
    expect(graph.sent('whatsapp').filter((r) => r.isMessage).length, 'nothing sent by the bot').to.equal(before);

    // Resolve: the bot answers the next question again.
    await page.click('#resolve');
    await graph.waitFor((r) => r.api === 'whatsapp' && r.isMessage && textOf(r.body).includes('has closed this chat'));
    const cardAnswers = graph.sent('whatsapp').filter((r) => /card/i.test(textOf(r.body)) && !textOf(r.body).includes('closed')).length;
    await customerSays('How can I pay my bill by card?', (t) => /card/i.test(t) && !t.includes('closed'));
    expect(graph.sent('whatsapp').filter((r) => /card/i.test(textOf(r.body)) && !textOf(r.body).includes('closed')).length).to.be.greaterThan(cardAnswers);
  });
});

describe('handoff end to end on Messenger and Web Chat, through the agent API', function () {
  this.timeout(60_000);
  let app: App;
  let graph: FakeGraph;
  let url: string;
  let dataDir: string;
  let token: string;

  before(async () => {
    graph = new FakeGraph();
    const graphUrl = await graph.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-e2e-handoff2-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      KNOWLEDGE_DIR: 'knowledge',
      GRAPH_API_URL: graphUrl,
      MESSENGER_APP_SECRET: 'm-secret',
      MESSENGER_VERIFY_TOKEN: 'v',
      MESSENGER_PAGE_ACCESS_TOKEN: 'page-token',
      BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
    });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
    url = await app.listen(0, '127.0.0.1');
    await app.accounts.add('bob', 'correct horse', { displayName: 'Bob' });
    const login = await fetch(`${url}/api/agent/login`, { method: 'POST', body: JSON.stringify({ username: 'bob', password: 'correct horse' }) });
    token = ((await login.json()) as { token: string }).token;
  });
  after(async () => {
    await app?.close();
    await graph?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  const agent = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/agent${path}`, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  async function eventually<T>(get: () => Promise<T> | T, ok: (v: T) => boolean): Promise<T> {
    for (let i = 0; i < 400; i++) {
      const v = await get();
      if (ok(v)) return v;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('condition not met in time');
  }

  it('hands a Messenger customer to an agent and delivers the reply at the Send API', async () => {
    const psid = '7777000011';
    const raw = serializeLikeMeta(messengerTextWebhook({ psid, text: 'can I speak to someone', mid: 'm_e2e_1' }));
    expect((await fetch(`${url}/webhooks/messenger`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, 'm-secret') }, body: raw })).status).to.equal(200);
    await graph.waitFor((r) => r.api === 'messenger' && r.isMessage && (r.body.message?.text ?? '').includes('can see this whole conversation'));
    const queued = await eventually(() => agent('GET', '/conversations?status=queued'), (r) => r.body.conversations.length === 1);
    const id = queued.body.conversations[0].id;
    expect(queued.body.conversations[0]).to.include({ channelId: 'messenger', reason: 'customer-asked' });
    expect((await agent('POST', `/conversations/${encodeURIComponent(id)}/claim`)).status).to.equal(200);
    expect((await agent('POST', `/conversations/${encodeURIComponent(id)}/messages`, { text: 'Hi, Bob here on Messenger.' })).status).to.equal(201);
    await graph.waitFor((r) => r.api === 'messenger' && r.isMessage && r.body.message?.text === 'Hi, Bob here on Messenger.');
    const sent = graph.sent('messenger').find((r) => r.body.message?.text === 'Hi, Bob here on Messenger.')!;
    expect(sent.body.recipient).to.deep.equal({ id: psid });
    expect((await agent('POST', `/conversations/${encodeURIComponent(id)}/resolve`)).status).to.equal(200);
  });

  it('hands a Web Chat customer to an agent and delivers the reply over Direct Line', async () => {
    const webchat = app.adapters.webchat as unknown as { generateToken(): { conversationId: string; token: string } };
    const { conversationId, token: dl } = webchat.generateToken();
    const dlBase = `${url}/v3/directline/conversations/${conversationId}/activities`;
    const post = (text: string) =>
      fetch(dlBase, { method: 'POST', headers: { authorization: `Bearer ${dl}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'message', from: { id: 'dl-user' }, text }) });
    const texts = async () => (((await (await fetch(dlBase, { headers: { authorization: `Bearer ${dl}` } })).json()) as { activities: any[] }).activities.map((a) => a.text));
    await post('I want a real human');
    await eventually(texts, (t) => t.some((x) => x?.includes('can see this whole conversation')));
    expect((await agent('GET', `/conversations/${encodeURIComponent(conversationId)}`)).body.conversation).to.include({ owner: 'queued', channelId: 'webchat' });
    // The Direct Line token of the customer does not open the agent API.
    expect((await fetch(`${url}/api/agent/conversations`, { headers: { authorization: `Bearer ${dl}` } })).status).to.equal(401);
    await agent('POST', `/conversations/${encodeURIComponent(conversationId)}/claim`);
    await agent('POST', `/conversations/${encodeURIComponent(conversationId)}/messages`, { text: 'Hi, Bob here in the web chat.' });
    await eventually(texts, (t) => t.includes('Hi, Bob here in the web chat.'));
    await agent('POST', `/conversations/${encodeURIComponent(conversationId)}/resolve`);
    await post('How can I pay my bill by card?');
    await eventually(texts, (t) => t.some((x) => /card/i.test(x ?? '') && x !== 'How can I pay my bill by card?')); // the bot answers again
  });
});
