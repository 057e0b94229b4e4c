import { expect } from 'chai';
import { ActivityTypes, INVOKE_RESPONSE_KEY, MessageFactory, type TurnContext } from 'botbuilder';
import { makeRig, settle, fixture, PSID, WA_ID, APP_SECRET, PHONE_NUMBER_ID, type Rig } from './helpers.js';
import { simulate } from '../../adapters/shared/simulate.js';

describe('Meta channel base adapter', function () {
  let rig: Rig;
  afterEach(async () => rig?.close());

  it('finishes a message accepted before a crash when the adapter restarts on the same DATA_DIR', async () => {
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const first = await makeRig({ keepData: true, bot: () => async () => blocked });
    expect((await first.post('messenger', await fixture('messenger/text.json'))).status).to.equal(200);
    // "Crash": a second process opens the same DATA_DIR while the first never finished the turn.
    rig = await makeRig({ dataDir: first.dataDir });
    await rig.graph.waitForSent(1, 'messenger');
    expect(rig.turns.map((t) => t.text)).to.deep.equal(['hello, world!']);
    release();
    await first.close();
  });

  it('treats delay, trace and invokeResponse like botbuilder\'s adapters and sends typing indicators', async () => {
    rig = await makeRig();
    await rig.post('messenger', await fixture('messenger/text.json'));
    await rig.graph.waitForSent(1, 'messenger');
    await settle(rig);
    let invoke: unknown;
    await rig.messenger.continueConversationAsync('app-id', rig.messenger.referenceFor(PSID), async (ctx: TurnContext) => {
      const r = await ctx.sendActivities([
        { type: 'delay', value: 1234 },
        { type: ActivityTypes.Trace, name: 'debug', value: 'x' },
        { type: ActivityTypes.InvokeResponse, value: { status: 200 } },
        { type: ActivityTypes.Typing },
        MessageFactory.text('after the pause'),
      ]);
      invoke = ctx.turnState.get(INVOKE_RESPONSE_KEY);
      expect(r[4]!.id).to.match(/^m_fake_/);
    });
    expect(rig.sleeps).to.deep.equal([1234]);
    expect(invoke).to.deep.include({ type: ActivityTypes.InvokeResponse });
    const after = rig.graph.requests.slice(-2).map((r) => r.body.sender_action ?? r.body.message?.text);
    expect(after).to.deep.equal(['typing_on', 'after the pause']);
  });

  it('npm run simulate signs and posts a webhook that the server answers', async () => {
    rig = await makeRig();
    const env = {
      MESSENGER_APP_SECRET: APP_SECRET,
      MESSENGER_VERIFY_TOKEN: 'v',
      MESSENGER_PAGE_ACCESS_TOKEN: 'page-token',
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_VERIFY_TOKEN: 'v',
      WHATSAPP_ACCESS_TOKEN: 'wa-token',
      WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    };
    const m = await simulate({ channel: 'messenger', text: 'Grüß dich', from: PSID, url: rig.url, env });
    const w = await simulate({ channel: 'whatsapp', text: 'hola', from: WA_ID, name: 'Ana', url: rig.url, env });
    expect([m.status, w.status]).to.deep.equal([200, 200]);
    expect(m.body).to.include('Gr\\u00fc\\u00df dich');
    await rig.graph.waitForSent(2);
    expect(rig.graph.sent('messenger')[0]!.body.message.text).to.equal('You said: Grüß dich');
    expect(rig.graph.sent('whatsapp')[0]!.body.text.body).to.equal('You said: hola');
  });
});
