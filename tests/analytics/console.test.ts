import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { EXPECTED, PASSWORD, scriptedServer, type ScriptedServer } from './scripted.js';

describe('the console Analytics view over a scripted set of conversations (Chromium)', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let s: ScriptedServer;
  let page: Page;

  before(async function () {
    browser = await launchBrowser(this);
    s = await scriptedServer();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  async function openAnalytics(width: number, height = 800): Promise<string[]> {
    page = await browser!.newPage({ viewport: { width, height } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    await page.goto(`${s.url}/agent`);
    await page.fill('input[name=username]', 'ada');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#connection.live');
    await page.click('#an-open');
    await page.waitForSelector('#analytics[data-loaded="7"]');
    return problems;
  }
  afterEach(async () => page?.close());

  const cell = (metric: string, channel: string) => page.locator(`#an-table td[data-metric="${metric}"][data-channel="${channel}"]`).innerText();

  it('shows the known figures per channel, side by side, with charts and CSAT per agent', async () => {
    const problems = await openAnalytics(1280);
    for (const ch of ['webchat', 'messenger', 'whatsapp'] as const) {
      const e = EXPECTED[ch];
      expect(await cell('conversations', ch), `${ch} conversations`).to.equal(String(e.conversations));
      expect(await cell('containment', ch), `${ch} containment`).to.equal(`${((e.contained / e.conversations) * 100).toFixed(1)}% (${e.contained})`);
      expect(await cell('handoffs', ch)).to.equal('1');
      expect(await cell('wait', ch)).to.equal(`${(e.waitMs / 60_000).toFixed(1)} min / ${(e.waitMs / 60_000).toFixed(1)} min`);
      expect(await cell('csat', ch)).to.equal(`${e.csat.toFixed(2)} (1)`);
    }
    expect(await cell('conversations', 'all')).to.equal('7');
    expect(await cell('containment', 'all')).to.equal('57.1% (4)');
    expect(await cell('handle', 'all')).to.equal('5.0 min / 10.0 min');
    expect(await cell('csat', 'all')).to.equal('3.67 (3)');
    expect(await page.locator('#an-agents li').allInnerTexts()).to.deep.equal(['Bob\n3.00\n2 ratings', 'Ada\n5.00\n1 rating']);
    // Chart.js drew every chart (a canvas it took over has its own size attributes and a chart instance).
    const drawn = await page.evaluate(() => ['an-containment', 'an-handoffs', 'an-waits', 'an-csat', 'an-trend'].map((id) => !!(window as any).Chart.getChart(id)));
    expect(drawn).to.deep.equal([true, true, true, true, true]);
    const containment = await page.evaluate(() => (window as any).Chart.getChart('an-containment').data.datasets[0].data);
    expect(containment).to.deep.equal([66.7, 50, 50]);
    expect(problems).to.deep.equal([]);
  });

  it('fits an 800 px wide window without sideways scrolling, and changes the period', async () => {
    const problems = await openAnalytics(800);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, 'page wider than the window').to.be.at.most(0);
    const table = await page.evaluate(() => { const box = document.querySelector('.an-scroll')!; return box.scrollWidth - box.clientWidth; });
    expect(table, 'the channel table is cut off').to.be.at.most(0);
    const chartWidths = await page.evaluate(() => [...document.querySelectorAll('.an-chart')].map((c) => Math.round(c.getBoundingClientRect().right)));
    for (const right of chartWidths) expect(right).to.be.at.most(800);
    await page.selectOption('#an-days', '30');
    await page.waitForSelector('#analytics[data-loaded="30"]');
    expect(await cell('conversations', 'all')).to.equal('7');
    expect(await page.evaluate(() => (window as any).Chart.getChart('an-trend').data.labels.length)).to.equal(30);
    expect(problems).to.deep.equal([]);
  });
});
