import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { signInToConsole } from '../agent/helpers.js';
import { AGENT_PASSWORD, PNG_1X1, startMediaRig, whatsappMessage, type MediaRig } from './rig.js';

/** Where the screenshot of the console with a customer's photo is left, to look at. */
const SCREENSHOT = process.env.MEDIA_SCREENSHOT;

describe('the agent console shows a customer\'s files (Chromium)', function () {
  this.timeout(90_000);
  let browser: Browser | undefined;
  let rig: MediaRig;
  let page: Page;
  before(async function () {
    browser = await launchBrowser(this);
    rig = await startMediaRig();
  });
  after(async () => {
    await page?.close();
    await browser?.close();
    await rig?.close();
  });

  it('shows a WhatsApp photo inline under its caption, a PDF as a download with name and size, and a failed file with its reason', async () => {
    const waId = '16505551234';
    await rig.post('whatsapp', whatsappMessage(waId, 'text', { body: 'agent' }));
    await rig.viewWhen(waId, (v) => v.conversation.owner === 'queued');
    const photo = rig.graph.media.addWhatsApp(PNG_1X1, 'image/png');
    const pdf = Buffer.from('%PDF-1.4\n% a small bill\n');
    const bill = rig.graph.media.addWhatsApp(pdf, 'application/pdf');
    await rig.post('whatsapp', whatsappMessage(waId, 'image', { id: photo, mime_type: 'image/png', caption: 'Black jacket' }));
    await rig.post('whatsapp', whatsappMessage(waId, 'document', { id: bill, mime_type: 'application/pdf', filename: 'bill-2026.pdf' }));
    await rig.post('whatsapp', whatsappMessage(waId, 'video', { id: '4242', mime_type: 'video/mp4' }));
    await rig.viewWhen(waId, (v) => v.media.length === 2 && v.transcript.filter((a: any) => a.attachments?.length).length === 3);

    page = await browser!.newPage();
    const agent = await signInToConsole(page, rig.url, 'ada', AGENT_PASSWORD);
    await agent.row('Sheena').click();
    const withCaption = agent.said('user', 'Black jacket');
    const image = withCaption.locator('[data-testid=media-image]');
    await image.waitFor();
    // Loaded through a blob: URL fetched with the agent's token (an <img src> to the route would get 401).
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid=media-image]') as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth === 1;
    });
    expect(await image.getAttribute('src')).to.match(/^blob:/);

    const download = page.locator('[data-testid=media-download]');
    expect(await download.textContent()).to.include(`bill-2026.pdf (${pdf.length} B)`);
    const [saved] = await Promise.all([page.waitForEvent('download'), download.click()]);
    expect(saved.suggestedFilename()).to.equal('bill-2026.pdf');

    expect(await page.locator('[data-testid=media-unavailable]').textContent()).to.match(/^video \(could not be downloaded: Meta refused the lookup: .*does not exist/);
    if (SCREENSHOT) {
      await withCaption.scrollIntoViewIfNeeded();
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }
  });
});
