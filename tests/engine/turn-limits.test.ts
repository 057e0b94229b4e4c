/** The turn engine's bounds: turns at once across conversations, and messages waiting per conversation. */
import { expect } from 'chai';
import { MAX_WAITING_CONVERSATIONS, TurnQueueFullError, type TurnEngineOptions } from '../../src/engine/turn-engine.js';
import { LimitTestChannel, MemoryInbox, gate, item, until } from './limits-helpers.js';

describe('turn engine limits', function () {
  this.timeout(60_000);
  const channels: LimitTestChannel[] = [];
  afterEach(async () => {
    for (const c of channels.splice(0)) await c.close().catch(() => undefined);
  });
  const channel = (options: TurnEngineOptions = {}, inbox = new MemoryInbox()) => {
    const c = new LimitTestChannel(inbox, options);
    channels.push(c);
    return { c, inbox };
  };

  it('runs at most maxConcurrentTurns turns at once, and every conversation in the end', async () => {
    const { c } = channel({ maxConcurrentTurns: 4 });
    let now = 0;
    let most = 0;
    c.mount(undefined as never, async (ctx) => {
      most = Math.max(most, ++now);
      await new Promise((r) => setTimeout(r, 2));
      await ctx.sendActivity(`re ${ctx.activity.text}`);
      now--;
    });
    await c.start();
    await c.post(Array.from({ length: 60 }, (_, i) => item(`m${i}`, `C${i}`)));
    await c.whenIdle();
    expect(most).to.equal(4);
    expect(c.sent.map((s) => s.text).sort()).to.deep.equal(Array.from({ length: 60 }, (_, i) => `re m${i}`).sort());
  });

  it('lets waiting conversations in between the turns of a busy one, keeping its order', async () => {
    const { c } = channel({ maxConcurrentTurns: 1 });
    const order: string[] = [];
    c.mount(undefined as never, async (ctx) => void order.push(ctx.activity.text!));
    await c.start();
    await c.post([...Array.from({ length: 5 }, (_, i) => item(`a${i}`, 'A')), item('b0', 'B'), item('c0', 'C')]);
    await c.whenIdle();
    expect(order.filter((t) => t.startsWith('a'))).to.deep.equal(['a0', 'a1', 'a2', 'a3', 'a4']);
    // One slot: A gives it up after each turn while B and C wait, so they are not last.
    expect(order.indexOf('b0')).to.be.lessThan(order.indexOf('a4'));
    expect(order.indexOf('c0')).to.be.lessThan(order.indexOf('a4'));
  });

  it('refuses a conversation past its queue before storing, loses nothing, and keeps the order', async () => {
    const { c, inbox } = channel({ maxQueuedTurnsPerConversation: 3 });
    const held = gate();
    const seen: string[] = [];
    c.mount(undefined as never, async (ctx) => {
      await held.opened;
      seen.push(ctx.activity.text!);
    });
    await c.start();
    for (const id of ['a1', 'a2', 'a3']) await c.post([item(id, 'A')]);
    const refused = await c.post([item('a4', 'A')]).catch((e) => e);
    expect(refused).to.be.instanceOf(TurnQueueFullError);
    expect(refused.statusCode).to.equal(429);
    expect(refused.retryAfterSeconds).to.be.within(1, 60);
    expect(inbox.stored.map((i) => i.id), 'the refused message was not stored').to.deep.equal(['a1', 'a2', 'a3']);
    // A repeat of a stored message is answered as a repeat, and other conversations are not held back.
    expect(await c.post([item('a2', 'A')])).to.deep.equal([{ fresh: false, activityId: 'a2' }]);
    expect((await c.post([item('b1', 'B')]))[0]!.fresh).to.equal(true);
    // A batch that would overflow is refused whole: none of it is stored.
    expect(await c.post([item('b2', 'B'), item('b3', 'B'), item('b4', 'B')]).catch((e) => e)).to.be.instanceOf(TurnQueueFullError);
    held.open();
    await c.whenIdle();
    // The sender retries once the bot caught up: accepted and answered after the others, in order.
    await c.post([item('a4', 'A')]);
    await c.whenIdle();
    expect(seen.filter((t) => t.startsWith('a'))).to.deep.equal(['a1', 'a2', 'a3', 'a4']);
    expect(seen.filter((t) => t.startsWith('b'))).to.deep.equal(['b1']);
  });

  it("stores past the bound when the sender cannot retry one conversation alone (whenQueueFull: 'store')", async () => {
    const { c, inbox } = channel({ maxQueuedTurnsPerConversation: 2 });
    const seen: string[] = [];
    c.mount(undefined as never, async (ctx) => void seen.push(ctx.activity.text!));
    await c.start();
    await c.post(Array.from({ length: 6 }, (_, i) => item(`m${i}`, 'A')), { whenQueueFull: 'store' });
    expect(inbox.stored).to.have.length(6);
    await c.whenIdle();
    expect(seen).to.deep.equal(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('leaves conversations past the in-memory waiting list in the inbox, and the sweep runs them', async () => {
    const { c } = channel({ maxConcurrentTurns: 1, sweepIntervalMs: 20 });
    const held = gate();
    const runs = new Map<string, number>();
    c.mount(undefined as never, async (ctx) => {
      if (ctx.activity.text === 'first') await held.opened;
      runs.set(ctx.activity.text!, (runs.get(ctx.activity.text!) ?? 0) + 1);
    });
    await c.start();
    await c.post([item('first', 'first')]);
    const total = MAX_WAITING_CONVERSATIONS + 5; // one running, 10,000 waiting, 5 left to the sweep
    await c.post(Array.from({ length: total - 1 }, (_, i) => item(`m${i}`, `C${i}`)));
    held.open();
    await until(() => runs.size === total, 50_000);
    await c.whenIdle();
    expect([...runs.values()].every((n) => n === 1), 'each ran exactly once').to.equal(true);
  });
});
