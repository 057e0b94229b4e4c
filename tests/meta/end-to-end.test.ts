import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { FakeGraph } from '../fakes/graph.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';

describe('Meta channels in the ready server', function () {
  this.timeout(30_000);
  let app: App;
  let graph: FakeGraph;
  let url: string;
  let dataDir: string;
  before(async () => {
    graph = new FakeGraph({ phoneNumberId: '106540352242922' });
    const graphUrl = await graph.start();
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-e2e-meta-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      KNOWLEDGE_DIR: 'knowledge',
      GRAPH_API_URL: graphUrl,
      MESSENGER_APP_SECRET: 'm-secret',
      MESSENGER_VERIFY_TOKEN: 'v',
      MESSENGER_PAGE_ACCESS_TOKEN: 'page-token',
      WHATSAPP_APP_SECRET: 'w-secret',
      WHATSAPP_VERIFY_TOKEN: 'v',
      WHATSAPP_ACCESS_TOKEN: 'wa-token',
      WHATSAPP_PHONE_NUMBER_ID: '106540352242922',
    });
    app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
    url = await app.listen(0, '127.0.0.1');
  });
  after(async () => {
    await app.close();
    await graph.close();
    await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('answers a signed WhatsApp question with the knowledge answer in WhatsApp\'s format', async () => {
    const raw = serializeLikeMeta(whatsappTextWebhook({ waId: '4915112345678', name: 'Jürgen', text: 'How can I pay my bill by card?', phoneNumberId: '106540352242922' }));
    const res = await fetch(`${url}/webhooks/whatsapp`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, 'w-secret') }, body: raw });
    expect(res.status).to.equal(200);
    const textOf = (b: any): string => b.text?.body ?? b.interactive?.body?.text ?? '';
    await graph.waitFor((r) => r.api === 'whatsapp' && r.isMessage && r.status === 200 && /card/i.test(textOf(r.body)));
    const body = graph.sent('whatsapp').map((r) => r.body).find((b) => /card/i.test(textOf(b)))!;
    expect(body).to.include({ messaging_product: 'whatsapp', to: '4915112345678' });
    expect(textOf(body)).not.to.include('**');
  });

  it('answers a signed Messenger question at the Send API', async () => {
    const raw = serializeLikeMeta(messengerTextWebhook({ psid: '7777777777', text: 'How can I pay my bill by card?' }));
    const res = await fetch(`${url}/webhooks/messenger`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, 'm-secret') }, body: raw });
    expect(res.status).to.equal(200);
    await graph.waitFor((r) => r.api === 'messenger' && r.isMessage && r.status === 200 && /card/i.test(r.body.message?.text ?? ''));
    const body = graph.sent('messenger').map((r) => r.body).find((b) => /card/i.test(b.message?.text ?? ''))!;
    expect(body).to.include({ messaging_type: 'RESPONSE' });
    expect(body.recipient).to.deep.equal({ id: '7777777777' });
  });
});
