/**
 * Every documented event of both Meta platforms, event by event: what happens to it (answered,
 * recorded in the transcript, consumed silently, or kept in the journal as unparseable). The fixtures
 * and where they come from are listed in tests/fixtures/SOURCES.md.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ActivityHandler, ActivityTypes, MessageFactory, type Activity } from 'botbuilder';
import { makeRig, settle, fixture, PSID, WA_ID, PHONE_NUMBER_ID, type Rig } from './helpers.js';
import { serializeLikeMeta, messengerTextWebhook, whatsappTextWebhook } from '../../adapters/shared/sample-events.js';
import { isUnsupportedActivity } from '../../adapters/shared/meta-adapter.js';
import type { BotLogic } from '../../src/engine/channel.js';

/**
 * A botbuilder `ActivityHandler` bot, as a real bot is: it answers messages ("You said: …", and
 * `short N` offers N choices), and has handlers for reactions, edits and deletes that only record.
 */
function handlerBot(turns: Partial<Activity>[]): BotLogic {
  const bot = new ActivityHandler();
  bot.onMessage(async (ctx, next) => {
    turns.push(ctx.activity);
    const short = /^short (\d+)$/.exec(ctx.activity.text ?? '');
    if (short) {
      const actions = Array.from({ length: Number(short[1]) }, (_, i) => ({ type: 'imBack', title: `Option ${i + 1}`, value: `opt-${i + 1}` }));
      await ctx.sendActivity(MessageFactory.suggestedActions(actions, 'Pick one:'));
    } else {
      await ctx.sendActivity(`You said: ${ctx.activity.text}`);
    }
    await next();
  });
  return (ctx) => bot.run(ctx);
}

/** What reached the middleware (the transcript logger's view) on a channel. */
function watch(rig: Rig, channel: 'messenger' | 'whatsapp'): Partial<Activity>[] {
  const seen: Partial<Activity>[] = [];
  rig[channel].use({ onTurn: async (ctx, next) => (seen.push(ctx.activity), next()) });
  return seen;
}

/** The `unparsed` records of a channel's journal file. */
async function unparsed(rig: Rig, channel: string): Promise<{ reason: string; body: string }[]> {
  const lines = (await readFile(join(rig.dataDir, channel, 'journal.jsonl'), 'utf8')).split('\n').filter(Boolean);
  return lines.map((l) => JSON.parse(l)).filter((r) => r.t === 'unparsed');
}

const post = async (rig: Rig, channel: 'messenger' | 'whatsapp', name: string) => {
  const r = await rig.post(channel, await fixture(name));
  expect(r.status, `${name} answered ${r.text}`).to.equal(200);
  await settle(rig);
};

