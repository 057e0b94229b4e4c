/**
 * "This edit changed N answers" in the running server: the whole app (buildApp) on a copy of the sample
 * knowledge it watches, customers on web chat whose questions the bot saves, an editor's save, and the
 * console's Knowledge view in Chromium.
 */
import { expect } from 'chai';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { WebChatAdapter } from '../../adapters/webchat/index.js';
import { connect } from '../webchat/client.js';
import { KNOWLEDGE_DIR, until } from '../faults/helpers.js';
import { launchBrowser } from '../helpers/browser.js';
import { PASSWORD, signInToConsole } from '../agent/helpers.js';
import { PAY_BY_CARD } from './diff-fixtures.js';

describe('console: what a knowledge edit changed', function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let page: Page;
  let dataDir: string;
  let knowledgeDir: string;
  let app: App;
  let url: string;
  const open: { close(): void }[] = [];

  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kb-diff-console-data-'));
    knowledgeDir = await mkdtemp(join(tmpdir(), 'kb-diff-console-knowledge-'));
    await cp(KNOWLEDGE_DIR, knowledgeDir, { recursive: true });
    const config = loadConfig({ DATA_DIR: dataDir, KNOWLEDGE_DIR: knowledgeDir, DIRECTLINE_SECRET: 'kb-diff-console-directline-secret-0123456789' });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: true });
    url = await app.listen(0, '127.0.0.1');
    await app.accounts.add('ada', PASSWORD, { displayName: 'Ada' });
    page = await browser!.newPage();
  });
  afterEach(async () => {
    open.splice(0).forEach((c) => c.close());
    await page?.close();
    await app?.close();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    await rm(knowledgeDir, { recursive: true, force: true, maxRetries: 5 });
  });

  async function customer(...texts: string[]): Promise<void> {
    const client = connect({ domain: `${url}/v3/directline`, token: (app.adapters.webchat as unknown as WebChatAdapter).generateToken().token });
    open.push(client);
    for (const text of texts) await client.post({ text });
  }

  it('shows "this edit changed N answers" after a file edit, with each question, how often it was asked and before → after', async () => {
    await customer('can I pay by credit card');
    await customer('Can I pay by credit card?');
    await customer('how do I top up my prepaid');
    await until(async () => (await app.backend.questions.list()).reduce((n, q) => n + q.count, 0) === 3, 20_000, 'the bot to save three askings');

    await signInToConsole(page, url, 'ada');
    await page.click('#kb-open');
    await page.locator('#kb-status').waitFor();
    expect(await page.isVisible('[data-testid=kb-changes]'), 'nothing to show before an edit').to.equal(false);

    await writeFile(join(knowledgeDir, 'billing', 'pay-by-card.md'), PAY_BY_CARD);
    await page.locator('[data-testid=kb-changes]').waitFor();
    expect(await page.textContent('#kb-changes-title')).to.equal('This edit changed 1 answer');
    expect(await page.textContent('#kb-changes-note')).to.match(/^The edit loaded at \d\d:\d\d, replayed over 2 saved customer questions: 2 askings would now get another reply\.$/);
    const rows = await page.locator('[data-testid=kb-change]').allInnerTexts();
    expect(rows).to.have.length(1);
    expect(rows[0]).to.match(/can I pay by credit card\?/i).and.include('2×');
    expect(rows[0]).to.match(/answer billing\/pay-bill \(0\.\d\d\) → answer billing\/pay-by-card \(0\.\d\d\)/);
    expect(rows[0], 'the question the edit does not touch is not listed').to.not.include('top up');
    await page.screenshot({ path: join(tmpdir(), 'kb-diff-console.png'), fullPage: true });

    // The same, for a console that opens the view later (GET /api/agent/knowledge).
    const login = await fetch(`${url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ada', password: PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const body = (await (await fetch(`${url}/api/agent/knowledge`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;
    expect(body.changes).to.include({ questions: 2, changedCount: 1, changedAsked: 2, loadedAt: body.status.loadedAt });
    expect(body.changes.changed[0].after).to.deep.include({ kind: 'answer', entryIds: ['billing/pay-by-card'] });
  });
});
