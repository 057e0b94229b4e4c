import { expect } from 'chai';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import sinon from 'sinon';
import { MONDAY_10, settle } from './helpers.js';
import { createApiFixture, signInToConsole, type ApiFixture } from '../agent/helpers.js';

/** The side panel's screenshot, kept for a person to look at after the run. */
const SCREENSHOT = join(tmpdir(), 'switchboard-summary-panel.png');

describe('handoff summary in the agent console', () => {
  let browser: Browser | undefined;
  let f: ApiFixture;
  let page: Page;
  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    f = await createApiFixture(['ada']);
    page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  });
  afterEach(async () => {
    await page?.close();
    await f?.stop();
  });

  it("shows the customer's words first, then each detail under its kind, in the side panel", async () => {
    // Dates are resolved against each message's own time: the customer writes on the fixture's Monday.
    const time = sinon.useFakeTimers({ now: Date.parse(MONDAY_10), toFake: ['Date'], shouldAdvanceTime: true });
    try {
      await describeProblem();
    } finally {
      time.restore();
    }
  });

  async function describeProblem() {
    const customer = f.customer('conv-sum', 'wa-447700900123');
    await customer.receiveActivity('hi');
    await customer.receiveActivity('My bill is wrong, I was charged £30 twice for order 55512');
    await customer.receiveActivity('and there is no signal since this morning at SW1A 1AA');
    await customer.receiveActivity('yes');
    await customer.receiveActivity('how much is roaming in the US? I fly tomorrow. Write to averyveryverylongemailaddress.customer@example-telecom-customer.co.uk');
    await customer.receiveActivity('a person please');
    await settle(f.hub);
    await signInToConsole(page, f.url, 'ada');
    await page.locator('[data-testid=queue-row]').first().click();
    await page.locator('[data-testid=summary-problem]').first().waitFor();
    await page.locator('aside.context').screenshot({ path: SCREENSHOT });
    await page.screenshot({ path: SCREENSHOT.replace('.png', '-page.png') });

    expect(await page.locator('[data-testid=summary-problem]').allTextContents()).to.deep.equal([
      'My bill is wrong, I was charged £30 twice for order 55512',
      'and there is no signal since this morning at SW1A 1AA',
      'how much is roaming in the US? I fly tomorrow. Write to averyveryverylongemailaddress.customer@example-telecom-customer.co.uk',
    ]);
    const rows = await page.$$eval('#d-summary dt', (dts) => dts.map((dt) => `${dt.textContent}: ${(dt.nextElementSibling as HTMLElement).innerText.replace(/\n/g, ' | ')}`));
    expect(rows).to.deep.equal([
      'Order / ref: 55512',
      'Email: averyveryverylongemailaddress.customer@example-telecom-customer.co.uk',
      'Postcode: SW1A 1AA',
      'Amount: £30',
      // written on Monday 23 November 2026, 10:00 UTC
      'Date: since Mon 23 Nov, morning | Tue 24 Nov',
    ]);

    // Legible: nothing in the panel is wider than the panel (a long email wraps).
    const overflow = await page.$eval('aside.context', (aside) => {
      const limit = aside.getBoundingClientRect().right + 1;
      return [...aside.querySelectorAll('#d-summary *')].filter((n) => n.getBoundingClientRect().right > limit).map((n) => n.textContent);
    });
    expect(overflow).to.deep.equal([]);
  }

  it('says so when the customer gave no details', async () => {
    const customer = f.customer('conv-none', 'wa-447700900999');
    await customer.receiveActivity('hello');
    await customer.receiveActivity('a person please');
    await settle(f.hub);
    await signInToConsole(page, f.url, 'ada');
    await page.locator('[data-testid=queue-row]').first().click();
    await page.locator('#d-summary p').waitFor();
    expect(await page.textContent('#d-summary')).to.equal('The customer has not described a problem or given any details.');
  });
});
