import { expect } from 'chai';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ActivityTypes, TestAdapter, TranscriptLoggerMiddleware, type Activity } from 'botbuilder';
import { fixedClock } from '../../src/clock.js';
import { LowdbTranscriptStore, StorageUnavailableError } from '../../src/storage/index.js';
import { message } from '../contracts/transcript-store.contract.js';
import { listFiles, tempDir } from './helpers.js';

/** A bot or agent reply to `user-1`. */
function reply(channelId: string, conversationId: string, id: string, seconds: number, agent = false): Activity {
  const a = message(channelId, conversationId, id, seconds);
  a.from = { id: 'bot', name: 'Bot', role: 'bot' };
  a.recipient = { id: 'user-1', name: 'Customer' };
  if (agent) {
    a.from = { id: 'bot', name: 'Bot' };
    a.channelData = { switchboard: { agent: { agentId: 'ag1', agentName: 'Sam' } } };
  }
  return a;
}

describe('LowdbTranscriptStore', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('sb-transcripts-')));
  afterEach(() => remove());

  it('records both sides of a TestAdapter conversation through TranscriptLoggerMiddleware', async () => {
    const store = new LowdbTranscriptStore({ dir });
    const adapter = new TestAdapter(async (context) => {
      await context.sendActivity(`you said ${context.activity.text}`);
    }).use(new TranscriptLoggerMiddleware(store));
    await adapter.send('hello').assertReply('you said hello').send('bye').assertReply('you said bye').startTest();
    const { conversation, channelId } = adapter.conversation;
    const expected = [
      ['user', 'hello'],
      ['bot', 'you said hello'],
      ['user', 'bye'],
      ['bot', 'you said bye'],
    ];
    // The middleware does not await its logs; reads from the same store queue behind them.
    const { items } = await store.getTranscriptActivities(channelId!, conversation.id);
    expect(items.map((a) => [a.from.role ?? 'bot', a.text])).to.deep.equal(expected);
    const reopened = await new LowdbTranscriptStore({ dir }).getTranscriptActivities(channelId!, conversation.id);
    expect(reopened.items.map((a) => [a.from.role ?? 'bot', a.text])).to.deep.equal(expected);
    expect((await store.listTranscripts(channelId!)).items.map((t) => t.id)).to.deep.equal([conversation.id]);
    expect((await store.listTranscriptsOfUser(channelId!, adapter.conversation.user!.id)).map((t) => t.id)).to.deep.equal([conversation.id]);
  });

  it('keeps every one of many unawaited logs to one conversation, in call order', async () => {
    const store = new LowdbTranscriptStore({ dir });
    const pending = Array.from({ length: 100 }, (_, i) => store.logActivity(message('test', 'busy', `m${i}`, 0)));
    const all = await store.readTranscript('test', 'busy'); // queued behind the logs
    expect(all.map((a) => a.id)).to.deep.equal(Array.from({ length: 100 }, (_, i) => `m${i}`));
    await Promise.all(pending);
  });

  it('stores a copy taken at call time, so later changes to the activity are not recorded', async () => {
    const store = new LowdbTranscriptStore({ dir });
    const a = message('test', 'c1', 'm1', 1, 'original');
    const logged = store.logActivity(a);
    a.text = 'changed';
    await logged;
    expect((await store.readTranscript('test', 'c1'))[0].text).to.equal('original');
  });

  it('stamps activities logged without a timestamp with the clock', async () => {
    const store = new LowdbTranscriptStore({ dir, clock: fixedClock('2026-12-01T09:00:00Z') });
    const a = message('test', 'c1', 'm1', 0);
    delete a.timestamp;
    await store.logActivity(a);
    expect((await store.readTranscript('test', 'c1'))[0].timestamp).to.deep.equal(new Date('2026-12-01T09:00:00Z'));
  });

  it('appends one line to one conversation file and never touches the others', async () => {
    const store = new LowdbTranscriptStore({ dir });
    await store.logActivity(message('test', 'quiet', 'q', 1));
    await store.logActivity(message('test', 'busy', 'b0', 1));
    const quiet = await stat(store.conversationFile('test', 'quiet'));
    for (let i = 1; i <= 5; i++) await store.logActivity(message('test', 'busy', `b${i}`, 1 + i));
    const after = await stat(store.conversationFile('test', 'quiet'));
    expect([after.ino, after.mtimeMs, after.size]).to.deep.equal([quiet.ino, quiet.mtimeMs, quiet.size]);
    const lines = (await readFile(store.conversationFile('test', 'busy'), 'utf8')).trimEnd().split('\n');
    expect(lines).to.have.length(6);
  });

  it('lays out odd channel and conversation ids as safe file names', async () => {
    const store = new LowdbTranscriptStore({ dir });
    const odd = ['a/b/../c', 'ünï 🔑', 'x'.repeat(3000), 'Case', 'case'];
    for (const [i, id] of odd.entries()) await store.logActivity(message('Web/Chat', id, `m${i}`, i));
    for (const f of await listFiles(dir)) expect(f).to.match(/^transcripts\/x-[0-9a-f]{32}\/(conversations\.jsonl|[cu]\/[0-9a-f]{2}\/[0-9a-f]{64}\.jsonl)$/);
    for (const [i, id] of odd.entries()) expect((await store.readTranscript('Web/Chat', id)).map((a) => a.id)).to.deep.equal([`m${i}`]);
    expect((await store.listTranscripts('Web/Chat')).items.map((t) => t.id)).to.deep.equal(odd);
  });

  it('skips a line torn by a crash and starts the next activity on a fresh line', async () => {
    const store = new LowdbTranscriptStore({ dir });
    await store.logActivity(message('test', 'c1', 'before', 1));
    await appendFile(store.conversationFile('test', 'c1'), '{"type":"message","id":"torn","te');
    const restarted = new LowdbTranscriptStore({ dir });
    await restarted.logActivity(message('test', 'c1', 'after', 2));
    expect((await restarted.readTranscript('test', 'c1')).map((a) => a.id)).to.deep.equal(['before', 'after']);
  });

  it('finds all conversations of one customer in a channel, without the bot or agent as customers', async () => {
    const store = new LowdbTranscriptStore({ dir });
    await store.logActivity(message('webchat', 'first', 'a', 1));
    await store.logActivity(reply('webchat', 'first', 'b', 2));
    const other = message('webchat', 'someone-else', 'c', 3);
    other.from = { id: 'user-2', name: 'Other', role: 'user' };
    await store.logActivity(other);
    await store.logActivity(reply('webchat', 'second', 'd', 4, true)); // an agent writes first
    await store.logActivity(message('webchat', 'second', 'e', 5));
    await store.logActivity(message('messenger', 'elsewhere', 'f', 6));
    expect((await store.listTranscriptsOfUser('webchat', 'user-1')).map((t) => t.id)).to.deep.equal(['first', 'second']);
    expect((await store.listTranscriptsOfUser('webchat', 'user-2')).map((t) => t.id)).to.deep.equal(['someone-else']);
    expect(await store.listTranscriptsOfUser('webchat', 'bot')).to.deep.equal([]);
    await store.deleteTranscript('webchat', 'first');
    expect((await new LowdbTranscriptStore({ dir }).listTranscriptsOfUser('webchat', 'user-1')).map((t) => t.id)).to.deep.equal(['second']);
  });

  it('indexes a customer once per conversation, across restarts', async () => {
    await new LowdbTranscriptStore({ dir }).logActivity(message('test', 'c1', 'a', 1));
    const again = new LowdbTranscriptStore({ dir });
    await again.logActivity(message('test', 'c1', 'b', 2));
    const lines = (await readFile(again.customerIndexFile('test', 'user-1'), 'utf8')).trimEnd().split('\n');
    expect(lines).to.have.length(1);
    expect(JSON.parse(lines[0]).id).to.equal('c1');
  });

  it('lists a conversation again after it is deleted and started anew', async () => {
    const store = new LowdbTranscriptStore({ dir });
    await store.logActivity(message('test', 'c1', 'a', 1));
    await store.deleteTranscript('test', 'c1');
    await store.logActivity(message('test', 'c1', 'b', 9));
    const { items } = await new LowdbTranscriptStore({ dir }).listTranscripts('test');
    expect(items.map((t) => [t.id, t.created.toISOString()])).to.deep.equal([['c1', new Date(Date.parse('2026-11-01T10:00:09Z')).toISOString()]]);
    expect((await store.readTranscript('test', 'c1')).map((a) => a.id)).to.deep.equal(['b']);
  });

  it('keeps the conversation list it has read up to date with its own new and deleted conversations', async () => {
    const store = new LowdbTranscriptStore({ dir });
    await store.logActivity(message('test', 'c1', 'a', 1));
    expect((await store.listTranscripts('test')).items.map((t) => t.id)).to.deep.equal(['c1']);
    await store.logActivity(message('test', 'c2', 'b', 2));
    await store.logActivity(message('test', 'c1', 'c', 3));
    expect((await store.listTranscripts('test')).items.map((t) => t.id)).to.deep.equal(['c1', 'c2']);
    await store.deleteTranscript('test', 'c1');
    expect((await store.listTranscripts('test')).items.map((t) => t.id)).to.deep.equal(['c2']);
    expect((await new LowdbTranscriptStore({ dir }).listTranscripts('test')).items.map((t) => t.id)).to.deep.equal(['c2']);
  });

  it('tolerates a torn line in the conversation index', async () => {
    const store = new LowdbTranscriptStore({ dir });
    await store.logActivity(message('test', 'c1', 'a', 1));
    await appendFile(store.channelIndexFile('test'), '{"id":"c');
    await store.logActivity(message('test', 'c2', 'b', 2));
    expect((await store.listTranscripts('test')).items.map((t) => t.id)).to.deep.equal(['c1', 'c2']);
  });

  it('pages through repeated activity ids (a message and its update) without going back', async () => {
    const store = new LowdbTranscriptStore({ dir });
    for (let i = 0; i < 45; i++) await store.logActivity(message('test', 'c1', i < 30 ? 'same-id' : `m${i}`, i, `t${i}`));
    const texts: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.getTranscriptActivities('test', 'c1', token);
      texts.push(...page.items.map((a) => a.text!));
      token = page.continuationToken;
    } while (token && ++pages < 10);
    expect(texts).to.deep.equal(Array.from({ length: 45 }, (_, i) => `t${i}`));
  });

  it('also accepts a plain activity id as continuation token, as botbuilder does', async () => {
    const store = new LowdbTranscriptStore({ dir });
    for (let i = 0; i < 5; i++) await store.logActivity(message('test', 'c1', `m${i}`, i));
    expect((await store.getTranscriptActivities('test', 'c1', 'm2')).items.map((a) => a.id)).to.deep.equal(['m3', 'm4']);
  });

  it('pages with the page size it is given', async () => {
    const store = new LowdbTranscriptStore({ dir, pageSize: 2 });
    for (let i = 0; i < 3; i++) await store.logActivity({ ...message('test', 'c1', `m${i}`, i), type: ActivityTypes.Message });
    const first = await store.getTranscriptActivities('test', 'c1');
    expect(first.items.map((a) => a.id)).to.deep.equal(['m0', 'm1']);
    expect((await store.getTranscriptActivities('test', 'c1', first.continuationToken)).items.map((a) => a.id)).to.deep.equal(['m2']);
  });

  it('reports an unwritable data folder as StorageUnavailableError when logging', async () => {
    await writeFile(path.join(dir, 'transcripts'), 'a file where the transcripts folder should be');
    const err = await new LowdbTranscriptStore({ dir }).logActivity(message('test', 'c1', 'm', 1)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(StorageUnavailableError);
    expect((err as Error).message).to.match(/^LowdbTranscriptStore: cannot use .*transcripts/);
  });

  it('rejects an activity without channel or conversation', async () => {
    const store = new LowdbTranscriptStore({ dir });
    const a = message('test', 'c1', 'm', 1) as Partial<Activity>;
    delete a.conversation;
    let failed = false;
    await store.logActivity(a as Activity).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(await listFiles(dir)).to.deep.equal([]);
  });
});
