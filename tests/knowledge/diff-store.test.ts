/**
 * The saved customer questions `kb diff` replays, on both backends (files in a temp DATA_DIR, and
 * PostgreSQL), and the bot's recorder that never makes a reply wait for them.
 */
import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import type { Logger } from '../../src/log.js';
import {
  FileQuestionsStore,
  MAX_QUESTION_CHARS,
  QuestionRecorder,
  type AskedQuestion,
  type QuestionOutcome,
  type QuestionsStore,
} from '../../src/knowledge/questions-store.js';
import { PgQuestionsStore } from '../../src/storage/postgres/questions-store.js';
import type { Decision } from '../../src/knowledge/types.js';
import { usePostgres } from '../helpers/postgres.js';

const PAY: QuestionOutcome = { kind: 'answer', entryIds: ['billing/pay-bill'], confidence: 0.91 };
const SUGGEST: QuestionOutcome = { kind: 'suggest', entryIds: ['billing/pay-bill', 'billing/due-date'], confidence: 0.42 };
const asked = (text: string, at: string, channel = 'webchat', outcome: QuestionOutcome = PAY): AskedQuestion => ({ text, channel, locale: 'en', outcome, at });

/** What every questions store does; `open(max)` gives an empty store with that cap. */
function questionsStoreContract(open: (max?: number) => Promise<QuestionsStore>) {
  let store: QuestionsStore;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(async () => store.close());

  it('keeps one record per question whatever its case, accents and punctuation, with count, channels, first and last seen', async () => {
    await store.record(asked('How do I pay my bill?', '2026-11-01T10:00:00.000Z'));
    await store.record(asked('how do i pay my  bill', '2026-11-03T10:00:00.000Z', 'whatsapp', SUGGEST));
    await store.record(asked('HOW DO I PAY MY BILL!!', '2026-11-02T10:00:00.000Z', 'messenger'));
    await store.record(asked('Où est mon colis ?', '2026-11-02T11:00:00.000Z'));
    await store.record(asked('ou est mon colis', '2026-11-02T12:00:00.000Z'));
    const list = await store.list();
    expect(list).to.have.length(2);
    const [bill, parcel] = list;
    // The latest asking gives the text, context and outcome; an older one arriving later only counts.
    expect(bill).to.deep.equal({
      key: 'how do i pay my bill',
      text: 'how do i pay my bill',
      channel: 'whatsapp',
      locale: 'en',
      channels: ['messenger', 'webchat', 'whatsapp'],
      outcome: SUGGEST,
      count: 3,
      firstAt: '2026-11-01T10:00:00.000Z',
      lastAt: '2026-11-03T10:00:00.000Z',
    });
    expect(parcel).to.include({ key: 'ou est mon colis', count: 2, text: 'ou est mon colis' });
  });

  it('lists the most asked first, then the most recently asked', async () => {
    await store.record(asked('once, long ago', '2026-10-01T00:00:00.000Z'));
    await store.record(asked('once, lately', '2026-11-05T00:00:00.000Z'));
    for (const day of ['01', '02']) await store.record(asked('twice', `2026-11-${day}T00:00:00.000Z`));
    expect((await store.list()).map((q) => q.text)).to.deep.equal(['twice', 'once, lately', 'once, long ago']);
    expect((await store.list(1)).map((q) => q.text)).to.deep.equal(['twice']);
  });

  it(`cuts a pasted page to ${MAX_QUESTION_CHARS} characters at a word and ignores text with no words`, async () => {
    await store.record(asked(`refund ${'please '.repeat(500)}`, '2026-11-01T00:00:00.000Z'));
    await store.record(asked('?!  …', '2026-11-01T00:00:00.000Z'));
    const [q, ...rest] = await store.list();
    expect(rest).to.deep.equal([]);
    expect(q!.text.length).to.be.at.most(MAX_QUESTION_CHARS).and.above(MAX_QUESTION_CHARS - 10);
    expect(q!.text).to.match(/^refund (please )+please$/);
  });

  it('keeps at most its cap: the most asked, then the most recent', async () => {
    const capped = await open(3);
    try {
      for (let i = 0; i < 3; i++) await capped.record(asked('popular', `2026-11-0${i + 1}T00:00:00.000Z`));
      for (let i = 0; i < 12; i++) await capped.record(asked(`rare question ${i}`, `2026-11-10T00:00:${String(i).padStart(2, '0')}.000Z`));
      if (capped instanceof PgQuestionsStore) await capped.prune();
      expect((await capped.list()).map((q) => q.text)).to.deep.equal(['popular', 'rare question 11', 'rare question 10']);
    } finally {
      await capped.close();
    }
  });

  it('erases the questions not asked since a day (retention)', async () => {
    await store.record(asked('old', '2026-01-01T00:00:00.000Z'));
    await store.record(asked('new', '2026-11-01T00:00:00.000Z'));
    expect(await store.deleteOlderThan(new Date('2026-06-01T00:00:00.000Z'))).to.equal(1);
    expect((await store.list()).map((q) => q.text)).to.deep.equal(['new']);
  });
}