describe('Meta events, one by one', function () {
  let rig: Rig;
  beforeEach(async () => (rig = await makeRig({ bot: handlerBot })));
  afterEach(async () => rig.close());

  describe('Messenger', () => {
    it('answers the text in a POST whose other events are a policy enforcement and one that does not parse; keeps that one in the journal', async () => {
      await post(rig, 'messenger', 'messenger/mixed-bad-event.json');
      await rig.graph.waitForSent(1, 'messenger');
      const sent = rig.graph.sent('messenger');
      expect(sent.map((r) => r.body.message.text)).to.deep.equal(['You said: still answered']);
      // Ids sent as JSON numbers are read as the strings Meta documents.
      expect(sent[0]!.body.recipient).to.deep.equal({ id: PSID });
      const kept = await unparsed(rig, 'messenger');
      expect(kept).to.have.length(1);
      expect(kept[0]!.reason).to.match(/^entry\[0\]\.messaging\[1\]: message\.mid/);
      expect(JSON.parse(kept[0]!.body)).to.deep.include({ message: { mid: { unexpected: 'object' }, text: 'this event cannot be read' } });
    });

    it('takes a policy enforcement (an event without a sender) without a turn or an error', async () => {
      const seen = watch(rig, 'messenger');
      await post(rig, 'messenger', 'messenger/policy-enforcement.json');
      expect(seen).to.have.length(0);
      expect(rig.graph.sent('messenger')).to.have.length(0);
      expect(await unparsed(rig, 'messenger')).to.have.length(0);
    });

    it('records a reaction and its removal as messageReaction activities and answers neither', async () => {
      const seen = watch(rig, 'messenger');
      await post(rig, 'messenger', 'messenger/reaction.json');
      expect(seen.map((a) => a.type)).to.deep.equal([ActivityTypes.MessageReaction, ActivityTypes.MessageReaction]);
      expect(seen[0]).to.deep.include({ replyToId: 'm_bot_reply_1', reactionsAdded: [{ type: '❤️' }] });
      expect(seen[1]).to.deep.include({ reactionsRemoved: [{ type: '❤️' }] });
      expect(rig.turns).to.have.length(0);
      expect(rig.graph.requests.filter((r) => r.api === 'messenger')).to.have.length(0); // no reply, no mark_seen
    });

    it('records an edit (messageUpdate with the new text) and a delete (messageDelete), answering neither', async () => {
      await post(rig, 'messenger', 'messenger/text.json');
      await rig.graph.waitForSent(1, 'messenger');
      const seen = watch(rig, 'messenger');
      await post(rig, 'messenger', 'messenger/message-edit.json');
      await post(rig, 'messenger', 'messenger/message-deleted.json');
      expect(seen.map((a) => a.type)).to.deep.equal([ActivityTypes.MessageUpdate, ActivityTypes.MessageDelete]);
      expect(seen[0]).to.include({ text: 'hello, world! (how do I pay by card?)', replyToId: 'mid.1457764197618:41d102a3e1ae206a38' });
      expect(seen[1]).to.include({ replyToId: 'mid.1457764197618:41d102a3e1ae206a38' });
      expect(rig.turns.map((t) => t.text)).to.deep.equal(['hello, world!']);
      expect(rig.graph.sent('messenger')).to.have.length(1);
    });

    it('consumes thread control, app roles, opt-ins and referrals silently', async () => {
      const seen = watch(rig, 'messenger');
      await post(rig, 'messenger', 'messenger/handover.json');
      await post(rig, 'messenger', 'messenger/optin-referral.json');
      await post(rig, 'messenger', 'messenger/standby.json');
      expect(seen).to.have.length(0);
      expect(rig.graph.requests.filter((r) => r.api === 'messenger')).to.have.length(0);
      expect(await unparsed(rig, 'messenger')).to.have.length(0);
    });

    it('answers a Customer Chat Plugin guest (sender.user_ref) at recipient.user_ref, postbacks included', async () => {
      await post(rig, 'messenger', 'messenger/user-ref-message.json');
      await rig.graph.waitForSent(2, 'messenger');
      const sent = rig.graph.sent('messenger');
      expect(sent.map((r) => r.body.recipient)).to.deep.equal([{ user_ref: '6b07b3b2-4e3a-4b1c-9d2e-user-ref' }, { user_ref: '6b07b3b2-4e3a-4b1c-9d2e-user-ref' }]);
      // The Get Started postback's payload is the Page's own, not the bot's: the bot reads the title.
      expect(sent.map((r) => r.body.message.text)).to.deep.equal(['You said: How can I pay my bill by card?', 'You said: Get Started']);
      expect(rig.graph.requests.filter((r) => r.api === 'profile')).to.have.length(0);
    });

    it('maps a tapped quick reply to the choice only when the bot sent that payload', async () => {
      await rig.post('messenger', serializeLikeMeta(messengerTextWebhook({ psid: PSID, text: 'short 2' })));
      await rig.graph.waitForSent(1, 'messenger');
      const offered = rig.graph.sent('messenger')[0]!.body.message.quick_replies[1];
      const tap = JSON.parse(await fixture('messenger/quick-reply.json'));
      tap.entry[0].messaging[0].message.text = offered.title;
      tap.entry[0].messaging[0].message.quick_reply.payload = offered.payload;
      await rig.post('messenger', serializeLikeMeta(tap));
      await settle(rig);
      expect(rig.turns.map((t) => t.text)).to.deep.equal(['short 2', 'opt-2']);
    });
  });

  describe('WhatsApp', () => {
    it('answers the text in a POST with a message and a status that do not parse; keeps both in the journal', async () => {
      await post(rig, 'whatsapp', 'whatsapp/mixed-bad-message.json');
      await rig.graph.waitForSent(1, 'whatsapp');
      const sent = rig.graph.sent('whatsapp');
      expect(sent.map((r) => r.body.text?.body)).to.deep.equal(['You said: still answered']);
      expect(sent[0]!.body.to).to.equal(WA_ID);
      const kept = await unparsed(rig, 'whatsapp');
      expect(kept.map((k) => k.reason.split(':')[0])).to.deep.equal(['entry[0].changes[0].value.messages[0]', 'entry[0].changes[0].value.statuses[1]']);
    });

    it('records reactions, an edit and a delete without answering them or marking them read', async () => {
      const seen = watch(rig, 'whatsapp');
      await post(rig, 'whatsapp', 'whatsapp/reaction.json');
      await post(rig, 'whatsapp', 'whatsapp/edit.json');
      await post(rig, 'whatsapp', 'whatsapp/revoke.json');
      expect(seen.map((a) => a.type)).to.deep.equal([ActivityTypes.MessageReaction, ActivityTypes.MessageReaction, ActivityTypes.MessageUpdate, ActivityTypes.MessageDelete]);
      expect(seen[0]).to.deep.include({ reactionsAdded: [{ type: '👍' }], replyToId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NzM0NTdCNjk4RUY5RjIyOUYA' });
      expect(seen[1]!.reactionsRemoved).to.have.length(1);
      expect(seen[2]).to.include({ text: 'Does it come in another colour? Blue?', replyToId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=' });
      expect(seen[3]).to.include({ replyToId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=' });
      expect(rig.turns).to.have.length(0);
      expect(rig.graph.requests.filter((r) => r.api === 'whatsapp')).to.have.length(0);
      // A reaction does not open the 24-hour window: the bot may not start writing because of it.
      expect(await rig.whatsapp.replyWindow(WA_ID)).to.equal(undefined);
    });

    it('reads an `unsupported` edit as an edit, and still answers another unsupported type politely', async () => {
      const seen = watch(rig, 'whatsapp');
      await post(rig, 'whatsapp', 'whatsapp/unsupported.json');
      expect(seen.map((a) => a.type)).to.deep.equal([ActivityTypes.MessageUpdate, ActivityTypes.Message]);
      expect(seen[0]!.text).to.equal(undefined);
      expect(isUnsupportedActivity(seen[1]!)).to.equal(true);
      expect(rig.turns).to.have.length(0);
    });

    it('consumes system messages and welcome requests silently', async () => {
      const seen = watch(rig, 'whatsapp');
      await post(rig, 'whatsapp', 'whatsapp/system.json');
      await post(rig, 'whatsapp', 'whatsapp/request-welcome.json');
      expect(seen).to.have.length(0);
      expect(rig.graph.requests.filter((r) => r.api === 'whatsapp')).to.have.length(0);
    });

    it('keeps orders, shared contacts and Flow replies for the agent without running them as a question', async () => {
      const seen = watch(rig, 'whatsapp');
      for (const f of ['order', 'contacts', 'nfm-reply']) await post(rig, 'whatsapp', `whatsapp/${f}.json`);
      expect(seen).to.have.length(3);
      expect(seen.every((a) => isUnsupportedActivity(a) && a.type === ActivityTypes.Message && a.attachments?.length === 1)).to.equal(true);
      expect(rig.turns).to.have.length(0);
    });

    it('does not record a failed status for a message it never sent against any conversation', async () => {
      const failures: unknown[] = [];
      rig.whatsapp.events.on('sendFailed', (f) => failures.push(f));
      await post(rig, 'whatsapp', 'whatsapp/status-failed-unknown.json');
      expect(failures).to.deep.equal([]);
      expect(await rig.whatsapp.sendFailures('16505550000')).to.deep.equal([]);
      expect(await rig.whatsapp.sendFailures('unknown')).to.deep.equal([]);
    });

    it('maps a tapped reply button to the choice only when the bot sent that id', async () => {
      await rig.post('whatsapp', serializeLikeMeta(whatsappTextWebhook({ waId: WA_ID, name: 'Sheena Nelson', text: 'short 3', phoneNumberId: PHONE_NUMBER_ID })));
      await rig.graph.waitForSent(1, 'whatsapp');
      const button = rig.graph.sent('whatsapp')[0]!.body.interactive.action.buttons[2].reply;
      const tap = JSON.parse(await fixture('whatsapp/button-reply.json'));
      tap.entry[0].changes[0].value.messages[0].interactive.button_reply = button;
      tap.entry[0].changes[0].value.messages[0].id = 'wamid.tap-of-our-own-button';
      await rig.post('whatsapp', serializeLikeMeta(tap));
      await post(rig, 'whatsapp', 'whatsapp/button-reply.json');
      expect(rig.turns.map((t) => t.text)).to.deep.equal(['short 3', 'opt-3', 'Cancel']);
    });
  });
});
