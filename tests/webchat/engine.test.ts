import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ActivityTypes, TurnContext, type ConversationReference } from 'botbuilder';
import { WebSocket } from 'ws';
import { FileConversationStore, WebChatAdapter, WebChatConversationNotFoundError } from '../../adapters/webchat/index.js';
import { FileChannelJournal } from '../../src/engine/file-journal.js';
import { LocalEventBus } from '../../src/engine/bus.js';
import type { Inbox } from '../../src/engine/inbox.js';
import { createServer } from '../../src/server.js';
import { silentLogger } from '../../src/log.js';
import { listen } from '../helpers/http.js';
import { TEST_SECRET, startWebChat } from './fixture.js';

type App = Awaited<ReturnType<typeof startWebChat>>;

async function post(app: App, conversationId: string, token: string, body: unknown) {
  const res = await fetch(`${app.domain}/conversations/${conversationId}/activities`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { id: string } };
}

async function history(app: App, conversationId: string, token: string) {
  const res = await fetch(`${app.domain}/conversations/${conversationId}/activities`, { headers: { Authorization: `Bearer ${token}` } });
  return ((await res.json()) as { activities: any[] }).activities;
}

async function until(test: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('web chat on the turn engine', () => {
  let dataDir: string;
  const apps: App[] = [];
  beforeEach(async () => (dataDir = await mkdtemp(path.join(os.tmpdir(), 'webchat-engine-'))));
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close(true).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers a repeated clientActivityID with the first POST\'s id and runs the bot once, also after a restart', async () => {
    let app = await startWebChat({ dataDir });
    apps.push(app);
    const { conversationId, token } = app.adapter.generateToken();
    const message = { type: 'message', text: 'once please', channelData: { clientActivityID: 'client-1' } };
    const first = await post(app, conversationId, token, message);
    const second = await post(app, conversationId, token, message);
    expect(first.status).to.equal(200);
    expect(second.body.id).to.equal(first.body.id);
    await app.adapter.whenIdle();
    await app.close(true);
    apps.pop();

    app = await startWebChat({ dataDir });
    apps.push(app);
    const third = await post(app, conversationId, token, message);
    expect(third.body.id).to.equal(first.body.id);
    await app.adapter.whenIdle();
    const texts = (await history(app, conversationId, token)).map((a) => a.text);
    expect(texts.filter((t) => t === 'You said: once please')).to.have.length(1);
    expect(texts.filter((t) => t === 'Welcome to the echo bot')).to.have.length(1);
  });

  it('rejects a proactive turn for an unknown conversation at the caller, not in onTurnError', async () => {
    const app = await startWebChat({ dataDir });
    apps.push(app);
    let turnErrors = 0;
    app.adapter.onTurnError = async () => void turnErrors++;
    const reference: Partial<ConversationReference> = { channelId: 'webchat', conversation: { id: 'nobody-here' } as any };
    const err = await app.adapter.continueConversationAsync('app', reference, async (ctx) => void (await ctx.sendActivity('hello?'))).catch((e) => e);
    expect(err).to.be.instanceOf(WebChatConversationNotFoundError);
    expect(turnErrors).to.equal(0);
  });

  it('does not append a reply twice when a turn cut short after its append runs again', async () => {
    // The first process appends the reply, then dies before the inbox hears of the send.
    const file = new FileChannelJournal(path.join(dataDir, 'webchat', 'inbox'));
    const crashing: Inbox = {
      open: () => file.open(),
      close: () => file.close(),
      accept: (items) => file.accept(items),
      lease: (c, ttl) => file.lease(c, ttl),
      release: (c) => file.release(c),
      nextPending: (c) => file.nextPending(c),
      pendingConversations: (limit) => file.pendingConversations(limit),
      done: (id) => file.done(id),
      recordSend: () => new Promise<void>(() => undefined), // the process is gone before this is written
      sentInTurn: (i) => file.sentInTurn(i),
    };
    const logic = async (ctx: TurnContext) => {
      if (ctx.activity.type === ActivityTypes.Message) await ctx.sendActivity(`You said: ${ctx.activity.text}`);
    };
    const dying = await startWebChat({ dataDir, inbox: crashing, logic });
    const { conversationId, token } = dying.adapter.generateToken();
    await post(dying, conversationId, token, { type: 'message', text: 'hello' });
    await until(async () => (await history(dying, conversationId, token)).some((a) => a.text === 'You said: hello'));

    const probe = new FileChannelJournal(path.join(dataDir, 'webchat', 'inbox'));
    await probe.open();
    expect((await probe.nextPending(conversationId))?.activity.text, 'left pending by the first process').to.equal('hello');
    await probe.close();

    const app = await startWebChat({ dataDir, logic }); // same DATA_DIR, as after a restart
    apps.push(app);
    // The restarted adapter's sweep re-runs the turn: it finds the reply in the log and does not append it again.
    await app.adapter.start();
    const inbox = (app.adapter as unknown as { inbox: Inbox }).inbox;
    await until(async () => (await inbox.nextPending(conversationId)) === undefined);
    await app.adapter.whenIdle();
    const texts = (await history(app, conversationId, token)).map((a) => a.text);
    expect(texts).to.deep.equal(['hello', 'You said: hello']);
  });

  it("delivers a reply written by another instance to a socket this instance holds (through the bus)", async () => {
    const bus = new LocalEventBus();
    const store = new FileConversationStore({ dir: path.join(dataDir, 'webchat') });
    const make = async (name: string) => {
      const server = createServer({ logger: silentLogger });
      const adapter = new WebChatAdapter({ secret: TEST_SECRET, store, bus, inbox: new FileChannelJournal(path.join(dataDir, name)), logger: silentLogger });
      adapter.mount(server, async () => undefined);
      const http = await listen(server);
      return { adapter, http, domain: `${http.url}/v3/directline` };
    };
    const a = await make('a');
    const b = await make('b');
    try {
      const generated = a.adapter.generateToken();
      const started = (await (await fetch(`${a.domain}/conversations`, { method: 'POST', headers: { Authorization: `Bearer ${generated.token}` } })).json()) as { streamUrl: string };
      const ws = new WebSocket(started.streamUrl);
      const texts: string[] = [];
      ws.on('message', (d) => {
        const s = d.toString();
        if (s) for (const x of JSON.parse(s).activities) texts.push(x.text);
      });
      await new Promise((r) => ws.once('open', r));
      const reference: Partial<ConversationReference> = { channelId: 'webchat', conversation: { id: generated.conversationId } as any, serviceUrl: b.domain };
      await b.adapter.continueConversationAsync('app', reference, async (ctx) => void (await ctx.sendActivity('Hi, Maria here (instance B)')));
      await until(() => texts.includes('Hi, Maria here (instance B)'));
      ws.close();
    } finally {
      await a.adapter.close();
      await b.adapter.close();
      await a.http.close();
      await b.http.close();
    }
  });
});
