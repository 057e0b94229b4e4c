/**
 * The ready server with the FAQ bot, a WhatsApp customer who reacts to, edits and deletes messages,
 * and the agent console in a real browser: the bot never answers those changes, the agent sees them
 * in the transcript, and sees "read" under their own message once WhatsApp says so.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { signBody } from '../../adapters/shared/verify.js';
import { serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { DEFAULT_UNSUPPORTED_TEXT } from '../../adapters/shared/meta-adapter.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { launchBrowser } from '../helpers/browser.js';
import { PASSWORD, signInToConsole } from '../agent/helpers.js';

const PHONE_ID = '106540352242922';
const SECRET = 'w-secret';
const WA = '4915112345678';

const textOf = (r: RecordedRequest): string => r.body?.text?.body ?? r.body?.interactive?.body?.text ?? '';

describe('customer reactions, edits and deletes in the agent console (WhatsApp, real browser)', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let app: App;
  let graph: FakeGraph;
  let url: string;
  let dataDir: string;
  let page: Page | undefined;
  let n = 0;

  before(async function () {
    browser = await launchBrowser(this);
    graph = new FakeGraph({ phoneNumberId: PHONE_ID });
    const graphUrl = await graph.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-console-events-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      KNOWLEDGE_DIR: 'knowledge',
      GRAPH_API_URL: graphUrl,
      WHATSAPP_APP_SECRET: SECRET,
      WHATSAPP_VERIFY_TOKEN: 'v',
      WHATSAPP_ACCESS_TOKEN: 'wa-token',
      WHATSAPP_PHONE_NUMBER_ID: PHONE_ID,
      BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
    });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
    url = await app.listen(0, '127.0.0.1');
    await app.accounts.add('ada', PASSWORD, { displayName: 'Ada' });
  });
  after(async () => {
    await page?.close();
    await browser?.close();
    await app?.close();
    await graph?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  /** Posts one signed WhatsApp webhook with `messages` or `statuses` for the customer. */
  async function webhook(value: { messages?: unknown[]; statuses?: unknown[] }): Promise<void> {
    const body = whatsappTextWebhook({ waId: WA, name: 'Jürgen', text: '', phoneNumberId: PHONE_ID });
    const v = body.entry[0]!.changes[0]!.value as Record<string, unknown>;
    if (value.messages) v.messages = value.messages;
    else delete v.messages;
    if (value.statuses) v.statuses = value.statuses;
    const raw = serializeLikeMeta(body);
    const res = await fetch(`${url}/webhooks/whatsapp`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, SECRET) }, body: raw });
    expect(res.status).to.equal(200);
  }
  const message = (type: string, part: unknown) => ({ from: WA, id: `wamid.console-events.${++n}`, timestamp: String(Math.floor(Date.now() / 1000)), type, [type]: part });
  const say = (text: string) => webhook({ messages: [message('text', { body: text })] });
  const sentTo = () => graph.sent('whatsapp').filter((r) => r.isMessage && r.status === 200 && r.body.to === WA);
  const waitForText = async (matches: (t: string) => boolean) => {
    await graph.waitFor((r) => r.api === 'whatsapp' && r.isMessage && r.body.to === WA && matches(textOf(r)));
    return sentTo().find((r) => matches(textOf(r)))!;
  };

  it('records them for the agent, never answers them, and shows "read" under the agent\'s reply', async () => {
    await say('How can I pay my bill by card?');
    const answer = await waitForText((t) => /card/i.test(t));
    await waitForText((t) => t === 'Did this help?');
    const whatsapp = app.adapters.whatsapp as unknown as { whenIdle(): Promise<void> };
    await whatsapp.whenIdle();
    const before = sentTo().length;

    // While the bot owns the conversation: a reaction, an edit and a delete. None is answered.
    await webhook({ messages: [message('reaction', { message_id: answer.response.messages[0].id, emoji: '👍' })] });
    await webhook({ messages: [message('edit', { original_message_id: 'wamid.console-events.1', message: { type: 'text', text: { body: 'How can I pay my bill by credit card?' } } })] });
    await webhook({ messages: [message('revoke', { original_message_id: 'wamid.console-events.1' })] });
    await whatsapp.whenIdle();
    expect(sentTo().slice(before).map(textOf), 'nothing sent for the changes').to.deep.equal([]);
    await say('can I speak to someone');
    await waitForText((t) => t.includes('can see this whole conversation'));
    const texts = sentTo().map(textOf);
    expect(texts.join('\n')).not.to.include(DEFAULT_UNSUPPORTED_TEXT);
    expect(texts.join('\n')).not.to.match(/only read text/i);

    page = await browser!.newPage();
    const agent = await signInToConsole(page, url, 'ada');
    await agent.row('Jürgen').click();
    await agent.claim();
    await agent.reply('Hi Jürgen, Ada here.');
    const reply = await waitForText((t) => t === 'Hi Jürgen, Ada here.');
    await webhook({ statuses: [{ id: reply.response.messages[0].id, status: 'read', timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: WA }] });

    // The conversation view, read again, has the changes and the receipt.
    await page.reload();
    await page.waitForSelector('#connection.live');
    await page.locator('#tabs button[data-status=mine]').click();
    await agent.row('Jürgen').click();
    const changes = page.locator('[data-testid=customer-change]');
    await changes.nth(2).waitFor();
    expect(await changes.allTextContents()).to.deep.equal([
      'Customer reacted 👍',
      'Customer edited a message: How can I pay my bill by credit card?',
      'Customer deleted a message',
    ]);
    const mine = agent.said('agent', 'Hi Jürgen, Ada here.');
    await mine.locator('[data-testid=receipt]').waitFor();
    expect(await mine.locator('[data-testid=receipt]').textContent()).to.equal('read');
  });
});
