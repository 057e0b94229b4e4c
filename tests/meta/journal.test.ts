import { expect } from 'chai';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileChannelJournal } from '../../src/engine/file-journal.js';
import { DEDUPE_RETENTION_MS } from '../../src/engine/inbox.js';
import { makeRig, settle, APP_SECRET, type Rig } from './helpers.js';
import { signBody } from '../../adapters/shared/verify.js';

const item = (id: string, conv = 'c1', at = 1000) => ({ id, conversationId: conv, at, activity: { id, text: id }, opensWindow: true });

describe('FileChannelJournal (durable inbox)', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'journal-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('keeps dedupe keys, pending messages and windows across a reopen, and survives a torn last line', async () => {
    const j = new FileChannelJournal(dir, () => 5000);
    await j.open();
    expect((await j.accept([item('a'), item('b'), item('a')])).map((r) => r.fresh)).to.deep.equal([true, true, false]);
    await j.done('a');
    await j.close();
    await appendFile(join(dir, 'journal.jsonl'), '{"t":"in","id":"torn');
    const k = new FileChannelJournal(dir, () => 6000);
    await k.open();
    expect((await k.pendingConversations()).length).to.equal(1);
    expect((await k.nextPending('c1'))?.id).to.equal('b');
    expect(await k.lastCustomerMessageAt('c1')).to.equal(1000);
    expect(await k.accept([item('a')])).to.deep.equal([{ fresh: false, activityId: 'a' }]);
    await k.close();
  });

  it('compacts itself while running once enough was appended, keeping every fact', async () => {
    const j = new FileChannelJournal(dir, () => 5000, 2000);
    await j.open();
    for (let i = 0; i < 40; i++) {
      await j.accept([item(`m${i}`, `c${i % 3}`, 5000 + i)]);
      await j.done(`m${i}`);
    }
    await j.accept([item('left-pending', 'c9', 9000)]);
    await j.recordUnparsed('{"odd":true}', 'unknown shape');
    await j.close();
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(text.split('"t":"done"').length - 1).to.be.lessThan(10); // compaction dropped most done markers
    const k = new FileChannelJournal(dir, () => 6000);
    await k.open();
    expect((await k.accept([item('m0')]))[0]!.fresh).to.equal(false);
    expect(await k.pendingConversations()).to.deep.equal(['c9']);
    expect((await k.nextPending('c9'))?.id).to.equal('left-pending');
    expect(await k.lastCustomerMessageAt('c0')).to.equal(5039);
    expect(await readFile(join(dir, 'journal.jsonl'), 'utf8')).to.include('"t":"unparsed"');
    await k.close();
  });

  it('keeps every send of a turn exactly once when it is recorded while the journal compacts itself, and after a crash', async () => {
    const j = new FileChannelJournal(dir, () => 5000, 2000);
    await j.open();
    await j.accept([item('q', 'c1')]);
    // Webhooks keep the journal busy (and compacting) while a long turn records its sends one by one.
    let inboxDone = false;
    const inbox = (async () => {
      for (let i = 0; i < 60; i++) {
        await j.accept([item(`m${i}`, `c${(i % 3) + 2}`, 5000 + i)]);
        await j.done(`m${i}`);
      }
      inboxDone = true;
    })();
    let sends = 0;
    const turn = (async () => {
      for (; sends < 45 && !inboxDone; sends++) {
        await j.recordSend('q', { n: sends, h: `h${sends}`, ids: [`out${sends}`], at: 5000, activity: { type: 'message', text: `reply ${sends}` } });
        await new Promise((r) => setTimeout(r, 1)); // the next Graph call
      }
    })();
    await Promise.all([inbox, turn]);
    // A crash now: a new process reads the file without this one closing it.
    const k = new FileChannelJournal(dir, () => 6000);
    await k.open();
    expect((await k.nextPending('c1'))?.id).to.equal('q');
    expect((await k.sentInTurn('q')).map((s) => s.ids)).to.deep.equal(Array.from({ length: sends }, (_, n) => [`out${n}`]));
    await k.close();
    await j.close();
  });

  it('reads a journal written before the turn engine: pending messages, their sends and statuses carry over', async () => {
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    const lines = [
      { t: 'in', id: 'mid.1', conv: 'p1', at: 1000, activity: { id: 'mid.1', text: 'hi' }, win: true },
      { t: 'out', conv: 'p1', mid: 'out.1', at: 1100, in: 'mid.1', n: 0, h: 'abc', a: { type: 'message', text: 'part 1' } },
      { t: 'out', conv: 'p1', mid: 'out.2', at: 1100, in: 'mid.1', n: 0, h: 'abc', a: { type: 'message', text: 'part 1' } },
      { t: 'status', mid: 'out.1', status: 'read', at: 1200 },
      { t: 'seen', id: 'mid.0', at: 900 },
    ];
    await writeFile(join(dir, 'journal.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const j = new FileChannelJournal(dir, () => 2000);
    await j.open();
    expect((await j.nextPending('p1'))?.id).to.equal('mid.1');
    expect((await j.sentInTurn('mid.1')).map((s) => s.ids)).to.deep.equal([['out.1', 'out.2']]);
    expect(await j.statusOf('out.1')).to.equal('read');
    expect((await j.accept([item('mid.0')]))[0]!.fresh).to.equal(false);
    await j.close();
    const k = new FileChannelJournal(dir, () => 3000); // after its own compaction, in the new format
    await k.open();
    expect((await k.sentInTurn('mid.1')).map((s) => s.ids)).to.deep.equal([['out.1', 'out.2']]);
    expect(await k.lastCustomerMessageAt('p1')).to.equal(1000);
    await k.close();
  });

  it('forgets dedupe keys after the retention period when compacting', async () => {
    const j = new FileChannelJournal(dir, () => 1000);
    await j.open();
    await j.accept([item('old')]);
    await j.done('old');
    await j.close();
    const k = new FileChannelJournal(dir, () => 1000 + DEDUPE_RETENTION_MS + 1);
    await k.open();
    expect((await k.accept([item('old')]))[0]!.fresh).to.equal(true);
    expect(await k.lastCustomerMessageAt('c1')).to.equal(1000);
    await k.close();
  });
});

describe('Meta webhook bodies we do not understand', () => {
  let rig: Rig;
  afterEach(async () => rig.close());

  it('keeps a signed but unknown body in the journal and answers 200 so Meta keeps the webhook on', async () => {
    rig = await makeRig();
    const raw = JSON.stringify({ object: 'page', entry: [{ unexpected: true }] });
    const res = await fetch(`${rig.url}/webhooks/messenger`, { method: 'POST', headers: { 'x-hub-signature-256': signBody(raw, APP_SECRET) }, body: raw });
    expect(res.status).to.equal(200);
    await settle(rig);
    expect(rig.turns).to.have.length(0);
    const journal = await readFile(join(rig.dataDir, 'messenger', 'journal.jsonl'), 'utf8');
    expect(journal).to.include('"t":"unparsed"');
  });

  it('answers 400 to a signed body that is not JSON', async () => {
    rig = await makeRig();
    expect((await rig.post('whatsapp', 'not json')).status).to.equal(400);
  });
});
