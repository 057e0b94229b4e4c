import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { mountDemoPage } from '../../src/web/demo-page.js';
import { launchBrowser } from '../helpers/browser.js';
import { startWebChat } from './fixture.js';

describe('web chat demo page in a real browser', function () {
  let browser: Browser | undefined;
  let app: Awaited<ReturnType<typeof startWebChat>>;

  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    app = await startWebChat();
    mountDemoPage(app.server, { tokens: app.adapter });
  });
  afterEach(async () => app?.close());

  it('answers a question in Web Chat and keeps the conversation after a reload', async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    page.on('response', (res) => res.status() >= 400 && problems.push(`${res.status()} ${res.url()}`));
    const webChatRequests: string[] = [];
    page.on('request', (req) => req.url().includes('webchat.js') && webChatRequests.push(req.url()));

    /** A message bubble in the transcript (Web Chat also repeats text in hidden live regions). */
    const bubble = (text: string) => page.locator('.webchat__bubble__content').getByText(text, { exact: true });

    await page.goto(`${app.url}/`);
    await expect(await page.title()).to.contain('Nimbus Mobile');
    await bubble('Welcome to the echo bot').waitFor();
    const input = page.locator('[data-id="webchat-sendbox-input"]');
    await input.fill('How much is roaming in France?');
    await input.press('Enter');
    await bubble('You said: How much is roaming in France?').waitFor();

    await page.reload();
    await bubble('You said: How much is roaming in France?').waitFor();
    await bubble('How much is roaming in France?').waitFor();
    await page.locator('[data-id="webchat-sendbox-input"]').fill('And in Spain?');
    await page.locator('[data-id="webchat-sendbox-input"]').press('Enter');
    await bubble('You said: And in Spain?').waitFor();

    expect(await page.getByText('Send failed').count()).to.equal(0);
    expect(await bubble('Welcome to the echo bot').count(), 'welcomed once, not again on reload').to.equal(1);
    expect([...app.bot.starts.values()]).to.deep.equal([1]);
    expect(webChatRequests.every((u) => u.startsWith(app.url)), 'Web Chat comes from our server, not a CDN').to.equal(true);
    expect(problems).to.deep.equal([]);
    await page.close();
  });

  it('keeps the send box disabled until Web Chat is connected (Web Chat ignores Enter before)', async () => {
    const page = await browser!.newPage();
    let connect!: () => void;
    const connecting = new Promise<void>((resolve) => (connect = resolve));
    await page.route('**/v3/directline/conversations', async (route) => {
      await connecting;
      await route.continue();
    });
    await page.goto(`${app.url}/`);
    const input = page.locator('[data-id="webchat-sendbox-input"]');
    await input.waitFor();
    expect(await input.isDisabled(), 'disabled while connecting').to.equal(true);

    connect();
    await input.fill('Is roaming free in Italy?'); // waits until the box is enabled
    await input.press('Enter');
    await page.locator('.webchat__bubble__content').getByText('You said: Is roaming free in Italy?', { exact: true }).waitFor();
    expect(await input.inputValue(), 'sent, not left in the box').to.equal('');
    await page.close();
  });
});
