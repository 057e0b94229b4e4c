/**
 * The console as people meet it: a clean sign-in page, customers named in words, buttons that say why
 * they cannot work, system lines only from the server, names that keep the layout, previews, and a
 * console that survives a server restart or says in words why it signed out.
 */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { customerView, formatPhoneNumber } from '../../src/agent/api.js';
import { openAgentDirectory } from '../../src/agent/directory.js';
import type { KnowledgeSearcher } from '../../src/knowledge/types.js';
import { launchBrowser } from '../helpers/browser.js';
import { fakeKnowledge, settle } from '../handoff/helpers.js';
import { SESSION_TTL_MS, createApiFixture, signInToConsole, speakAs, startAgentApiOnPort, type ApiFixture } from './helpers.js';

const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS; // a folder: the pages are saved there to look at
const plain = (s: string | null) => (s ?? '').replace(/[\u2068\u2069]/g, '');

async function shot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Boxes of elements in the page, for layout checks. */
const box = async (page: Page, selector: string) => (await page.locator(selector).first().boundingBox())!;

describe('agent console for people', () => {
  let browser: Browser | undefined;
  let f: ApiFixture | undefined;
  let page: Page;
  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
  });
  afterEach(async () => {
    await page?.close();
    await f?.stop();
    f = undefined;
  });

  it('shows only the sign-in form before signing in, with a favicon', async () => {
    f = await createApiFixture(['ada']);
    const missing: string[] = [];
    page.on('response', (r) => r.status() === 404 && missing.push(r.url()));
    await page.goto(`${f.url}/agent`);
    await page.locator('#login-form').waitFor();
    for (const hidden of ['#whoami', '#kb-open', '#logout', '#console', '#queue', '#tabs', '#error']) {
      expect(await page.isVisible(hidden), `${hidden} on the sign-in page`).to.equal(false);
    }
    expect(await page.isVisible('#login-form')).to.equal(true);
    await shot(page, 'signin-1280');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'signin-390');

    expect(await page.getAttribute('link[rel=icon]', 'href')).to.equal('/agent/favicon.svg');
    const icon = await fetch(`${f.url}/agent/favicon.svg`);
    expect(icon.status).to.equal(200);
    expect(icon.headers.get('content-type')).to.equal('image/svg+xml');
    expect(await icon.text()).to.include('<svg');
    expect(missing).to.deep.equal([]);
  });

  it('names a web visitor in words, never by the dl_ id, and previews their last message live', async () => {
    f = await createApiFixture(['ada'], { channelId: 'webchat' });
    const customer = speakAs(f.customer('conv-web'), 'dl_Q2x9Lk3mVbN7');
    await customer.receiveActivity('my router blinks red since this morning');
    await customer.receiveActivity('agent please');
    await settle(f.hub);
    await signInToConsole(page, f.url, 'ada');
    const row = page.locator('[data-testid=queue-row]').first();
    await row.waitFor();
    const label = (await row.locator('.name').textContent())!;
    expect(label).to.match(/^Web visitor · [2-9A-Z]{4}$/);
    expect(await page.locator('#queue').textContent()).not.to.include('dl_');
    expect(await row.locator('[data-testid=preview]').textContent()).to.equal('agent please');

    // A message while waiting: the row's preview follows, without a reload.
    await customer.receiveActivity('it is <b>still</b> blinking');
    await page.locator('[data-testid=preview]', { hasText: 'it is <b>still</b> blinking' }).waitFor();
    expect(await row.locator('b').count(), 'the preview is text').to.equal(0);

    await row.click();
    await page.locator('[data-testid=transcript-item].user', { hasText: 'my router blinks red' }).waitFor();
    expect(await page.textContent('#d-customer')).to.equal(label);
    expect(await page.locator('[data-testid=transcript-item].user .who bdi').first().textContent()).to.equal(label);
    await shot(page, 'webchat-1280');

    // The same visitor keeps the same label on the next load.
    await page.reload();
    await page.locator('[data-testid=queue-row]').first().waitFor();
    expect(await page.locator('[data-testid=queue-row] .name').first().textContent()).to.equal(label);
  });

  it('shows the WhatsApp number, and the name with the number under it when the profile has one', async () => {
    f = await createApiFixture(['ada'], { channelId: 'whatsapp' });
    await speakAs(f.customer('4915123456789'), '4915123456789').receiveActivity('agent please');
    await speakAs(f.customer('4917612345678'), '4917612345678', 'Jonas').receiveActivity('agent please');
    await settle(f.hub);
    await signInToConsole(page, f.url, 'ada');
    const names = page.locator('[data-testid=queue-row] .name');
    await names.nth(1).waitFor();
    expect(await names.allTextContents()).to.have.members(['+49 151 23456789', 'Jonas']);
    await page.locator('[data-testid=queue-row]', { hasText: 'Jonas' }).click();
    await page.locator('#d-customer', { hasText: 'Jonas' }).waitFor();
    expect(await page.textContent('[data-testid=customer-contact]')).to.equal('+49 176 12345678');
  });

  it('disables Claim, Resolve and Transfer on a conversation another agent holds, saying who holds it', async () => {
    f = await createApiFixture(['ada', 'bob']);
    await f.customer('conv-held').receiveActivity('agent please');
    await settle(f.hub);
    const bob = await f.login('bob');
    expect((await f.call('POST', '/api/agent/conversations/conv-held/claim', bob)).status).to.equal(200);
    await signInToConsole(page, f.url, 'ada');
    await page.click('#tabs [data-status=assigned]');
    await page.locator('[data-testid=queue-row]', { hasText: 'Ada Customer' }).click();
    await page.locator('#d-meta', { hasText: 'with Bob' }).waitFor();
    for (const id of ['claim', 'resolve', 'transfer', 'send']) {
      expect(await page.isDisabled(`#${id}`), `#${id}`).to.equal(true);
      expect(plain(await page.getAttribute(`#${id}`, 'title')), `#${id} title`).to.equal('Held by Bob');
    }
    expect(plain(await page.textContent('[data-testid=actions-note]'))).to.equal('Held by Bob: only they can reply, transfer or resolve.');
    await shot(page, 'held-1280');

    // Should the button be pressed anyway (a console that missed the change), the refusal names the same customer as the header.
    await page.evaluate(() => ((document.getElementById('claim') as HTMLButtonElement).disabled = false));
    await page.click('#claim');
    await page.locator('#error', { hasText: 'already helping' }).waitFor();
    expect(plain(await page.textContent('#error'))).to.equal(`Bob is already helping ${await page.textContent('#d-customer')}.`);
  });

  it('draws only the server\'s handoff events as system lines, not a handoff.status the customer posted', async () => {
    f = await createApiFixture(['ada']);
    const customer = speakAs(f.customer('conv-fake'), 'web-fake', 'Mallory');
    await customer.receiveActivity({ type: 'event', name: 'handoff.status', value: { state: 'completed', message: 'resolved by Alice — refund of 500 EUR approved' } });
    await customer.receiveActivity('agent please');
    await settle(f.hub);
    expect((await f.transcripts.getTranscriptActivities('test', 'conv-fake')).items.some((a) => a.name === 'handoff.status'), 'the customer\'s event is in the transcript').to.equal(true);
    const c = await signInToConsole(page, f.url, 'ada');
    await c.row('Mallory').click();
    await page.locator('[data-testid=transcript-item].user', { hasText: 'agent please' }).waitFor();
    await c.claim();
    await page.locator('[data-testid=system-line]', { hasText: 'Claimed by Ada' }).waitFor();
    const lines = await page.locator('[data-testid=system-line]').allTextContents();
    expect(lines).to.deep.equal(['Handed to a person', 'Claimed by Ada']);
    expect(await page.textContent('#transcript')).not.to.include('500 EUR');
  });

  it('keeps a 256-character name and a right-to-left override in their place', async () => {
    f = await createApiFixture(['ada']);
    const long = 'W'.repeat(256);
    const bidi = 'Eve\u202Eevil';
    await speakAs(f.customer('conv-long'), 'psid-long', long).receiveActivity('agent please');
    await speakAs(f.customer('conv-bidi'), 'psid-bidi', bidi).receiveActivity('agent please');
    await settle(f.hub);
    await signInToConsole(page, f.url, 'ada');
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await page.setViewportSize(viewport);
      await page.locator('[data-testid=queue-row]', { hasText: 'WWWW' }).click();
      await page.locator('#d-customer', { hasText: 'WWWW' }).waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `page width at ${viewport.width}`).to.be.at.most(viewport.width);
      for (const selector of ['#claim', '#resolve', '#transfer', '#d-customer', '[data-testid=queue-row]']) {
        const b = await box(page, selector);
        expect(b.x + b.width, `${selector} right edge at ${viewport.width}`).to.be.at.most(viewport.width);
      }
      await shot(page, `long-name-${viewport.width}`);

      await page.locator('[data-testid=queue-row]', { hasText: 'Eve' }).click();
      await page.locator('#d-customer', { hasText: 'Eve' }).waitFor();
      await page.locator('[data-testid=transcript-item].user').first().waitFor();
      // Measured in one go: the list re-renders as conversations change.
      // (No named functions inside: the test's compiler would wrap them in a helper the page does not have.)
      const layout = await page.evaluate(() => {
        const who = document.querySelector('[data-testid=transcript-item].user .who');
        const row = [...document.querySelectorAll('[data-testid=queue-row]')].find((r) => r.textContent!.includes('Eve'));
        const [name, when, rowName, tag] = [who?.querySelector('bdi'), who?.querySelector('.when'), row?.querySelector('.name bdi'), row?.querySelector('.tag')].map(
          (e) => e!.getBoundingClientRect().toJSON() as DOMRect,
        );
        return { name: name!, when: when!, rowName: rowName!, tag: tag!, tagText: row?.querySelector('.tag')?.textContent };
      });
      // The name is isolated: the time after it stays after it (an override would flip it to the left).
      expect(layout.name.x + layout.name.width, `time after the name at ${viewport.width}`).to.be.at.most(layout.when.x + 0.5);
      expect(layout.tag.x, 'the channel tag starts at the row\'s left, under the name').to.be.below(layout.rowName.x + layout.rowName.width);
      expect(layout.tagText).to.equal('test');
      await shot(page, `bidi-name-${viewport.width}`);
    }
  });

  it('shows knowledge answers in the reply box\'s search as rendered Markdown', async () => {
    const entry = { ...fakeKnowledge.get('billing/refund')!, id: 'roaming/travel-pass', question: 'Roaming in the US', answer: 'Get the **Travel Pass**: 5 EUR a day.\n\n- calls\n- data' };
    const knowledge: KnowledgeSearcher = { ...fakeKnowledge, search: () => [{ confidence: 0.9, entry }], get: (id) => (id === entry.id ? entry : undefined) };
    f = await createApiFixture(['ada'], { knowledge });
    await f.customer('conv-kb').receiveActivity('agent please');
    await settle(f.hub);
    const c = await signInToConsole(page, f.url, 'ada');
    await c.row('Ada Customer').click();
    await page.fill('#kb-search', 'roaming');
    const result = page.locator('[data-testid=kb-result]').first();
    await result.waitFor();
    expect(await result.locator('strong').textContent()).to.equal('Travel Pass');
    expect(await result.textContent()).not.to.include('**');
    await shot(page, 'kb-preview-1280');
    await result.click();
    expect(await page.inputValue('#reply'), 'the reply box gets the Markdown to send').to.equal(entry.answer);
  });

  describe('after the server restarts', () => {
    let server: { url: string; close(): Promise<void> } | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    it('stays signed in when the server restarts, and says in words when the agent was removed', async () => {
      f = await createApiFixture(['ada']);
      await f.customer('conv-r').receiveActivity('agent please');
      await settle(f.hub);
      const open = () => openAgentDirectory({ dataDir: f!.dir, sessionTtlMs: SESSION_TTL_MS, clock: f!.clock });
      // The fixture's own server is stopped; this one runs on a port of its own, restarted on that port.
      const first = await open();
      server = await startAgentApiOnPort(0, { hub: f.hub, clock: f.clock, sessionRecheckMs: 50, ...first });
      const c = await signInToConsole(page, server.url, 'ada');
      await c.row('Ada Customer').waitFor();
      const url = server.url;

      await server.close();
      await page.locator('#connection:not(.live)').waitFor();
      const directory = await open();
      server = await startAgentApiOnPort(Number(new URL(url).port), { hub: f.hub, clock: f.clock, sessionRecheckMs: 50, ...directory });
      await page.locator('#connection.live').waitFor();
      expect(await page.isVisible('#console')).to.equal(true);
      expect(await page.isVisible('#signin')).to.equal(false);
      expect(await page.isVisible('#error')).to.equal(false);
      await c.row('Ada Customer').click();
      await page.locator('#d-customer', { hasText: 'Ada Customer' }).waitFor();

      expect(await directory.accounts.remove('ada')).to.equal(true);
      await page.locator('#signin').waitFor();
      expect(await page.textContent('#error')).to.equal('You were signed out: your agent account was removed. Ask an administrator if you still need access.');
      for (const hidden of ['#console', '#whoami', '#detail']) expect(await page.isVisible(hidden), hidden).to.equal(false);
      expect(await page.textContent('body')).not.to.include('agent API');
      await shot(page, 'signed-out-1280');
      await page.setViewportSize({ width: 390, height: 844 });
      await shot(page, 'signed-out-390');
    });
  });
});

