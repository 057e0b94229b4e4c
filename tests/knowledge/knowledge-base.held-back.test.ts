/**
 * A broken knowledge file holds back only itself: the other files' edits go live, its last good version
 * keeps serving, and the status says which file is held back and why — also across files (a duplicate
 * id, a follow-up to an entry that is gone) and across a restart, from the snapshot in DATA_DIR.
 * Reloads are triggered with `reload()` (no watcher), so every step is deterministic.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock } from '../../src/clock.js';
import { KnowledgeBase, KnowledgeLoadError } from '../../src/knowledge/knowledge-base.js';
import { SNAPSHOT_FILE } from '../../src/knowledge/snapshot.js';
import { createLogger, type Logger } from '../../src/log.js';

function md(question: string, answer: string, extra: string[] = []): string {
  return ['---', `question: ${question}`, ...extra, '---', answer, ''].join('\n');
}

/** A logger that keeps what it was told, to check what an operator reads. */
function recordingLogger(): Logger & { lines: { level: string; msg: string; [field: string]: unknown }[] } {
  const lines: { level: string; msg: string }[] = [];
  return Object.assign(createLogger('debug', 'test', (l) => lines.push(JSON.parse(l))), { lines });
}

describe('KnowledgeBase: a broken file holds back only itself', () => {
  const clock = fixedClock('2026-11-23T10:00:00Z');
  let dir: string;
  let dataDir: string;
  const open: KnowledgeBase[] = [];
  const write = (rel: string, text: string) => writeFile(path.join(dir, rel), text);
  const kbOpen = async (options: { snapshot?: boolean; logger?: Logger } = {}) => {
    const kb = await KnowledgeBase.open(dir, { clock, watch: false, logger: options.logger, snapshotDir: options.snapshot === false ? undefined : dataDir });
    open.push(kb);
    return kb;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kb-held-'));
    dataDir = await mkdtemp(path.join(tmpdir(), 'kb-held-data-'));
    await mkdir(path.join(dir, 'billing'));
    await write('billing/pay.md', md('How do I pay my bill?', 'Pay in the app.', ['follow_ups: [billing/due]']));
    await write('billing/due.md', md('When is my bill due?', 'On the 1st.'));
    await write('hello.md', md('Hello', 'Hi there!', ['tags: [smalltalk]']));
  });
  afterEach(async () => {
    for (const kb of open.splice(0)) await kb.close();
    await rm(dir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it("serves another editor's valid edit while one file is broken, keeps the broken file's last good version, and names it", async () => {
    const kb = await kbOpen();
    await write('billing/pay.md', md('How do I pay my bill?', 'Half-written', ['alternate: [pay]']));
    await write('hello.md', md('Hello', 'Hello from the second editor!'));
    const result = await kb.reload();

    expect(result.ok).to.equal(false);
    expect(kb.get('hello')?.answer, 'the other file went live').to.equal('Hello from the second editor!');
    expect(kb.get('billing/pay')?.answer, 'the broken file keeps its last good version').to.equal('Pay in the app.');
    const summary = kb.summary();
    expect(summary.status).to.equal('degraded');
    expect(summary.lastError).to.equal(
      "1 file held back, the other files' edits are live: billing/pay.md (its last good version is still served). " +
        '1 problem: billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)',
    );
    expect(summary.heldBack).to.deep.equal([
      { path: 'billing/pay.md', change: 'edited', serving: 'last good version', problems: ['billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)'] },
    ]);
    expect(summary.problems).to.deep.equal(['billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)']);
    expect(await kb.healthCheck().check()).to.include({ ok: true, degraded: true });

    await write('billing/pay.md', md('How do I pay my bill?', 'Fixed.'));
    expect((await kb.reload()).ok).to.equal(true);
    expect(kb.get('billing/pay')?.answer).to.equal('Fixed.');
    expect(kb.summary()).to.include({ status: 'ok' }).and.not.have.any.keys('lastError', 'heldBack', 'problems');
    expect(await kb.healthCheck().check()).to.not.have.property('degraded');
  });

  it('does not serve a new broken file, and says it is not served until fixed', async () => {
    const kb = await kbOpen();
    await write('roaming.md', 'question: no front matter here\n');
    await write('billing/due.md', md('When is my bill due?', 'On the 5th.'));
    await kb.reload();
    expect(kb.get('billing/due')?.answer).to.equal('On the 5th.');
    expect(kb.get('roaming')).to.equal(undefined);
    expect(kb.summary().heldBack).to.deep.equal([
      {
        path: 'roaming.md',
        change: 'added',
        serving: 'nothing',
        problems: ['roaming.md:1: missing front matter: start the file with a line "---", then "question: ..." and the other fields, then "---" and the answer'],
      },
    ]);
    expect(kb.summary().lastError).to.contain('roaming.md (not served until fixed)');
  });

  it('holds back a copy that took an existing id, naming both files, and serves the original', async () => {
    const kb = await kbOpen();
    await write('billing/pay-copy.md', md('How do I pay by card?', 'Copied.', ['id: billing/pay']));
    await write('hello.md', md('Hello', 'Hello again!'));
    await kb.reload();
    expect(kb.get('billing/pay')?.answer).to.equal('Pay in the app.');
    expect(kb.get('hello')?.answer).to.equal('Hello again!');
    expect(kb.summary().problems).to.deep.equal([
      'billing/pay-copy.md:3: duplicate id "billing/pay": already used by billing/pay.md:1 (give one of them another id)',
    ]);
    expect(kb.summary().heldBack?.map((h) => [h.path, h.serving])).to.deep.equal([['billing/pay-copy.md', 'nothing']]);
  });

  it('holds back an edit whose follow_ups name an entry that does not exist, serving the version before', async () => {
    const kb = await kbOpen();
    await write('billing/pay.md', md('How do I pay my bill?', 'Pay by card.', ['follow_ups: [billing/dew]']));
    await kb.reload();
    expect(kb.get('billing/pay')?.answer).to.equal('Pay in the app.');
    expect(kb.summary().problems).to.deep.equal(['billing/pay.md:3: follow_ups names unknown id "billing/dew" (did you mean "billing/due"?)']);
  });

  it('holds back the deletion of an entry another file follows up to, naming both, until that file lets go', async () => {
    const kb = await kbOpen();
    await unlink(path.join(dir, 'billing', 'due.md'));
    await kb.reload();
    expect(kb.get('billing/due')?.answer, 'still served: billing/pay.md offers it as a follow-up').to.equal('On the 1st.');
    expect(kb.summary().heldBack).to.deep.equal([
      {
        path: 'billing/due.md',
        change: 'deleted',
        serving: 'last good version',
        problems: ['billing/due.md:1: deleted, but billing/pay.md:3 follow_ups still names "billing/due" (remove it there, then the deletion goes live)'],
      },
    ]);
    expect(kb.summary().lastError).to.contain('billing/due.md (deletion held back: its last version is still served)');

    await write('billing/pay.md', md('How do I pay my bill?', 'Pay in the app.'));
    expect((await kb.reload()).ok).to.equal(true);
    expect(kb.get('billing/due')).to.equal(undefined);
    expect(kb.summary().status).to.equal('ok');
  });

  it('holds back only the deletion when several files name the deleted entry, one of them broken itself', async () => {
    await write('billing/late.md', md('I paid late', 'A fee applies.', ['follow_ups: [billing/due]']));
    const kb = await kbOpen();
    await write('billing/pay.md', md('How do I pay my bill?', 'x', ['alternate: [x]']));
    await unlink(path.join(dir, 'billing', 'due.md'));
    await kb.reload();
    expect(kb.get('billing/due')?.answer).to.equal('On the 1st.');
    expect(kb.get('billing/late')?.answer).to.equal('A fee applies.');
    expect(kb.get('billing/pay')?.answer).to.equal('Pay in the app.');
    expect(kb.summary().heldBack?.map((h) => [h.path, h.change, h.serving])).to.deep.equal([
      ['billing/due.md', 'deleted', 'last good version'],
      ['billing/pay.md', 'edited', 'last good version'],
    ]);
  });

  it('lists the cross-file problems of a broken file with its own, so one fix is enough', async () => {
    const kb = await kbOpen();
    await write('billing/pay.md', md('How do I pay my bill?', 'x', ['alternate: [x]', 'follow_ups: [nowhere]']));
    await kb.reload();
    expect(kb.summary().problems).to.deep.equal([
      'billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)',
      'billing/pay.md:4: follow_ups names unknown id "nowhere"',
    ]);
  });

  it('logs which file is held back', async () => {
    const logger = recordingLogger();
    const kb = await kbOpen({ logger });
    await write('billing/pay.md', md('How do I pay my bill?', 'x', ['alternate: [x]']));
    await kb.reload();
    const line = logger.lines.find((l) => l.level === 'error');
    expect(line?.msg).to.equal('knowledge reload rejected for 1 file; still serving their last good versions');
    expect(line?.heldBack).to.deep.equal(['billing/pay.md: last good version']);
  });

  describe('the snapshot of the last good folder in DATA_DIR', () => {
    it('is written after a good load, private to the owner, and keeps the good version while a file is broken', async () => {
      const kb = await kbOpen();
      await write('billing/pay.md', md('How do I pay my bill?', 'Broken', ['alternate: [x]']));
      await write('hello.md', md('Hello', 'Hello, snapshot!'));
      await kb.reload();
      await kb.close();
      const file = path.join(dataDir, SNAPSHOT_FILE);
      expect((await stat(file)).mode & 0o777).to.equal(0o600);
      const snapshot = JSON.parse(await readFile(file, 'utf8')) as { files: { path: string; text: string }[] };
      expect(snapshot.files.map((f) => f.path)).to.deep.equal(['billing/due.md', 'billing/pay.md', 'hello.md']);
      expect(snapshot.files.find((f) => f.path === 'billing/pay.md')!.text).to.contain('Pay in the app.');
      expect(snapshot.files.find((f) => f.path === 'hello.md')!.text).to.contain('Hello, snapshot!');
    });

    it('serves the broken files from the snapshot after a restart, the good files as they are, and reports degraded', async () => {
      const first = await kbOpen();
      await first.close();
      await write('billing/pay.md', md('How do I pay my bill?', 'Broken', ['questoin: typo']));
      await write('hello.md', md('Hello', 'Edited while the server was down.'));
      const kb = await kbOpen();
      expect(kb.get('billing/pay')?.answer).to.equal('Pay in the app.');
      expect(kb.get('hello')?.answer).to.equal('Edited while the server was down.');
      expect(kb.summary()).to.include({ status: 'degraded' });
      expect(kb.summary().heldBack?.map((h) => [h.path, h.serving])).to.deep.equal([['billing/pay.md', 'last good version']]);
    });

    it('lets a folder where nothing loads start from the snapshot; without one it does not start', async () => {
      await (await kbOpen()).close();
      for (const f of ['billing/pay.md', 'billing/due.md', 'hello.md']) await write(f, 'garbage\n');
      const kb = await kbOpen();
      expect(kb.summary()).to.include({ status: 'degraded', entries: 3 });
      expect(kb.get('hello')?.answer).to.equal('Hi there!');
      const err = await kbOpen({ snapshot: false }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KnowledgeLoadError);
      expect((err as KnowledgeLoadError).problems).to.have.length(3);
    });

    it('ignores a damaged snapshot with a warning and starts from the folder', async () => {
      await writeFile(path.join(dataDir, SNAPSHOT_FILE), '{"version": 1, "files": [');
      const logger = recordingLogger();
      const kb = await kbOpen({ logger });
      expect(kb.summary()).to.include({ status: 'ok', entries: 3 });
      expect(logger.lines.find((l) => l.level === 'warn')?.msg).to.equal('knowledge snapshot ignored');
      await kb.close();
      expect(JSON.parse(await readFile(path.join(dataDir, SNAPSHOT_FILE), 'utf8'))).to.include({ version: 1 });
    });
  });
});
