import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageFactory, TurnContext, type Activity, type ConversationReference } from 'botbuilder';
import type { Server } from 'restify';
import { TurnEngineAdapter, contentHash, type TurnEngineOptions } from '../../src/engine/turn-engine.js';
import { FileChannelJournal } from '../../src/engine/file-journal.js';
import type { BotLogic } from '../../src/engine/channel.js';
import type { Inbox, InboxItem } from '../../src/engine/inbox.js';
import { fixture, makeRig, PSID, type Rig } from '../meta/helpers.js';
import { ReplyWindowClosedError } from '../../adapters/shared/errors.js';

/** The smallest channel on the engine: items come from `post`, sends land in `sent` (or fail on demand). */
class TestChannel extends TurnEngineAdapter {
  readonly channelId = 'test';
  readonly sent: { conversationId: string; text?: string; id: string }[] = [];
  failSends = false;
  private seq = 0;
  constructor(inbox: Inbox, options: TurnEngineOptions = {}) {
    super(inbox, options);
  }
  mount(_server: Server, logic: BotLogic): void {
    this.logic = logic;
  }
  post(...items: InboxItem[]) {
    return this.accept(items);
  }
  protected async deliver(context: TurnContext, activity: Partial<Activity>): Promise<string[]> {
    if (this.failSends) throw new Error('test channel: the platform refused the send');
    const id = `out-${++this.seq}`;
    this.sent.push({ conversationId: activity.conversation?.id ?? context.activity.conversation!.id, text: activity.text, id });
    return [id];
  }
  async updateActivity(): Promise<void> {}
  async deleteActivity(): Promise<void> {}
}

let at = 1000;
const item = (id: string, conversationId: string, text = id): InboxItem => ({
  id,
  conversationId,
  at: at++,
  activity: { type: 'message', id, text, channelId: 'test', conversation: { id: conversationId } as any, from: { id: 'u', role: 'user' } as any, recipient: { id: 'bot' } as any },
  opensWindow: true,
});

