import { DEFAULT_MAX_ATTEMPTS } from '../../adapters/shared/graph-client.js';
import { expect } from 'chai';
import { MessageFactory, type TurnContext } from 'botbuilder';
import { makeRig, settle, fixture, PSID, VERIFY_TOKEN, type Rig } from './helpers.js';
import { serializeLikeMeta, messengerTextWebhook } from '../../adapters/shared/sample-events.js';
import { ReplyWindowClosedError, GraphApiError } from '../../adapters/shared/errors.js';
import { isUnsupportedActivity, DEFAULT_UNSUPPORTED_TEXT, type SendFailure } from '../../adapters/shared/meta-adapter.js';
import { MESSENGER_QUICK_REPLY_LIMIT, MESSENGER_TEXT_LIMIT } from '../../adapters/messenger/index.js';
import { CHOICE_PAYLOAD_PREFIX } from '../../adapters/shared/choice-payload.js';
import { MEDIA_UNAVAILABLE_TYPE } from '../../src/media/attachments.js';

const HOUR = 3600 * 1000;
const sendText = (rig: Rig, text: string, agent = false) =>
  rig.messenger.continueConversation(rig.messenger.referenceFor(PSID), async (ctx: TurnContext) => {
    const a = MessageFactory.text(text);
    if (agent) a.channelData = { switchboard: { agent: { agentId: 'a1', agentName: 'Ada' } } };
    await ctx.sendActivity(a);
  });

