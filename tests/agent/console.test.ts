import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from 'botbuilder';
import type { Browser, Page } from 'playwright-core';
import { InsightsStore } from '../../src/bot/insights.js';
import { KnowledgeBase } from '../../src/knowledge/knowledge-base.js';
import { silentLogger } from '../../src/log.js';
import { launchBrowser } from '../helpers/browser.js';
import { settle } from '../handoff/helpers.js';
import { BROKEN_EDIT, createApiFixture, signInToConsole, writeKnowledge, type ApiFixture } from './helpers.js';

describe('agent console in Chromium', () => {
  let browser: Browser | undefined;
  let f: ApiFixture;
  let page: Page;
  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    f = await createApiFixture(['ada']);
    page = await browser!.newPage();
  });
  afterEach(async () => {
    await page?.close();
    await f?.stop();
  });

  const signIn = () => signInToConsole(page, f.url, 'ada');

  it('signs in, sees the queued conversation with its history, claims it and replies to the customer', async () => {
    const customer = f.customer('conv-1', 'wa-4915123456789');
    await customer.receiveActivity('my order 55512 has not arrived');
    await customer.receiveActivity('agent please');
    await settle(f.hub);
    await signIn();
    const row = page.locator('[data-testid=queue-row]', { hasText: 'Ada Customer' });
    await row.waitFor();
    expect(await row.textContent()).to.include('asked for a person');
    await row.click();
    await page.locator('[data-testid=transcript-item].user', { hasText: 'my order 55512 has not arrived' }).waitFor();
    expect(await page.textContent('#d-summary')).to.include('55512');
    expect(await page.textContent('[data-testid=question]')).to.equal('where is order 55512?');

    customer.activeQueue.splice(0);
    await page.click('#claim');
    await page.waitForFunction(() => !(document.getElementById('send') as HTMLButtonElement).disabled);
    expect(customer.activeQueue.map((a) => a.text)).to.deep.equal(['Ada from our team has joined and can see the whole conversation.']);
    expect((await f.store.get('conv-1'))!).to.include({ owner: 'assigned', agentId: 'ada' });

    await page.fill('#reply', 'Hi, I am looking at order 55512 now.');
    await page.click('#send');
    await page.locator('[data-testid=transcript-item].agent', { hasText: 'I am looking at order 55512 now' }).waitFor();
    expect(customer.activeQueue.map((a) => a.text)).to.include('Hi, I am looking at order 55512 now.');

    await customer.receiveActivity('thank you!');
    await page.locator('[data-testid=transcript-item].user', { hasText: 'thank you!' }).waitFor();
  });

  it('keeps the next message the agent started typing while the previous one was still being sent', async () => {
    const customer = f.customer('conv-next', 'wa-4915100000077');
    await customer.receiveActivity('agent please');
    await settle(f.hub);
    const c = await signIn();
    await c.row('Ada Customer').click();
    await c.claim();
    // Hold the first send's answer until the agent has typed the start of the next message.
    await page.route('**/messages', async (route) => {
      await page.fill('#reply', 'And one more thing:');
      await route.continue();
    });
    await page.fill('#reply', 'Your refund is on its way.');
    await page.click('#send');
    await c.said('agent', 'Your refund is on its way.').waitFor();
    expect(await page.inputValue('#reply')).to.equal('And one more thing:');
  });

  it('renders the bot\'s Markdown safely and shows what the customer typed as plain text', async () => {
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    const customer = f.customer('conv-md', 'wa-4915100000001');
    await customer.receiveActivity('tell me about **Winter Double Data**');
    await customer.receiveActivity('<img src=x onerror=alert(1)>');
    await customer.receiveActivity('see [the terms](https://example.com/terms) or [this](javascript:alert(2))');
    await customer.receiveActivity('agent please');
    await settle(f.hub);
    await signIn();
    await page.locator('[data-testid=queue-row]').first().click();
    const bot = page.locator('[data-testid=transcript-item].bot');
    const user = page.locator('[data-testid=transcript-item].user');
    await bot.locator('strong', { hasText: 'Winter Double Data' }).waitFor();

    // The customer's own words: shown exactly as typed, never as markup.
    expect(await user.filter({ hasText: '**Winter Double Data**' }).count()).to.equal(1);
    expect(await user.locator('strong').count()).to.equal(0);
    expect(await user.filter({ hasText: '<img src=x onerror=alert(1)>' }).count()).to.equal(1);
    expect(await user.locator('a').count()).to.equal(0);
    // The bot's echo of the HTML is text as well; nothing in the transcript became an image.
    expect(await bot.filter({ hasText: 'bot: <img src=x onerror=alert(1)>' }).count()).to.equal(1);
    expect(await page.locator('#transcript img').count()).to.equal(0);

    // Links in the bot's Markdown: only http(s)/mailto/tel, opened without an opener.
    const link = bot.locator('a', { hasText: 'the terms' });
    expect(await link.getAttribute('href')).to.equal('https://example.com/terms');
    expect(await link.getAttribute('rel')).to.equal('noopener noreferrer');
    expect(await link.getAttribute('target')).to.equal('_blank');
    expect(await bot.filter({ hasText: 'or this' }).count()).to.equal(1);
    expect(await page.locator('#transcript a[href^="javascript"]').count()).to.equal(0);
    expect(dialogs).to.deep.equal([]);
  });

  it('serves marked\'s browser build itself (no CDN)', async () => {
    const res = await fetch(`${f.url}/agent/marked.js`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/javascript/);
    expect(await res.text()).to.include('Marked');
  });

  it('shows a new escalation live, with a title notification', async () => {
    await signIn();
    expect(await page.locator('[data-testid=queue-row]').count()).to.equal(0);
    await f.customer('conv-2', 'web-user-2').receiveActivity('agent please');
    await page.locator('[data-testid=queue-row]', { hasText: 'Ada Customer' }).waitFor();
    await page.waitForFunction(() => document.title.includes('New escalation'));
  });

  it('inserts a knowledge answer into the reply box from the search', async () => {
    await f.customer('conv-3').receiveActivity('agent please');
    await signIn();
    await page.locator('[data-testid=queue-row]').first().click();
    await page.fill('#kb-search', 'refund');
    await page.locator('[data-testid=kb-result]').first().click();
    expect(await page.inputValue('#reply')).to.equal('Refunds take 5 days.');
  });

  describe('the knowledge', () => {
    let dir: string;
    let kb: KnowledgeBase;
    let insights: InsightsStore;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'console-knowledge-'));
      await writeKnowledge(dir);
      kb = await KnowledgeBase.open(dir, { logger: silentLogger });
      await f.stop();
      f = await createApiFixture(['ada'], { knowledge: kb, insights: (insights = new InsightsStore(new MemoryStorage())) });
    });
    afterEach(async () => {
      await kb?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const banner = () => page.locator('[data-testid=kb-banner]');

    it('shows a rejected knowledge edit live above the queue, with its path:line, until the file is fixed', async () => {
      await f.customer('conv-kb', 'web-user-kb').receiveActivity('agent please');
      await signIn();
      const row = page.locator('[data-testid=queue-row]', { hasText: 'Ada Customer' });
      await row.waitFor();
      expect(await banner().isVisible()).to.equal(false);

      const original = await readFile(join(dir, BROKEN_EDIT.path), 'utf8');
      await writeFile(join(dir, BROKEN_EDIT.path), BROKEN_EDIT.text);
      await banner().waitFor();
      const title = (await page.textContent('#kb-banner-title'))!;
      // Only the broken file is held back: the banner names it and says the other edits are live.
      expect(title).to.equal(`${BROKEN_EDIT.path} held back — its last good version is still served; the other edits are live`);
      expect(await page.locator('[data-testid=kb-problem]').allTextContents()).to.deep.equal([BROKEN_EDIT.problem]);
      expect(await page.textContent('#kb-banner-problems'), 'nothing else in the list').to.equal(BROKEN_EDIT.problem);
      expect(await row.isVisible(), 'the queue stays in view under the banner').to.equal(true);
      expect(kb.get('billing/pay-bill')?.answer, 'the last good version still serves').to.equal('Pay in the app under Billing.');

      await writeFile(join(dir, BROKEN_EDIT.path), original);
      await banner().waitFor({ state: 'hidden' });
      expect(await page.locator('[data-testid=kb-problem]').count()).to.equal(0);
    });

    it('shows the entries, the load time and what customers asked that the knowledge did not cover, as plain text', async () => {
      const at = f.clock.now().toISOString();
      for (const channel of ['webchat', 'whatsapp', 'webchat']) await insights.recordUnanswered({ query: 'Do you sell gift cards?', channel, at });
      await insights.recordUnanswered({ query: '<img src=x onerror=alert(1)> <b>bold</b>', channel: 'messenger', at });
      await insights.recordFeedback('billing/pay-bill', false);
      await insights.recordFeedback('billing/pay-bill', true);
      const dialogs: string[] = [];
      page.on('dialog', async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });
      await signIn();
      expect(await page.textContent('#kb-entries')).to.equal('2');
      await page.click('#kb-open');
      const gaps = page.locator('[data-testid=kb-gap]');
      await gaps.first().waitFor();
      expect(await page.textContent('#kb-status')).to.match(/^2 entries in 2 files · loaded at \d\d:\d\d \(took \d+ ms\) · saved edits go live by themselves$/);
      expect(await page.textContent('#kb-asked')).to.equal('4 questions the bot could not answer in the last 30 days, the most asked first.');
      const rows = await gaps.allInnerTexts();
      expect(rows).to.have.length(2);
      expect(await page.textContent('#kb-unanswered'), 'nothing else in the list').to.equal((await gaps.allTextContents()).join(''));
      expect(rows[0]).to.include('Do you sell gift cards?').and.include('3×').and.include('webchat, whatsapp');
      expect(rows[1]).to.include('<img src=x onerror=alert(1)> <b>bold</b>').and.include('1×').and.include('messenger');
      expect(await page.locator('#knowledge img, #knowledge b:not(#kb-entries)').count(), 'customer text stays text').to.equal(0);
      const unhelpful = await page.locator('[data-testid=kb-unhelpful]').allInnerTexts();
      expect(unhelpful).to.have.length(1);
      expect(await page.textContent('#kb-unhelpful'), 'nothing else in the list').to.equal(await page.textContent('[data-testid=kb-unhelpful]'));
      expect(unhelpful[0]).to.include('How can I pay my bill?').and.include('billing/pay-bill').and.include('did not help 1 time, helped 1 time');

      // A conversation takes the knowledge view's place.
      await f.customer('conv-kb2', 'web-user-kb2').receiveActivity('agent please');
      await page.locator('[data-testid=queue-row]').first().click();
      await page.locator('#detail').waitFor();
      expect(await page.isVisible('#knowledge')).to.equal(false);
      expect(dialogs).to.deep.equal([]);
    });
  });
});