describe('saved customer questions', function () {
  this.timeout(30_000);

  describe('in files (DATA_DIR/questions)', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'kb-questions-'));
    });
    afterEach(async () => rm(dir, { recursive: true, force: true }));

    questionsStoreContract((max) => FileQuestionsStore.open(dir, { max }));

    it('appends one line per asking (never rewriting what is stored), and folds and compacts the log when reopened', async () => {
      const file = path.join(dir, 'questions', 'questions.jsonl');
      const store = await FileQuestionsStore.open(dir);
      for (let i = 0; i < 10; i++) await store.record(asked(i % 2 ? 'Can I pay by card?' : 'can i pay by card', `2026-11-01T00:00:0${i}.000Z`));
      await store.close();
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(lines).to.have.length(10);
      expect(JSON.parse(lines[0]!)).to.include({ op: 'asked', text: 'can i pay by card' });

      const reopened = await FileQuestionsStore.open(dir);
      expect((await reopened.list())[0]).to.include({ count: 10, text: 'Can I pay by card?', lastAt: '2026-11-01T00:00:09.000Z' });
      await reopened.close();
      const compacted = (await readFile(file, 'utf8')).trim().split('\n');
      expect(compacted).to.have.length(1);
      expect(JSON.parse(compacted[0]!)).to.include({ op: 'saved', count: 10 });
      const again = await FileQuestionsStore.open(dir, { readOnly: true });
      expect((await again.list())[0]).to.include({ count: 10 });
    });

    it('loses and doubles nothing recorded while an erasure rewrites the log', async () => {
      const store = await FileQuestionsStore.open(dir);
      await store.record(asked('old', '2026-01-01T00:00:00.000Z'));
      const writes = Array.from({ length: 30 }, (_, i) => store.record(asked(`question ${i % 3}`, `2026-11-01T00:00:${String(i).padStart(2, '0')}.000Z`)));
      const erased = store.deleteOlderThan(new Date('2026-06-01T00:00:00.000Z'));
      writes.push(...Array.from({ length: 30 }, (_, i) => store.record(asked(`question ${i % 3}`, `2026-11-02T00:00:${String(i).padStart(2, '0')}.000Z`))));
      await Promise.all([...writes, erased]);
      await store.close();
      const reopened = await FileQuestionsStore.open(dir);
      expect((await reopened.list()).map((q) => [q.text, q.count])).to.deep.equal([
        ['question 2', 20],
        ['question 1', 20],
        ['question 0', 20],
      ]);
      await reopened.close();
    });

    it('skips a torn last line left by a crash', async () => {
      const store = await FileQuestionsStore.open(dir);
      await store.record(asked('kept', '2026-11-01T00:00:00.000Z'));
      await store.close();
      const { appendFile } = await import('node:fs/promises');
      await appendFile(path.join(dir, 'questions', 'questions.jsonl'), '{"op":"asked","text":"tor');
      const reopened = await FileQuestionsStore.open(dir);
      expect((await reopened.list()).map((q) => q.text)).to.deep.equal(['kept']);
      await reopened.record(asked('after the crash', '2026-11-02T00:00:00.000Z'));
      await reopened.close();
      expect((await (await FileQuestionsStore.open(dir)).list()).map((q) => q.text)).to.deep.equal(['after the crash', 'kept']);
    });
  });

  describe('in PostgreSQL (kb_questions)', () => {
    const pg = usePostgres();
    beforeEach(async () => {
      await pg.db.query('DELETE FROM kb_questions');
    });
    questionsStoreContract(async (max) => new PgQuestionsStore(pg.db, { max }));

    it('counts the same question asked on two instances at once', async () => {
      const a = new PgQuestionsStore(pg.db);
      const b = new PgQuestionsStore(pg.db);
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).record(asked('where is my order', `2026-11-01T00:00:${String(i).padStart(2, '0')}.000Z`))));
      expect((await a.list())[0]).to.include({ count: 20, lastAt: '2026-11-01T00:00:19.000Z', firstAt: '2026-11-01T00:00:00.000Z' });
    });
  });

  describe('the recorder in the bot', () => {
    const decision: Decision = { kind: 'none', matches: [] };

    it('returns at once, while the store is still writing, and the write completes behind the reply', async () => {
      let finish!: () => void;
      const record = sinon.fake((_asked: AskedQuestion) => new Promise<void>((resolve) => (finish = resolve)));
      const recorder = new QuestionRecorder({ record });
      recorder.record('do you sell gift cards', decision, { channel: 'messenger', locale: 'en', now: new Date('2026-11-01T00:00:00Z') });
      expect(record.calledOnce).to.equal(true);
      expect(record.firstCall.args[0]).to.deep.equal({
        text: 'do you sell gift cards',
        channel: 'messenger',
        locale: 'en',
        outcome: { kind: 'miss', entryIds: [], confidence: 0 },
        at: '2026-11-01T00:00:00.000Z',
      });
      let flushed = false;
      const flushing = recorder.flush().then(() => (flushed = true));
      await new Promise((r) => setImmediate(r));
      expect(flushed).to.equal(false);
      finish();
      await flushing;
    });

    it('logs a failed write instead of failing the turn', async () => {
      const warn = sinon.fake();
      const logger = { warn, info() {}, debug() {}, error() {}, child: () => logger } as unknown as Logger;
      const recorder = new QuestionRecorder({ record: () => Promise.reject(new Error('disk full')) }, { logger });
      expect(() => recorder.record('anything', decision, { channel: 'webchat' })).to.not.throw();
      await recorder.flush();
      expect(warn.calledOnceWith('could not save a customer question', { error: 'disk full' })).to.equal(true);
    });
  });
});