describe('MessengerAdapter', function () {
  let rig: Rig;
  beforeEach(async () => (rig = await makeRig()));
  afterEach(async () => rig.close());

  it('answers the GET handshake with the challenge and refuses a wrong verify token', async () => {
    const ok = await fetch(`${rig.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`);
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.equal('1158201444');
    const bad = await fetch(`${rig.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`);
    expect(bad.status).to.equal(403);
  });

  it('refuses a missing (401) or wrong (403) signature and processes nothing', async () => {
    const raw = await fixture('messenger/text.json');
    expect((await rig.post('messenger', raw, null)).status).to.equal(401);
    expect((await rig.post('messenger', raw, 'sha256=' + '0'.repeat(64))).status).to.equal(403);
    await settle(rig);
    expect(rig.turns).to.have.length(0);
    expect(rig.graph.requests).to.have.length(0);
  });

  it('answers a text message at the Send API with RESPONSE, keeping the profile name', async () => {
    expect((await rig.post('messenger', await fixture('messenger/text.json'))).status).to.equal(200);
    await rig.graph.waitForSent(1, 'messenger');
    const send = rig.graph.sent('messenger')[0]!;
    expect(send.path).to.equal('/v23.0/me/messages');
    expect(send.query.access_token).to.equal('page-token');
    expect(send.body).to.deep.equal({ recipient: { id: PSID }, messaging_type: 'RESPONSE', message: { text: 'You said: hello, world!' } });
    expect(rig.turns[0]).to.deep.include({ channelId: 'messenger', text: 'hello, world!', id: 'mid.1457764197618:41d102a3e1ae206a38' });
    expect(rig.turns[0]!.from).to.include({ id: PSID, name: 'Peter Chang' });
    await settle(rig);
    const actions = rig.graph.requests.filter((r) => r.body?.sender_action).map((r) => r.body.sender_action);
    expect(actions).to.deep.equal(['mark_seen']);
  });

  it('reads a quick reply or postback whose payload the bot never sent as the title the customer tapped', async () => {
    await rig.post('messenger', await fixture('messenger/quick-reply.json'));
    await rig.post('messenger', await fixture('messenger/postback.json'));
    await settle(rig);
    expect(rig.turns.map((t) => t.text)).to.deep.equal(['Red', 'TITLE-FOR-THE-CTA']);
    expect(rig.turns[0]!.value).to.deep.equal({ payload: 'DEVELOPER_DEFINED_PAYLOAD', title: 'Red' });
  });

  it('keeps images and stickers in the transcript and answers them politely without the bot', async () => {
    const seen: any[] = [];
    rig.messenger.use({ onTurn: async (ctx, next) => (seen.push(ctx.activity), next()) });
    await rig.post('messenger', await fixture('messenger/attachment-image.json'));
    await rig.post('messenger', await fixture('messenger/attachment-sticker.json'));
    await rig.graph.waitForSent(2, 'messenger');
    expect(rig.turns).to.have.length(0);
    expect(seen).to.have.length(2);
    expect(isUnsupportedActivity(seen[0])).to.equal(true);
    // This adapter has no media store: the agent is told the file was not kept (tests/media/ keep them).
    expect(seen[0].attachments[0]).to.include({ contentType: MEDIA_UNAVAILABLE_TYPE, name: 'image' });
    expect(seen[1].attachments[0].content).to.include({ kind: 'sticker' });
    expect(rig.graph.sent('messenger').map((r) => r.body.message.text)).to.deep.equal([DEFAULT_UNSUPPORTED_TEXT, DEFAULT_UNSUPPORTED_TEXT]);
  });

  it('turns echoes, deliveries and reads into message status instead of turns, and ignores standby', async () => {
    await rig.post('messenger', await fixture('messenger/text.json'));
    await rig.graph.waitForSent(1, 'messenger');
    await settle(rig);
    const mid = rig.graph.sent('messenger')[0]!.response.message_id;
    const statuses: any[] = [];
    rig.messenger.events.on('status', (s) => statuses.push(s));
    const delivery = JSON.parse(await fixture('messenger/delivery.json'));
    delivery.entry[0].messaging[0].delivery.mids = [mid];
    await rig.post('messenger', serializeLikeMeta(delivery));
    expect(await rig.messenger.messageStatus(mid)).to.equal('delivered');
    const read = JSON.parse(await fixture('messenger/read.json'));
    read.entry[0].messaging[0].read.watermark = rig.clock.now().getTime() + 1000;
    await rig.post('messenger', serializeLikeMeta(read));
    expect(await rig.messenger.messageStatus(mid)).to.equal('read');
    expect((await rig.post('messenger', await fixture('messenger/echo.json'))).status).to.equal(200);
    expect((await rig.post('messenger', await fixture('messenger/standby.json'))).status).to.equal(200);
    await settle(rig);
    expect(rig.turns).to.have.length(1);
    expect(statuses.map((s) => s.status)).to.deep.equal(['delivered', 'read']);
  });

  it('handles batched entries: every message, in order per customer', async () => {
    await rig.post('messenger', await fixture('messenger/batched.json'));
    await settle(rig);
    expect(rig.turns.map((t) => t.text)).to.have.members(['first', 'second', 'another customer']);
    const first = rig.turns.filter((t) => t.from!.id === PSID).map((t) => t.text);
    expect(first).to.deep.equal(['first', 'second']);
  });

  it('processes a redelivered message once, even after a restart on the same DATA_DIR', async () => {
    const raw = await fixture('messenger/text.json');
    await rig.post('messenger', raw);
    await rig.post('messenger', raw);
    await settle(rig);
    await rig.restart();
    expect((await rig.post('messenger', raw)).status).to.equal(200);
    await settle(rig);
    expect(rig.turns).to.have.length(1);
    expect(rig.graph.sent('messenger')).to.have.length(1);
  });

  it('answers 503 when the message cannot be stored, so Meta retries', async () => {
    await (rig.messenger as any).journal.close();
    const r = await rig.post('messenger', await fixture('messenger/text.json'));
    expect(r.status).to.equal(503);
    expect(rig.turns).to.have.length(0);
  });

  it('splits long text at 2,000 characters on sentence boundaries', async () => {
    await rig.post('messenger', serializeLikeMeta(messengerTextWebhook({ psid: PSID, text: 'long 4500' })));
    await rig.graph.waitForSent(3, 'messenger');
    const texts = rig.graph.sent('messenger').map((r) => r.body.message.text as string);
    expect(texts).to.have.length(3);
    for (const t of texts) {
      expect(t.length).to.be.at.most(MESSENGER_TEXT_LIMIT);
      expect(t).to.match(/\.$/);
    }
  });

  it('sends at most 13 quick replies with 20-character titles whose payload is the choice value', async () => {
    await rig.post('messenger', serializeLikeMeta(messengerTextWebhook({ psid: PSID, text: 'choose 15' })));
    await rig.graph.waitForSent(1, 'messenger');
    const msg = rig.graph.sent('messenger')[0]!.body.message;
    expect(msg.text).to.equal('Pick one:');
    expect(msg.quick_replies).to.have.length(MESSENGER_QUICK_REPLY_LIMIT);
    expect(msg.quick_replies[0]).to.deep.equal({ content_type: 'text', title: 'Option number 1 wit…', payload: `${CHOICE_PAYLOAD_PREFIX}opt-1` });
  });

  describe('reply windows (moved clock)', () => {
    beforeEach(async () => {
      await rig.post('messenger', await fixture('messenger/text.json'));
      await rig.graph.waitForSent(1, 'messenger');
      await settle(rig);
    });

    it('knows the window: 24 hours for the bot, 7 days for a human agent', async () => {
      const w = await rig.messenger.replyWindow(PSID);
      expect(w!.lastCustomerMessageAt!.toISOString()).to.equal('2026-12-01T10:00:00.000Z');
      expect(w!.botClosesAt!.toISOString()).to.equal('2026-12-02T10:00:00.000Z');
      expect(w!.agentClosesAt!.toISOString()).to.equal('2026-12-08T10:00:00.000Z');
      expect(await rig.messenger.replyWindow('nobody')).to.equal(undefined);
    });

    it('refuses a bot message after 24 hours with ReplyWindowClosedError and records it', async () => {
      rig.clock.advance(25 * HOUR);
      const failures: SendFailure[] = [];
      rig.messenger.events.on('sendFailed', (f) => failures.push(f));
      const err = await sendText(rig, 'late').catch((e) => e);
      expect(err).to.be.instanceOf(ReplyWindowClosedError);
      expect(err.channelId).to.equal('messenger');
      expect(err.closedAt.toISOString()).to.equal('2026-12-02T10:00:00.000Z');
      expect(rig.graph.sent('messenger')).to.have.length(1);
      expect(failures[0]).to.include({ code: 'REPLY_WINDOW_CLOSED', conversationId: PSID });
      expect((await rig.messenger.sendFailures(PSID))[0]!.activity!.text).to.equal('late');
    });

    it('sends a human agent reply after 24 hours with the HUMAN_AGENT tag, and refuses it after 7 days', async () => {
      rig.clock.advance(3 * 24 * HOUR);
      await sendText(rig, 'Hi, Ada here', true);
      const body = rig.graph.sent('messenger')[1]!.body;
      expect(body).to.include({ messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
      rig.clock.advance(5 * 24 * HOUR);
      expect(await sendText(rig, 'too late', true).catch((e) => e)).to.be.instanceOf(ReplyWindowClosedError);
    });

    it('turns Meta\'s own window refusal (10/2018278) into ReplyWindowClosedError with Meta\'s code kept', async () => {
      rig.graph.closeWindow(PSID);
      const err = await sendText(rig, 'refused by Meta').catch((e) => e);
      expect(err).to.be.instanceOf(ReplyWindowClosedError);
      expect(err.graphError).to.be.instanceOf(GraphApiError);
      expect((await rig.messenger.sendFailures(PSID))[0]).to.include({ code: 10, subcode: 2018278, fbtraceId: 'AFakeTrace' });
    });

    it('retries 429 (honouring Retry-After) and 500, then delivers', async () => {
      rig.graph.failNext(1, { status: 429, retryAfterSeconds: 7 });
      rig.graph.failNext(1, { status: 500 });
      await sendText(rig, 'eventually');
      expect(rig.graph.sent('messenger').map((r) => r.body.message.text)).to.deep.equal(['You said: hello, world!', 'eventually']);
      expect(rig.sleeps).to.deep.equal([7000, 750]);
    });

    it('records a final failure with Meta\'s code and message after the last retry', async () => {
      rig.graph.failNext(DEFAULT_MAX_ATTEMPTS, { status: 500, code: 2, message: 'Service temporarily unavailable' });
      const err = await sendText(rig, 'lost?').catch((e) => e);
      expect(err).to.be.instanceOf(GraphApiError);
      expect(err).to.include({ status: 500, code: 2 });
      expect(rig.sleeps).to.have.length(DEFAULT_MAX_ATTEMPTS - 1);
      const [f] = await rig.messenger.sendFailures(PSID);
      expect(f).to.include({ code: 2, message: 'Service temporarily unavailable', fbtraceId: 'AFakeTrace' });
    });

    it('does not retry a request Meta rejects as invalid', async () => {
      rig.graph.failNext(1, { status: 400, code: 100, message: '(#100) Invalid parameter' });
      const err = await sendText(rig, 'bad').catch((e) => e);
      expect(err).to.be.instanceOf(GraphApiError);
      expect(rig.sleeps).to.have.length(0);
    });
  });
});
