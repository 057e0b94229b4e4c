/**
 * The server's after-reload diff (ReloadDiffs) on a KnowledgeBase over a copy of the sample knowledge,
 * reloaded by hand: what each edit changed for the saved questions, computed while timers keep firing.
 */
import { expect } from 'chai';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KnowledgeBase } from '../../src/knowledge/knowledge-base.js';
import { FileQuestionsStore, type SavedQuestion } from '../../src/knowledge/questions-store.js';
import { ReloadDiffs, type ReloadChanges } from '../../src/knowledge/reload-diff.js';
import { KNOWLEDGE_DIR } from '../faults/helpers.js';
import { editKnowledge, saveAsked } from './diff-fixtures.js';

describe('the after-reload diff in the server', function () {
  this.timeout(60_000);
  let tmp: string;
  let dir: string;
  let kb: KnowledgeBase;
  let store: FileQuestionsStore;
  let diffs: ReloadDiffs;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'kb-reload-diff-'));
    dir = path.join(tmp, 'knowledge');
    await cp(KNOWLEDGE_DIR, dir, { recursive: true });
    store = await FileQuestionsStore.open(path.join(tmp, 'data'));
    await saveAsked(store, dir);
    kb = await KnowledgeBase.open(dir, { watch: false });
    diffs = new ReloadDiffs(kb, store);
  });
  afterEach(async () => {
    diffs.close();
    await kb.close();
    await store.close();
    await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
  });

  const next = () => new Promise<ReloadChanges>((resolve) => diffs.once('computed', resolve));
  const summary = (c: ReloadChanges) => c.changed.map((q) => [q.question.toLowerCase(), q.count, `${q.before.kind} ${q.before.entryIds[0] ?? ''}`.trim(), `${q.after.kind} ${q.after.entryIds[0] ?? ''}`.trim()]);

  it('keeps what each edit changed with the load it belongs to, and the reverse when the edit is undone', async () => {
    expect(diffs.latest(), 'nothing before the first edit').to.equal(undefined);
    const stolen = path.join(dir, 'sim', 'lost-stolen.md');
    const original = await readFile(stolen, 'utf8');

    let computed = next();
    await editKnowledge(dir);
    await kb.reload();
    const first = await computed;
    expect(first).to.include({ questions: 5, changedCount: 3, changedAsked: 6, loadedAt: kb.status().loadedAt });
    expect(summary(first)).to.deep.equal([
      ['can i pay by credit card', 3, 'answer billing/pay-bill', 'answer billing/pay-by-card'],
      ['someone stole my mobile', 2, 'answer sim/lost-stolen', 'miss'],
      ['block my sim', 1, 'answer sim/lost-stolen', 'suggest sim/activate-sim'],
    ]);

    computed = next();
    await rm(path.join(dir, 'billing', 'pay-by-card.md'));
    await writeFile(stolen, original);
    await kb.reload();
    const undone = await computed;
    expect(summary(undone)).to.deep.equal([
      ['can i pay by credit card', 3, 'answer billing/pay-by-card', 'answer billing/pay-bill'],
      ['someone stole my mobile', 2, 'miss', 'answer sim/lost-stolen'],
      ['block my sim', 1, 'suggest sim/activate-sim', 'answer sim/lost-stolen'],
    ]);
    expect(diffs.latest()).to.equal(undone);
  });

  it('does not hold up the event loop while it replays thousands of questions', async () => {
    const many: SavedQuestion[] = (await store.list()).flatMap((q) =>
      Array.from({ length: 400 }, (_, i) => ({ ...q, key: `${q.key} ${i}`, text: `${q.text} ${i % 2 ? 'please' : 'thanks'}` })),
    );
    diffs.close();
    diffs = new ReloadDiffs(kb, { list: async () => many });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const computed = next();
    await editKnowledge(dir);
    await kb.reload();
    const ticksAtSwap = ticks;
    const result = await computed;
    clearInterval(ticker);
    expect(result.questions).to.equal(2000);
    expect(result.changedCount).to.be.at.least(3);
    expect(result.changed.length, 'the console gets the most asked 50').to.equal(Math.min(50, result.changedCount));
    expect(ticks - ticksAtSwap, 'a 1 ms timer kept firing during the replay').to.be.at.least(5);
  });

  it('drops a replay still running when a newer edit arrives, and keeps the newer one', async () => {
    const seen: ReloadChanges[] = [];
    diffs.on('computed', (c) => seen.push(c));
    await editKnowledge(dir);
    void kb.reload();
    await writeFile(path.join(dir, 'billing', 'pay-by-card.md'), '---\nquestion: Apple Pay\nalternates: [apple pay]\n---\nYes.\n');
    await kb.reload();
    await diffs.settled();
    expect(seen.length).to.be.at.least(1);
    const last = seen.at(-1)!;
    expect(last.loadedAt).to.equal(kb.status().loadedAt);
    expect(diffs.latest()).to.equal(last);
  });
});
