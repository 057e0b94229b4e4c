import { expect } from 'chai';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChannelJournal, DEDUPE_RETENTION_MS } from '../../adapters/shared/journal.js';
import { makeRig, settle, APP_SECRET, type Rig } from './helpers.js';
import { signBody } from '../../adapters/shared/verify.js';

const item = (id: string, conv = 'c1', at = 1000) => ({ id, conversationId: conv, at, activity: { text: id }, opensWindow: true });

describe('ChannelJournal (durable inbox)', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'journal-'))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('keeps dedupe keys, pending messages and windows across a reopen, and survives a torn last line', async () => {
    const j = new ChannelJournal(dir, () => 5000);
    await j.open();
    expect((await j.accept([item('a'), item('b'), item('a')])).map((i) => i.id)).to.deep.equal(['a', 'b']);
    await j.done('a');
    await j.close();
    await appendFile(join(dir, 'journal.jsonl'), '{"t":"in","id":"torn');
    const k = new ChannelJournal(dir, () => 6000);
    await k.open();
    expect(k.isDuplicate('a')).to.equal(true);
    expect(k.pendingItems().map((i) => i.id)).to.deep.equal(['b']);
    expect(k.lastCustomerMessageAt('c1')).to.equal(1000);
    expect((await k.accept([item('a')]))).to.have.length(0);
    await k.close();
  });

  it('compacts itself while running once enough was appended, keeping every fact', async () => {
    const j = new ChannelJournal(dir, () => 5000, 2000);
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
    const k = new ChannelJournal(dir, () => 6000);
    await k.open();
    expect(k.isDuplicate('m0')).to.equal(true);
    expect(k.pendingItems().map((i) => i.id)).to.deep.equal(['left-pending']);
    expect(k.lastCustomerMessageAt('c0')).to.equal(5039);
    expect(await readFile(join(dir, 'journal.jsonl'), 'utf8')).to.include('"t":"unparsed"');
    await k.close();
  });

  it('keeps every send of a turn exactly once when it is recorded while the journal compacts itself, and after a crash', async () => {
    const j = new ChannelJournal(dir, () => 5000, 2000);
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
        await j.recordOutbound('c1', `out${sends}`, { inbound: 'q', n: sends, h: `h${sends}`, activity: { type: 'message', text: `reply ${sends}` } });
        await new Promise((r) => setTimeout(r, 1)); // the next Graph call
      }
    })();
    await Promise.all([inbox, turn]);
    // A crash now: a new process reads the file without this one closing it.
    const k = new ChannelJournal(dir, () => 6000);
    await k.open();
    expect(k.pendingItems().map((i) => i.id)).to.deep.equal(['q']);
    expect(k.sentInTurn('q').map((s) => s.mids)).to.deep.equal(Array.from({ length: sends }, (_, n) => [`out${n}`]));
    await k.close();
    await j.close();
  });

  it('forgets dedupe keys after the retention period when compacting', async () => {
    const j = new ChannelJournal(dir, () => 1000);
    await j.open();
    await j.accept([item('old')]);
    await j.done('old');
    await j.close();
    const k = new ChannelJournal(dir, () => 1000 + DEDUPE_RETENTION_MS + 1);
    await k.open();
    expect(k.isDuplicate('old')).to.equal(false);
    expect(k.lastCustomerMessageAt('c1')).to.equal(1000);
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
