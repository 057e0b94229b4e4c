import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { launchBrowser } from '../helpers/browser.js';
import { signInToConsole } from '../agent/helpers.js';
import { AGENT_PASSWORD, PHONE_ID, startMediaRig, type MediaRig } from './rig.js';
import { PNG, pngOfSize } from './samples.js';

const WA_ID = '4915123456789';

describe('files in the browser: the console attach button and Web Chat\'s upload button', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;
  let rig: MediaRig;
  let url: string;
  const pages: Page[] = [];

  before(async function () {
    browser = await launchBrowser(this);
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    rig = await startMediaRig();
    url = rig.url;
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    await rig?.close();
  });

  async function newPage(): Promise<Page> {
    const page = await browser!.newPage();
    pages.push(page);
    return page;
  }

  it('an agent attaches a picture with the attach button; WhatsApp gets it with the text as caption; a file WhatsApp cannot take is refused in words', async () => {
    expect(await rig.post('whatsapp', whatsappTextWebhook({ waId: WA_ID, name: 'Jürgen', text: 'I want to talk to a human', phoneNumberId: PHONE_ID, wamid: 'wamid.console.1' }))).to.equal(200);

    const agent = await signInToConsole(await newPage(), url, 'ada', AGENT_PASSWORD);
    const { page } = agent;
    await agent.row('Jürgen').click();
    await agent.said('user', 'I want to talk to a human').waitFor();
    expect(await page.isDisabled('#attach'), 'no attaching before the claim').to.equal(true);
    await agent.claim();
    expect(await page.isDisabled('#attach')).to.equal(false);

    await page.setInputFiles('#attach-file', { name: 'diagram.png', mimeType: 'image/png', buffer: PNG });
    expect(await page.textContent('[data-testid=attached]')).to.include('diagram.png');
    await page.fill('#reply', 'This is where the cable goes');
    await page.click('#send');
    await rig.graph.waitFor((r) => r.api === 'whatsapp' && r.isMessage && r.body?.type === 'image');
    const image = rig.graph.sent('whatsapp').find((r) => r.body.type === 'image')!;
    const [upload] = rig.graph.uploads.files;
    expect(upload!.bytes.equals(PNG)).to.equal(true);
    expect(image.body.image).to.deep.equal({ id: upload!.id, caption: 'This is where the cable goes' });
    await page.waitForFunction(() => (document.getElementById('attached') as HTMLElement).hidden, undefined, { timeout: 5000 });
    expect(await page.inputValue('#reply')).to.equal('');

    // 6 MB: fine for the server, too large for a WhatsApp image. The agent reads why, and keeps the draft.
    await page.setInputFiles('#attach-file', { name: 'photo.png', mimeType: 'image/png', buffer: pngOfSize(6 * 1024 * 1024) });
    await page.fill('#reply', 'And the photo');
    await page.click('#send');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error')).to.include('WhatsApp sends images up to 5 MB');
    expect(await page.textContent('[data-testid=attached]')).to.include('photo.png');
    expect(await page.inputValue('#reply')).to.equal('And the photo');
    expect(rig.graph.uploads.files).to.have.length(1);
  });

  it('a customer sends a photo with Web Chat\'s upload button: it shows in their chat and the agent can open it', async () => {
    const chat = await newPage();
    const problems: string[] = [];
    chat.on('pageerror', (err) => problems.push(err.message));
    chat.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
    await chat.goto(`${url}/`);
    const input = chat.locator('[data-id="webchat-sendbox-input"]');
    await input.fill('can I talk to a person');
    await input.press('Enter');
    const agent = await signInToConsole(await newPage(), url, 'ada', AGENT_PASSWORD);
    await agent.row('webchat').click();
    await agent.claim();
    // The agent's arrival re-renders the chat; pick the file after it, or the send box may drop it.
    await chat.waitForFunction(() => document.body.innerText.includes('Ada'), undefined, { timeout: 15_000 });

    await chat.setInputFiles('input[type=file]', { name: 'screen.png', mimeType: 'image/png', buffer: PNG });
    // Web Chat 4.18 holds the picked file in the send box until Send, but reads it first (asynchronously,
    // with no sign on the page): a Send before that sends nothing, so Send is pressed until the upload shows.
    for (let i = 0; i < 15 && !(await chat.evaluate(() => document.body.innerText.includes('You attached'))); i++) {
      await chat.click('.webchat__send-button');
      await chat.waitForFunction(() => document.body.innerText.includes('You attached'), undefined, { timeout: 1_000 }).catch(() => undefined);
    }
    // The customer sees their picture in the chat (Web Chat shows it from the thumbnail the upload kept).
    await chat.waitForFunction(() => [...document.querySelectorAll('img[alt="screen.png"]')].some((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth === 1), undefined, { timeout: 15_000 });

    const conversations = (await (await fetch(`${url}/api/agent/conversations?status=assigned`, { headers: { authorization: `Bearer ${rig.token}` } })).json()) as any;
    const id = conversations.conversations.find((c: { channelId: string }) => c.channelId === 'webchat').id;
    let attachment: { contentUrl: string; name?: string } | undefined;
    for (let i = 0; i < 50 && !attachment; i++) {
      const detail = (await (await fetch(`${url}/api/agent/conversations/${id}`, { headers: { authorization: `Bearer ${rig.token}` } })).json()) as any;
      attachment = detail.transcript.flatMap((a: { attachments?: unknown[] }) => a.attachments ?? []).find((a: { contentUrl?: string }) => a.contentUrl?.startsWith('/api/agent/media/'));
      if (!attachment) await new Promise((r) => setTimeout(r, 100));
    }
    expect(attachment?.name).to.equal('screen.png');
    expect(problems, 'no errors on the customer page (e.g. the page policy blocking the upload)').to.deep.equal([]);
    const file = await fetch(url + attachment!.contentUrl, { headers: { authorization: `Bearer ${rig.token}` } });
    expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).to.equal(true);
  });

});
