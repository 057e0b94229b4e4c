import { expect } from 'chai';
import { MessageFactory, type TurnContext } from 'botbuilder';
import { makeRig, settle, fixture, WA_ID, PHONE_NUMBER_ID, type Rig } from './helpers.js';
import { serializeLikeMeta, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { ReplyWindowClosedError } from '../../adapters/shared/errors.js';
import { DEFAULT_UNSUPPORTED_TEXT, isUnsupportedActivity, type SendFailure } from '../../adapters/shared/meta-adapter.js';
import { WHATSAPP_LIST_ROW_LIMIT, WHATSAPP_TEXT_LIMIT } from '../../adapters/whatsapp/index.js';
import { CHOICE_PAYLOAD_PREFIX } from '../../adapters/shared/choice-payload.js';

const HOUR = 3600 * 1000;
const say = (rig: Rig, text: string) => rig.post('whatsapp', serializeLikeMeta(whatsappTextWebhook({ waId: WA_ID, name: 'Sheena Nelson', text, phoneNumberId: PHONE_NUMBER_ID })));
const sendText = (rig: Rig, text: string) =>
  rig.whatsapp.continueConversation(rig.whatsapp.referenceFor(WA_ID), async (ctx: TurnContext) => void (await ctx.sendActivity(MessageFactory.text(text))));

describe('WhatsAppAdapter', function () {
  let rig: Rig;
  afterEach(async () => rig.close());

  describe('inbound and limits', () => {
    beforeEach(async () => (rig = await makeRig()));

    it('answers the GET handshake and refuses bad signatures without processing', async () => {
      const ok = await fetch(`${rig.url}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=test-verify-token&hub.challenge=abc`);
      expect(await ok.text()).to.equal('abc');
      const raw = await fixture('whatsapp/text.json');
      expect((await rig.post('whatsapp', raw, null)).status).to.equal(401);
      expect((await rig.post('whatsapp', raw, 'sha256=' + 'f'.repeat(64))).status).to.equal(403);
      await settle(rig);
      expect(rig.turns).to.have.length(0);
    });

    it('answers a WhatsApp text with a text message (Bearer token), keeps the profile name and marks it read with typing', async () => {
      expect((await rig.post('whatsapp', await fixture('whatsapp/text.json'))).status).to.equal(200);
      await rig.graph.waitForSent(1, 'whatsapp');
      await settle(rig);
      const send = rig.graph.sent('whatsapp')[0]!;
      expect(send.path).to.equal(`/v23.0/${PHONE_NUMBER_ID}/messages`);
      expect(send.authorization).to.equal('Bearer wa-token');
      expect(send.body).to.deep.equal({
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: WA_ID,
        type: 'text',
        text: { body: 'You said: Does it come in another color?', preview_url: false },
      });
      expect(rig.turns[0]!.from).to.include({ id: WA_ID, name: 'Sheena Nelson' });
      const read = rig.graph.requests.find((r) => r.body?.status === 'read');
      expect(read!.body).to.deep.equal({
        messaging_product: 'whatsapp',
        status: 'read',
        message_id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
        typing_indicator: { type: 'text' },
      });
    });

    it('reads button replies, list replies and template buttons whose payload the bot never sent as the title shown', async () => {
      for (const f of ['button-reply', 'list-reply', 'template-button']) await rig.post('whatsapp', await fixture(`whatsapp/${f}.json`));
      await settle(rig);
      expect(rig.turns.map((t) => t.text)).to.deep.equal(['Cancel', 'Priority Mail Express', 'Unsubscribe from promotions']);
    });

    it('keeps images, locations and stickers in the transcript and answers them politely without the bot', async () => {
      const seen: any[] = [];
      rig.whatsapp.use({ onTurn: async (ctx, next) => (seen.push(ctx.activity), next()) });
      for (const f of ['image', 'location', 'sticker']) await rig.post('whatsapp', await fixture(`whatsapp/${f}.json`));
      await rig.graph.waitForSent(3, 'whatsapp');
      expect(rig.turns).to.have.length(0);
      expect(seen.every(isUnsupportedActivity)).to.equal(true);
      expect(seen[1].attachments[0].content).to.include({ latitude: 37.483307, name: 'Philz Coffee' });
      expect(rig.graph.sent('whatsapp').map((r) => r.body.text.body)).to.deep.equal(Array(3).fill(DEFAULT_UNSUPPORTED_TEXT));
    });

    it('handles batched messages with non-ASCII text signed over the escaped bytes', async () => {
      const raw = await fixture('whatsapp/batched.json');
      expect(raw).to.include('Gr\\u00fc\\u00dfe');
      expect((await rig.post('whatsapp', raw)).status).to.equal(200);
      await settle(rig);
      expect(rig.turns.map((t) => t.text)).to.have.members(['first', 'Grüße', 'second']);
      expect(rig.turns.find((t) => t.text === 'Grüße')!.from!.name).to.equal('Jürgen Müller');
    });

    it('updates message status from statuses webhooks and records a failed one with Meta\'s code', async () => {
      await rig.post('whatsapp', await fixture('whatsapp/text.json'));
      await rig.graph.waitForSent(1, 'whatsapp');
      await settle(rig);
      const wamid = rig.graph.sent('whatsapp')[0]!.response.messages[0].id;
      const failures: SendFailure[] = [];
      rig.whatsapp.events.on('sendFailed', (f) => failures.push(f));
      const withId = async (name: string) => {
        const body = JSON.parse(await fixture(name));
        body.entry[0].changes[0].value.statuses[0].id = wamid;
        return serializeLikeMeta(body);
      };
      await rig.post('whatsapp', await withId('whatsapp/status-sent.json'));
      await rig.post('whatsapp', await withId('whatsapp/status-delivered.json'));
      expect(await rig.whatsapp.messageStatus(wamid)).to.equal('delivered');
      await rig.post('whatsapp', await withId('whatsapp/status-failed.json'));
      expect(await rig.whatsapp.messageStatus(wamid)).to.equal('failed');
      expect(failures[0]).to.include({ code: 131047, conversationId: WA_ID, messageId: wamid });
      expect(failures[0]!.message).to.match(/^Re-engagement message — Message failed to send because more than 24 hours/);
      expect(rig.turns).to.have.length(1);
    });

    it('processes a redelivered wamid once, even after a restart', async () => {
      const raw = await fixture('whatsapp/text.json');
      await rig.post('whatsapp', raw);
      await settle(rig);
      await rig.restart();
      await rig.post('whatsapp', raw);
      await settle(rig);
      expect(rig.graph.sent('whatsapp')).to.have.length(1);
    });

    it('sends up to 3 short suggestions as reply buttons with the value as id', async () => {
      await say(rig, 'short 3');
      await rig.graph.waitForSent(1, 'whatsapp');
      const body = rig.graph.sent('whatsapp')[0]!.body;
      expect(body.interactive).to.deep.equal({
        type: 'button',
        body: { text: 'Pick *one*:' },
        action: {
          buttons: [1, 2, 3].map((i) => ({ type: 'reply', reply: { id: `${CHOICE_PAYLOAD_PREFIX}opt-${i}`, title: `Option ${i}` } })),
        },
      });
    });

    it('uses a list when a title would not fit a 20-character button, showing the whole title', async () => {
      await say(rig, 'choose 2');
      await rig.graph.waitForSent(1, 'whatsapp');
      const i = rig.graph.sent('whatsapp')[0]!.body.interactive;
      expect(i.type).to.equal('list');
      expect(i.action.sections[0].rows[1]).to.deep.equal({ id: `${CHOICE_PAYLOAD_PREFIX}opt-2`, title: 'Option number 2 with a…', description: 'Option number 2 with a long title' });
    });

    it('sends more suggestions as a list of at most 10 rows with 24-character titles', async () => {
      await say(rig, 'choose 12');
      await rig.graph.waitForSent(1, 'whatsapp');
      const i = rig.graph.sent('whatsapp')[0]!.body.interactive;
      expect(i.type).to.equal('list');
      const rows = i.action.sections[0].rows;
      expect(rows).to.have.length(WHATSAPP_LIST_ROW_LIMIT);
      expect(rows[0]).to.deep.equal({ id: `${CHOICE_PAYLOAD_PREFIX}opt-1`, title: 'Option number 1 with a…', description: 'Option number 1 with a long title' });
    });

    it('splits text over 4,096 characters on sentence boundaries', async () => {
      await say(rig, 'long 5000');
      await rig.graph.waitForSent(2, 'whatsapp');
      const bodies = rig.graph.sent('whatsapp').map((r) => r.body.text.body as string);
      expect(bodies).to.have.length(2);
      for (const b of bodies) expect(b.length).to.be.at.most(WHATSAPP_TEXT_LIMIT);
      expect(bodies[0]).to.match(/\.$/);
    });
  });

  describe('the 24-hour window (moved clock)', () => {
    it('refuses a free-form message after 24 hours when no template is configured', async () => {
      rig = await makeRig();
      await rig.post('whatsapp', await fixture('whatsapp/text.json'));
      await rig.graph.waitForSent(1, 'whatsapp');
      await settle(rig);
      rig.clock.advance(23 * HOUR);
      await sendText(rig, 'still in time');
      rig.clock.advance(2 * HOUR);
      const err = await sendText(rig, 'too late').catch((e) => e);
      expect(err).to.be.instanceOf(ReplyWindowClosedError);
      expect(err.closedAt.toISOString()).to.equal('2026-12-02T10:00:00.000Z');
      const w = await rig.whatsapp.replyWindow(WA_ID);
      expect(w!.agentClosesAt!.getTime()).to.equal(w!.botClosesAt!.getTime());
      expect(rig.graph.sent('whatsapp')).to.have.length(2);
    });

    it('sends the configured template once instead when the window has closed, and notes the undelivered text', async () => {
      rig = await makeRig({ templateName: 'reopen_conversation' });
      await rig.post('whatsapp', await fixture('whatsapp/text.json'));
      await rig.graph.waitForSent(1, 'whatsapp');
      await settle(rig);
      rig.clock.advance(30 * HOUR);
      await sendText(rig, 'after the window');
      const body = rig.graph.sent('whatsapp')[1]!.body;
      expect(body).to.deep.include({ type: 'template', template: { name: 'reopen_conversation', language: { code: 'en' } } });
      const [note] = await rig.whatsapp.sendFailures(WA_ID);
      expect(note).to.include({ code: 'REPLY_WINDOW_CLOSED' });
      expect(note!.activity!.text).to.equal('after the window');
      // One template per closed window; the next message waits for the customer.
      expect(await sendText(rig, 'again').catch((e) => e)).to.be.instanceOf(ReplyWindowClosedError);
      expect(rig.graph.sent('whatsapp')).to.have.length(2);
      await rig.post('whatsapp', serializeLikeMeta(whatsappTextWebhook({ waId: WA_ID, text: 'back', phoneNumberId: PHONE_NUMBER_ID })));
      await rig.graph.waitForSent(3, 'whatsapp');
      expect(rig.graph.sent('whatsapp')[2]!.body.text.body).to.equal('You said: back');
    });

    it('turns Meta\'s 131047 refusal into ReplyWindowClosedError', async () => {
      rig = await makeRig();
      await rig.post('whatsapp', await fixture('whatsapp/text.json'));
      await rig.graph.waitForSent(1, 'whatsapp');
      await settle(rig);
      rig.graph.closeWindow(WA_ID);
      const err = await sendText(rig, 'refused').catch((e) => e);
      expect(err).to.be.instanceOf(ReplyWindowClosedError);
      expect((await rig.whatsapp.sendFailures(WA_ID))[0]).to.include({ code: 131047 });
    });
  });
});
