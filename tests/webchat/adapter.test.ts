import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ActivityTypes, INVOKE_RESPONSE_KEY, MessageFactory, TurnContext, type ConversationReference } from 'botbuilder';
import { FileConversationStore, loadOrCreateDirectLineSecret, SECRET_FILE, WebChatConversationNotFoundError } from '../../adapters/webchat/index.js';
import { startWebChat } from './fixture.js';

type App = Awaited<ReturnType<typeof startWebChat>>;

/** The conversation's log as a polling client sees it. */
async function history(app: App, conversationId: string) {
  const { token } = (await (await fetch(`${app.domain}/tokens/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${tokens.get(conversationId)}` } })).json()) as { token: string };
  const page = await fetch(`${app.domain}/conversations/${conversationId}/activities`, { headers: { Authorization: `Bearer ${token}` } });
  return ((await page.json()) as { activities: any[] }).activities;
}
const tokens = new Map<string, string>();

/** Starts a conversation and posts one message; the bot logic under test sees it. */
async function converse(app: App, text: string): Promise<string> {
  const { conversationId, token } = app.adapter.generateToken();
  tokens.set(conversationId, token);
  await fetch(`${app.domain}/conversations/${conversationId}/activities`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'message', text }),
  });
  return conversationId;
}

async function eventually<T>(get: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 250; i++) {
    const v = await get();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met in time');
}

describe('WebChatAdapter as a botbuilder adapter', () => {
  let app: App | undefined;
  afterEach(async () => app?.close());

  it('waits for delay, keeps invokeResponse in turnState, drops trace and sends the rest', async () => {
    let seen: unknown;
    let responses: { id: string }[] = [];
    app = await startWebChat({
      logic: async (context) => {
        if (context.activity.type !== ActivityTypes.Message) return;
        const started = Date.now();
        responses = await context.sendActivities([
          { type: ActivityTypes.Trace, name: 'debug', value: 'hidden' },
          { type: 'delay', value: 120 },
          { type: ActivityTypes.InvokeResponse, value: { status: 200, body: { ok: true } } },
          MessageFactory.text('after the pause'),
        ]);
        seen = { waited: Date.now() - started, invoke: context.turnState.get(INVOKE_RESPONSE_KEY)?.value };
      },
    });
    const id = await converse(app, 'go');
    const activities = await eventually(() => history(app!, id), (a) => a.length >= 2);
    expect(activities.map((a) => a.text)).to.deep.equal(['go', 'after the pause']);
    expect(activities.some((a) => a.type === 'trace')).to.equal(false);
    expect((seen as any).waited).to.be.at.least(100);
    expect((seen as any).invoke).to.deep.equal({ status: 200, body: { ok: true } });
    expect(responses).to.have.length(4);
    expect(responses[3]!.id).to.equal(activities[1].id);
  });

  it('updates and deletes a sent activity by appending the new version under the same id', async () => {
    app = await startWebChat({
      logic: async (context) => {
        if (context.activity.type !== ActivityTypes.Message) return;
        const sent = await context.sendActivity('draft');
        await context.updateActivity({ ...MessageFactory.text('final'), id: sent!.id });
        const gone = await context.sendActivity('oops');
        await context.deleteActivity(gone!.id!);
      },
    });
    const id = await converse(app, 'go');
    const activities = await eventually(() => history(app!, id), (a) => a.length >= 5);
    const [, draft, final, oops, deleted] = activities;
    expect(final.id).to.equal(draft.id);
    expect(final.text).to.equal('final');
    expect(deleted).to.include({ type: 'messageDelete', id: oops.id });
  });

  it('continues a conversation from a stored reference (continueConversationAsync), as agent replies do', async () => {
    let reference: Partial<ConversationReference> | undefined;
    app = await startWebChat({
      logic: async (context) => {
        if (context.activity.type === ActivityTypes.Message) reference = TurnContext.getConversationReference(context.activity);
      },
    });
    const id = await converse(app, 'I need a human');
    await eventually(async () => reference, Boolean);
    await app.adapter.continueConversationAsync('ignored-app-id', reference!, async (context) => {
      await context.sendActivity({ text: 'Hi, this is Maria from support', channelData: { switchboard: { agent: { agentId: 'a1', agentName: 'Maria' } } } });
    });
    const activities = await history(app, id);
    expect(activities.at(-1)).to.deep.include({ text: 'Hi, this is Maria from support', channelData: { switchboard: { agent: { agentId: 'a1', agentName: 'Maria' } } } });
    expect(activities.at(-1).from).to.include({ role: 'bot', name: 'Maria' });

    let err: unknown;
    await app.adapter.continueConversationAsync('x', { ...reference!, conversation: { id: 'unknown-conversation' } as any }, async () => undefined).catch((e) => (err = e));
    expect(err).to.be.instanceOf(WebChatConversationNotFoundError);
  });

  it('runs middleware registered with use() on every turn', async () => {
    const types: string[] = [];
    app = await startWebChat();
    app.adapter.use(async (context, next) => {
      types.push(context.activity.type);
      await next();
    });
    await converse(app, 'hi');
    await eventually(async () => types.length, (n) => n >= 2);
    expect(types).to.deep.equal(['conversationUpdate', 'message']);
  });
});

