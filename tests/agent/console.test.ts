import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { settle } from '../handoff/helpers.js';
import { createApiFixture, signInToConsole, type ApiFixture } from './helpers.js';

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
});