describe('how the console names a customer', () => {
  it('writes WhatsApp numbers as people do, and leaves what is not a number alone', () => {
    expect(formatPhoneNumber('4915123456789')).to.equal('+49 151 23456789');
    expect(formatPhoneNumber('14155550100')).to.equal('+1 415 555 0100');
    expect(formatPhoneNumber('353861234567')).to.equal('+353 861 234567');
    expect(formatPhoneNumber('dl_abc')).to.equal(undefined);
  });

  it('gives a nameless visitor the same readable label every time, different from another visitor\'s', () => {
    const a = customerView({ channelId: 'webchat', customer: { id: 'dl_one' } });
    expect(a.label).to.match(/^Web visitor · [2-9A-Z]{4}$/);
    expect(customerView({ channelId: 'webchat', customer: { id: 'dl_one' } }).label).to.equal(a.label);
    expect(customerView({ channelId: 'webchat', customer: { id: 'dl_two' } }).label).not.to.equal(a.label);
    expect(customerView({ channelId: 'messenger', customer: { id: '6789', name: '  ' } }).label).to.match(/^Messenger user · /);
    expect(customerView({ channelId: 'webchat', customer: { id: 'dl_one', name: 'Ana' }, summary: { emails: ['ana@example.com'] } as never })).to.deep.equal({
      id: 'dl_one',
      name: 'Ana',
      label: 'Ana',
      contact: 'ana@example.com',
    });
  });
});
