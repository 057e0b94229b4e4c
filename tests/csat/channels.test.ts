/**
 * CSAT end to end on each channel, on the ready server: a customer asks for a person, Ada claims and
 * resolves, and the survey arrives in the channel's own form — Web Chat suggested actions over Direct
 * Line, a WhatsApp interactive list at the fake Graph API, Messenger quick replies — and is answered
 * by a tap or in words. The agent API's conversation view and the console show the result.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConversationState, type Activity } from 'botbuilder';
import { CsatSurvey } from '../../src/bot/csat.js';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { csatStrings } from '../../src/bot/strings.js';
import { signBody } from '../../adapters/shared/verify.js';
import { messengerTextWebhook, serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { FakeGraph, type RecordedRequest } from '../fakes/graph.js';
import { launchBrowser } from '../helpers/browser.js';
import { usePostgres } from '../helpers/postgres.js';
import { PASSWORD, signInToConsole } from '../agent/helpers.js';

const PHONE_ID = '106540352242922';
const SECRETS = { whatsapp: 'w-secret', messenger: 'm-secret' } as const;
const DIRECTLINE_SECRET = 'csat-directline-secret-0123456789abcdef';
const ADA = { id: 'ada', name: 'Ada' };
const s = csatStrings('en');
const textOf = (r: RecordedRequest): string => r.body?.text?.body ?? r.body?.interactive?.body?.text ?? r.body?.message?.text ?? '';

for (const backend of ['files', 'postgresql'] as const) {
  describe(`CSAT end to end on each channel (${backend})`, function () {
    this.timeout(60_000);
    const pg = backend === 'postgresql' ? usePostgres() : undefined;
    let app: App;
    let graph: FakeGraph;
    let url: string;
    let dataDir: string;
    let sequence = 0;

    beforeEach(async () => {
      graph = new FakeGraph({ phoneNumberId: PHONE_ID });
      const graphUrl = await graph.start();
      dataDir = await mkdtemp(join(tmpdir(), 'switchboard-csat-'));
      const config = loadConfig({
        DATA_DIR: dataDir,
        ...(pg ? { DATABASE_URL: pg.url } : {}),
        KNOWLEDGE_DIR: 'knowledge',
        GRAPH_API_URL: graphUrl,
        DIRECTLINE_SECRET,
        WHATSAPP_APP_SECRET: SECRETS.whatsapp,
        WHATSAPP_VERIFY_TOKEN: 'v',
        WHATSAPP_ACCESS_TOKEN: 'wa-token',
        WHATSAPP_PHONE_NUMBER_ID: PHONE_ID,
        MESSENGER_APP_SECRET: SECRETS.messenger,
        MESSENGER_VERIFY_TOKEN: 'v',
        MESSENGER_PAGE_ACCESS_TOKEN: 'page-token',
        BUSINESS_HOURS: 'Mon-Sun 00:00-24:00',
      });
      app = await buildApp({ config, logger: silentLogger, watchKnowledge: false, sleep: async () => {} });
      url = await app.listen(0, '127.0.0.1');
      if (!(await app.accounts.get('ada'))) await app.accounts.add('ada', PASSWORD, { displayName: 'Ada' }); // PostgreSQL: one database per suite
    });
    afterEach(async () => {
      await app?.close();
      await graph?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    });

    /** Ada takes the conversation the customer asked a person for, and resolves it. */
    async function claimAndResolve(channelId: string): Promise<string> {
      await app.hub.settled();
      const [queued] = (await app.hub.list({ owner: 'queued' })).filter((r) => r.channelId === channelId);
      expect(queued, `a ${channelId} conversation in the queue`).to.not.equal(undefined);
      await app.hub.claim(queued!.id, ADA);
      await app.hub.resolve(queued!.id, ADA);
      return queued!.id;
    }

    /** The conversation as the agent API shows it. */
    async function agentView(conversationId: string) {
      const login = await fetch(`${url}/api/agent/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ada', password: PASSWORD }) });
      const { token } = (await login.json()) as { token: string };
      const res = await fetch(`${url}/api/agent/conversations/${encodeURIComponent(conversationId)}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).to.equal(200);
      return (await res.json()) as { csat: Record<string, unknown> | null };
    }

    function metaCustomer(channel: 'whatsapp' | 'messenger', id: string) {
      const toCustomer = (r: RecordedRequest) => r.api === channel && r.isMessage && r.status === 200 && (channel === 'whatsapp' ? r.body?.to : r.body?.recipient?.id) === id;
      const received = () => graph.sent(channel).filter(toCustomer);
      const post = async (event: any) => {
        const raw = serializeLikeMeta(event);
        const res = await fetch(`${url}/webhooks/${channel}`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, SECRETS[channel]) }, body: raw });
        expect(res.status).to.equal(200);
      };
      const event = (text: string) =>
        channel === 'whatsapp'
          ? whatsappTextWebhook({ waId: id, text, phoneNumberId: PHONE_ID, wamid: `wamid.csat.${++sequence}` })
          : messengerTextWebhook({ psid: id, text, mid: `m_csat_${++sequence}` });
      return {
        received,
        async receives(matches: (r: RecordedRequest) => boolean, after: number): Promise<RecordedRequest> {
          const isIt = (r: RecordedRequest) => toCustomer(r) && matches(r) && received().indexOf(r) >= after;
          await graph.waitFor(isIt);
          return received().find(isIt)!;
        },
        write: (text: string) => post(event(text)),
        /** Taps a WhatsApp list row or a Messenger quick reply the bot sent. */
        async tap(id: string, title: string) {
          const e: any = event(title);
          if (channel === 'whatsapp') {
            const m = e.entry[0].changes[0].value.messages[0];
            delete m.text;
            Object.assign(m, { type: 'interactive', interactive: { type: 'list_reply', list_reply: { id, title } } });
          } else {
            e.entry[0].messaging[0].message.quick_reply = { payload: id };
          }
          await post(e);
        },
      };
    }

    it('WhatsApp: the survey is an interactive list of five ratings; a tap and a comment are kept and shown', async function () {
      const customer = metaCustomer('whatsapp', '4915112345678');
      await customer.write('I want to talk to a human');
      await customer.receives((r) => textOf(r).includes('can see this whole conversation'), 0);
      const id = await claimAndResolve('whatsapp');
      const survey = await customer.receives((r) => r.body?.type === 'interactive', 0);
      expect(survey.body.interactive.type).to.equal('list');
      expect(survey.body.interactive.body.text).to.equal(s.ask.replace('{agent}', 'Ada'));
      const rows = survey.body.interactive.action.sections[0].rows as { id: string; title: string }[];
      expect(rows.map((r) => r.title)).to.deep.equal(s.ratingActions);

      const seen = customer.received().length;
      await customer.tap(rows[1]!.id, rows[1]!.title); // "4 – Good"
      await customer.receives((r) => textOf(r) === s.askComment, seen);
      const afterPrompt = customer.received().length;
      await customer.write('quick and kind');
      await customer.receives((r) => textOf(r) === s.thanks, afterPrompt);

      const view = await agentView(id);
      expect(view.csat).to.include({ rating: 4, comment: 'quick and kind', agent: 'Ada', channelId: 'whatsapp' });

      // The console shows it on the resolved conversation.
      const browser = await launchBrowser(this);
      try {
        const agent = await signInToConsole(await browser.newPage(), url, 'ada');
        await agent.page.click('#tabs [data-status=resolved]');
        await agent.row('whatsapp').first().click();
        const badge = agent.page.getByTestId('csat');
        await badge.waitFor();
        expect(await badge.textContent()).to.equal('★ 4/5 — “quick and kind”');
      } finally {
        await browser?.close();
      }
    });

    it('Messenger: quick replies; a typed "five" counts, and a question instead of the comment is answered', async () => {
      const customer = metaCustomer('messenger', '7777000011');
      await customer.write('I want to talk to a human');
      await customer.receives((r) => textOf(r).includes('can see this whole conversation'), 0);
      const id = await claimAndResolve('messenger');
      const survey = await customer.receives((r) => textOf(r) === s.ask.replace('{agent}', 'Ada'), 0);
      expect((survey.body.message.quick_replies as { title: string }[]).map((q) => q.title)).to.deep.equal(s.ratingActions);

      let seen = customer.received().length;
      await customer.write('five');
      await customer.receives((r) => textOf(r) === s.askComment, seen);
      seen = customer.received().length;
      await customer.write('How can I pay my bill by card?');
      await customer.receives((r) => /card/i.test(textOf(r)), seen);
      const view = await agentView(id);
      expect(view.csat).to.include({ rating: 5, channelId: 'messenger' });
      expect(view.csat).to.not.have.property('comment');
    });

    describe('web chat over Direct Line', () => {
      async function webChatCustomer() {
        const auth = { authorization: `Bearer ${DIRECTLINE_SECRET}`, 'content-type': 'application/json' };
        const started = await fetch(`${url}/v3/directline/conversations`, { method: 'POST', headers: auth });
        expect(started.status).to.equal(201);
        const { conversationId } = (await started.json()) as { conversationId: string };
        const base = `${url}/v3/directline/conversations/${conversationId}/activities`;
        const fromBot = async () => {
          const res = await fetch(`${base}?watermark=0`, { headers: auth });
          const { activities } = (await res.json()) as { activities: Partial<Activity>[] };
          return activities.filter((a) => a.type === 'message' && a.from?.id !== 'dl_customer');
        };
        const waitFor = async (pred: (a: Partial<Activity>) => boolean, after = 0) => {
          for (let i = 0; i < 200; i++) {
            const found = (await fromBot()).slice(after).find(pred);
            if (found) return found;
            await new Promise((r) => setTimeout(r, 50));
          }
          throw new Error(`no bot message matched; got ${JSON.stringify((await fromBot()).map((a) => a.text))}`);
        };
        return {
          conversationId,
          fromBot,
          waitFor,
          async says(text: string, reply: (a: Partial<Activity>) => boolean) {
            const seen = (await fromBot()).length;
            const res = await fetch(base, { method: 'POST', headers: auth, body: JSON.stringify({ type: 'message', from: { id: 'dl_customer' }, text }) });
            expect(res.status).to.equal(200);
            return waitFor(reply, seen);
          },
        };
      }

      it('offers the ratings as suggested actions and understands "great"', async () => {
        const customer = await webChatCustomer();
        await customer.says('I want to talk to a human', (a) => /can see this whole conversation/.test(a.text ?? ''));
        await claimAndResolve('webchat');
        const survey = await customer.waitFor((a) => a.text === s.ask.replace('{agent}', 'Ada'));
        expect(survey.suggestedActions?.actions.map((a) => a.title)).to.deep.equal(s.ratingActions);
        await customer.says('great', (a) => a.text === s.askComment);
        await customer.says('no', (a) => a.text === s.thanks);
        const view = await agentView(customer.conversationId);
        expect(view.csat).to.include({ rating: 5, channelId: 'webchat' }).and.not.have.property('comment');
      });

      it('answers a customer who ignores the survey, records no rating and never asks again for that resolution', async () => {
        const customer = await webChatCustomer();
        await customer.says('I want to talk to a human', (a) => /can see this whole conversation/.test(a.text ?? ''));
        const id = await claimAndResolve('webchat');
        await customer.waitFor((a) => a.text === s.ask.replace('{agent}', 'Ada'));
        await customer.says('How can I pay my bill by card?', (a) => /card/i.test(a.text ?? '') && a.text !== s.askComment);
        const record = (await app.hub.get(id))!;
        // The resolve's survey step once more (a crash replay, or a second instance on the same data): nothing is sent again.
        const replay = new CsatSurvey({ store: app.backend.csat, conversationState: new ConversationState(app.backend.storage) });
        await replay.afterResolve(record, (logic) => app.hub.continueWith(record, logic));
        await customer.says('5', (a) => a.text !== s.askComment);
        const surveys = (await customer.fromBot()).filter((a) => a.text === s.ask.replace('{agent}', 'Ada'));
        expect(surveys).to.have.length(1);
        const view = await agentView(id);
        expect(view.csat).to.have.property('askedAt');
        expect(view.csat).to.not.have.property('rating');
      });
    });
  });
}