describe('TurnEngineAdapter', () => {
  let dir: string;
  const adapters: TestChannel[] = [];
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'engine-'))));
  afterEach(async () => {
    for (const a of adapters.splice(0)) await a.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const channel = (options: TurnEngineOptions = {}, inbox: Inbox = new FileChannelJournal(dir)) => {
    const a = new TestChannel(inbox, options);
    adapters.push(a);
    return a;
  };

  it("runs a conversation's turns in order and different conversations in parallel", async () => {
    const log: string[] = [];
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const a = channel();
    a.mount(undefined as never, async (ctx) => {
      log.push(`start ${ctx.activity.text}`);
      // a1 waits for b1, which waits until a1 has started: only conversations run in parallel get through.
      if (ctx.activity.text === 'a1') await firstHeld;
      if (ctx.activity.text === 'b1') {
        await until(async () => log.includes('start a1'));
        releaseFirst();
      }
      await ctx.sendActivity(`re ${ctx.activity.text}`);
      log.push(`end ${ctx.activity.text}`);
    });
    await a.start();
    await a.post(item('a1', 'A'), item('a2', 'A'));
    await a.post(item('b1', 'B'));
    await a.post(item('a3', 'A'));
    await a.whenIdle();
    expect(log.filter((l) => l.endsWith('a1') || l.endsWith('a2') || l.endsWith('a3'))).to.deep.equal(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3']);
    expect(log.indexOf('start a1')).to.be.lessThan(log.indexOf('end b1'));
    expect(log.indexOf('end b1')).to.be.lessThan(log.indexOf('end a1'));
    expect(a.sent.filter((s) => s.conversationId === 'A').map((s) => s.text)).to.deep.equal(['re a1', 're a2', 're a3']);
  });

  it('runs an item once however often its provider id is delivered, and says which delivery was first', async () => {
    const seen: string[] = [];
    const a = channel();
    a.mount(undefined as never, async (ctx) => void seen.push(ctx.activity.text!));
    await a.start();
    const first = await a.post(item('m1', 'A', 'hello'), item('m1', 'A', 'hello'));
    const again = await a.post(item('m1', 'A', 'hello'));
    await a.whenIdle();
    expect(first.map((r) => r.fresh)).to.deep.equal([true, false]);
    expect(again).to.deep.equal([{ fresh: false, activityId: 'm1' }]);
    expect(seen).to.deep.equal(['hello']);
  });

  it('re-runs a turn cut short by a crash without sending again what it sent, and still logs it', async () => {
    // The earlier process accepted two messages and sent the first one's reply, then died.
    const before = new FileChannelJournal(dir);
    await before.open();
    await before.accept([item('q1', 'A', 'first'), item('q2', 'A', 'second')]);
    const reply = MessageFactory.text('You said: first');
    await before.recordSend('q1', { n: 0, h: contentHash(reply), ids: ['platform-1'], at: 2000, activity: { type: 'message', text: 'You said: first' } });
    await before.recordSend('q2', { n: 0, h: contentHash(MessageFactory.text('an answer the bot no longer gives')), ids: ['platform-2'], at: 2001, activity: { type: 'message', text: 'an answer the bot no longer gives' } });
    await before.close();

    const a = channel();
    const logged: { text?: string; id?: string }[] = [];
    a.use(async (ctx, next) => {
      ctx.onSendActivities(async (_c, activities, send) => {
        const responses = await send();
        activities.forEach((x, i) => logged.push({ text: x.text, id: responses[i]?.id }));
        return responses;
      });
      await next();
    });
    a.mount(undefined as never, async (ctx) => void (await ctx.sendActivity(`You said: ${ctx.activity.text}`)));
    await a.start(); // the sweep at start finds them
    await until(async () => logged.length >= 3);
    await a.whenIdle();
    // q1: the same reply, not sent again, answered with the earlier id. q2: the bot says something else
    // now (sent), and what the customer got before is logged under its id without a send.
    expect(a.sent.map((s) => s.text)).to.deep.equal(['You said: second']);
    expect(logged).to.deep.equal([
      { text: 'You said: first', id: 'platform-1' },
      { text: 'You said: second', id: 'out-1' },
      { text: 'an answer the bot no longer gives', id: 'platform-2' },
    ]);
    const reopened = new FileChannelJournal(dir);
    await reopened.open();
    expect(await reopened.pendingConversations()).to.deep.equal([]);
    await reopened.close();
  });

  it('leaves a conversation leased by another instance alone, and runs it once the lease is given back', async () => {
    const file = new FileChannelJournal(dir);
    let heldElsewhere = true;
    const inbox: Inbox = {
      open: () => file.open(),
      close: () => file.close(),
      accept: (items) => file.accept(items),
      lease: async (c, ttl) => !heldElsewhere && file.lease(c, ttl),
      release: (c) => file.release(c),
      nextPending: (c) => file.nextPending(c),
      pendingConversations: async (limit) => (heldElsewhere ? [] : file.pendingConversations(limit)),
      done: (id) => file.done(id),
      recordSend: (i, send) => file.recordSend(i, send),
      sentInTurn: (i) => file.sentInTurn(i),
    };
    const a = channel({ sweepIntervalMs: 20 }, inbox);
    const seen: string[] = [];
    a.mount(undefined as never, async (ctx) => void seen.push(ctx.activity.text!));
    await a.start();
    await a.post(item('x1', 'A', 'while leased'));
    await a.whenIdle();
    expect(seen).to.deep.equal([]);
    heldElsewhere = false; // the other instance released it (or died and its lease ran out)
    await until(async () => seen.length === 1);
    expect(seen).to.deep.equal(['while leased']);
  });

  it('rejects continueConversationAsync when the proactive send fails, instead of calling onTurnError', async () => {
    const a = channel();
    let turnErrors = 0;
    a.onTurnError = async () => void turnErrors++;
    a.mount(undefined as never, async () => undefined);
    a.failSends = true;
    const reference: Partial<ConversationReference> = { conversation: { id: 'A' } as any, channelId: 'test' };
    const err = await a.continueConversationAsync('app-id', reference, async (ctx) => void (await ctx.sendActivity('agent reply'))).catch((e) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.match(/refused the send/);
    // the audience overload too
    const err2 = await a.continueConversationAsync({} as any, reference, 'https://api.botframework.com', async (ctx) => void (await ctx.sendActivity('x'))).catch((e) => e);
    expect(err2).to.be.instanceOf(Error);
    expect(turnErrors).to.equal(0);
  });
});

describe('Meta channels on the engine: proactive sends', () => {
  let rig: Rig | undefined;
  afterEach(async () => rig?.close());

  it('rejects continueConversationAsync with ReplyWindowClosedError when the window is closed, even with an onTurnError set', async () => {
    rig = await makeRig();
    let turnErrors = 0;
    rig.messenger.onTurnError = async () => void turnErrors++;
    await rig.post('messenger', await fixture('messenger/text.json'));
    await rig.messenger.whenIdle();
    rig.clock.advance(25 * 3600 * 1000);
    const err = await rig.messenger
      .continueConversationAsync('app', rig.messenger.referenceFor(PSID), async (ctx) => void (await ctx.sendActivity('too late')))
      .catch((e) => e);
    expect(err).to.be.instanceOf(ReplyWindowClosedError);
    expect(turnErrors).to.equal(0);
  });
});

async function until(test: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
