import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { settle } from '../handoff/helpers.js';
import { createApiFixture, PASSWORD, type ApiFixture } from './helpers.js';

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

  async function signIn() {
    await page.goto(`${f.url}/agent`);
    await page.fill('input[name=username]', 'ada');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#connection.live');
  }

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