describe('Direct Line secret and conversation files', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'webchat-files-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('generates a secret once, keeps it private in DATA_DIR, and prefers DIRECTLINE_SECRET when set', async () => {
    const first = await loadOrCreateDirectLineSecret(dir);
    const second = await loadOrCreateDirectLineSecret(dir);
    expect(first).to.have.length.greaterThan(31);
    expect(second).to.equal(first);
    expect((await stat(path.join(dir, SECRET_FILE))).mode & 0o777).to.equal(0o600);
    const configured = 'configured-secret-0123456789-abcdefghij';
    expect(await loadOrCreateDirectLineSecret(dir, configured)).to.equal(configured);
    await Promise.all([1, 2, 3].map(() => loadOrCreateDirectLineSecret(path.join(dir, 'race')))).then((all) => expect(new Set(all).size).to.equal(1));
    let err: unknown;
    await loadOrCreateDirectLineSecret(dir, 'short').catch((e) => (err = e));
    expect(String(err)).to.match(/DIRECTLINE_SECRET must be at least 32/);
  });

  it('cuts off a torn last line left by a crash and continues the log', async () => {
    const store = new FileConversationStore({ dir, tailSize: 2 });
    for (const text of ['a', 'b', 'c']) await store.append('conv1', (position) => ({ id: `conv1|${position}`, type: 'message', text }));
    await store.close();
    await appendFile(path.join(dir, 'conv1.jsonl'), '{"id":"conv1|3","type":"mess');

    const reopened = new FileConversationStore({ dir, tailSize: 2 });
    expect((await reopened.read('conv1', 0, 10)).activities.map((a) => a.text)).to.deep.equal(['a', 'b', 'c']);
    await reopened.append('conv1', (position) => ({ id: `conv1|${position}`, type: 'message', text: 'd' }));
    const page = await reopened.read('conv1', 1, 2);
    expect(page).to.deep.equal({ activities: [{ id: 'conv1|1', type: 'message', text: 'b' }, { id: 'conv1|2', type: 'message', text: 'c' }], watermark: 3 });
    expect((await readFile(path.join(dir, 'conv1.jsonl'), 'utf8')).trim().split('\n')).to.have.length(4);
    await reopened.close();
  });

  it('keeps a bounded number of conversations in memory and still answers for evicted ones', async () => {
    const store = new FileConversationStore({ dir, maxCachedConversations: 3 });
    for (let i = 0; i < 10; i++) await store.append(`c${i}`, () => ({ type: 'message', text: `m${i}` }));
    expect((store as unknown as { cache: Map<string, unknown> }).cache.size).to.be.at.most(3);
    expect((await store.read('c0', 0, 10)).activities.map((a) => a.text)).to.deep.equal(['m0']);
    await writeFile(path.join(dir, 'x.json'), '{}');
    let err: unknown;
    await store.read('../x', 0, 1).catch((e) => (err = e));
    expect((err as Error).name).to.equal('UnsafeConversationIdError');
    await store.close();
  });
});

describe('FileConversationStore open files', () => {
  it('keeps at most maxOpenFiles logs open and reopens a closed one on the next write', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'webchat-open-'));
    try {
      const store = new FileConversationStore({ dir, maxOpenFiles: 2 });
      for (let round = 0; round < 2; round++) {
        await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.append(id, () => ({ type: 'message', text: `${id}${round}` }))));
      }
      expect((store as unknown as { open: Map<string, unknown> }).open.size).to.be.at.most(2);
      await store.close();
      const reopened = new FileConversationStore({ dir });
      for (const id of ['a', 'b', 'c', 'd']) expect((await reopened.read(id, 0, 10)).activities.map((x) => x.text)).to.deep.equal([`${id}0`, `${id}1`]);
      await reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
