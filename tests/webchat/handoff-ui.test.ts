import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { launchBrowser } from '../helpers/browser.js';
import { PASSWORD, signInToConsole } from '../agent/helpers.js';

/**
 * The customer's side of a handoff on the demo page: who answers (the agent's name and initials on
 * their messages, the header naming them), "typing…" both ways, and a transfer told to the customer.
 */
describe('web chat demo page during a handoff, in a real browser', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let app: App;
  let url: string;
  let dataDir: string;
  const pages: Page[] = [];

  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-webchat-handoff-'));
    const config = loadConfig({ DATA_DIR: dataDir, KNOWLEDGE_DIR: 'knowledge', BUSINESS_HOURS: 'Mon-Sun 00:00-24:00' });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: false });
    url = await app.listen(0, '127.0.0.1');
    await app.accounts.add('ada', PASSWORD, { displayName: 'Ada Lovelace' });
    await app.accounts.add('bob', PASSWORD, { displayName: 'Bob Marley', teams: ['billing'] });
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    await app?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  async function newPage(): Promise<Page> {
    const page = await browser!.newPage({ viewport: { width: 1100, height: 800 } });
    pages.push(page);
    return page;
  }

  /** JSON over the agent API as `username`. */
  async function agentApi(username: string) {
    const login = await fetch(`${url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    return async (method: string, path: string, body?: unknown) => {
      const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
  }

  /** The customer on the demo page, asking for a person; returns the page and the conversation id the console sees. */
  async function customerWaitingForAPerson() {
    const chat = await newPage();
    await chat.goto(`${url}/`);
    const input = chat.locator('[data-id="webchat-sendbox-input"]');
    await input.fill('I want to talk to a person');
    await input.press('Enter');
    const ada = await agentApi('ada');
    // The bot's handoff message is its business; the queue is what this test needs.
    for (;;) {
      const queued = await ada('GET', '/api/agent/conversations?status=queued');
      if (queued.body.conversations.length === 1) return { chat, id: queued.body.conversations[0].id as string, ada };
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const header = (chat: Page) => chat.locator('#chat-status-text');

  it("shows the agent's name and initials on their reply and names them in the header until resolved", async () => {
    const { chat, id, ada } = await customerWaitingForAPerson();
    const assistantLine = (await header(chat).textContent()) ?? '';
    expect(assistantLine).to.contain('Assistant online');

    expect((await ada('POST', `/api/agent/conversations/${id}/claim`)).status).to.equal(200);
    await chat.locator('.webchat__bubble__content', { hasText: 'Ada Lovelace from our team has joined' }).waitFor();
    await chat.waitForFunction(() => document.getElementById('chat-status-text')!.textContent === 'Ada Lovelace from our team');
    expect(await chat.locator('#chat-avatar').textContent()).to.equal('AL');

    expect((await ada('POST', `/api/agent/conversations/${id}/messages`, { text: 'Hi, Ada here. How can I help?' })).status).to.equal(201);
    await chat.locator('.webchat__bubble__content', { hasText: 'Ada here' }).waitFor();
    await chat.locator('.nimbus-agent-status', { hasText: 'Ada Lovelace' }).waitFor();
    expect(await chat.locator('.nimbus-agent-avatar').allTextContents(), 'one avatar: the initials of Ada Lovelace').to.deep.equal(['AL']);
    // The assistant's messages keep the assistant's avatar.
    expect(await chat.locator('.webchat__initialsAvatar', { hasText: 'N' }).count()).to.be.greaterThan(0);
    await chat.screenshot({ path: join(tmpdir(), 'switchboard-webchat-handoff.png') });

    expect((await ada('POST', `/api/agent/conversations/${id}/resolve`)).status).to.equal(200);
    await chat.locator('.webchat__bubble__content', { hasText: 'has closed this chat' }).waitFor();
    await chat.waitForFunction((line) => document.getElementById('chat-status-text')!.textContent === line, assistantLine);
    expect(await chat.locator('#chat-avatar').textContent()).to.equal('N');

    // A reload replays the history, and the header still follows the last notice: the assistant.
    await chat.reload();
    await chat.locator('.webchat__bubble__content', { hasText: 'has closed this chat' }).waitFor();
    expect(await header(chat).textContent()).to.equal(assistantLine);
    expect(await chat.locator('.nimbus-agent-status', { hasText: 'Ada Lovelace' }).count(), 'the name stays on her earlier reply').to.equal(1);
  });

  it('shows "typing…" both ways: the agent typing in Web Chat, the customer typing in the console', async () => {
    const { chat, id } = await customerWaitingForAPerson();
    const agentPage = await newPage();
    const agent = await signInToConsole(agentPage, url, 'ada');
    await agent.row('webchat').first().click();
    await agent.claim();
    await chat.locator('.webchat__bubble__content', { hasText: 'from our team has joined' }).waitFor();

    // Ada writes in the reply box: the customer's Web Chat shows its typing indicator.
    expect(await chat.locator('.webchat__typing-indicator').count()).to.equal(0);
    await agentPage.locator('#reply').pressSequentially('Let me check');
    await chat.locator('.webchat__typing-indicator').waitFor();

    // The customer types: the console says so under the transcript, and the line goes once the message arrives.
    const typingLine = agentPage.locator('[data-testid=customer-typing]');
    expect((await typingLine.textContent()) ?? '').to.equal('');
    await chat.locator('[data-id="webchat-sendbox-input"]').pressSequentially('my bill is wrong');
    await agentPage.waitForFunction(() => document.querySelector('[data-testid=customer-typing]')?.textContent === 'Customer is typing…');
    await chat.locator('[data-id="webchat-sendbox-input"]').press('Enter');
    await agent.said('user', 'my bill is wrong').waitFor();
    await agentPage.waitForFunction(() => document.querySelector('[data-testid=customer-typing]')?.textContent === '');
    void id;
  });

  it('tells the customer about a transfer and leaves a line in the transcript', async () => {
    const { chat, id, ada } = await customerWaitingForAPerson();
    await ada('POST', `/api/agent/conversations/${id}/claim`);
    await chat.waitForFunction(() => document.getElementById('chat-status-text')!.textContent === 'Ada Lovelace from our team');

    expect((await ada('POST', `/api/agent/conversations/${id}/transfer`, { agentId: 'bob' })).status).to.equal(200);
    await chat.locator('.webchat__bubble__content', { hasText: 'Bob Marley from our billing team is taking over' }).waitFor();
    await chat.waitForFunction(() => document.getElementById('chat-status-text')!.textContent === 'Bob Marley from our team');

    const bob = await agentApi('bob');
    expect((await bob('POST', `/api/agent/conversations/${id}/transfer`, { team: 'billing' })).status).to.equal(200);
    await chat.locator('.webchat__bubble__content', { hasText: 'back in the queue for our billing team' }).waitFor();
    await chat.waitForFunction(() => (document.getElementById('chat-status-text')!.textContent ?? '').includes('Assistant online'));

    const detail = await bob('GET', `/api/agent/conversations/${id}`);
    const lines = (detail.body.transcript as any[]).filter((a) => a.name === 'handoff.transfer').map((a) => a.value?.message);
    expect(lines).to.deep.equal(['transferred by Ada Lovelace to Bob Marley', 'transferred by Bob Marley to the billing queue']);
  });
});
