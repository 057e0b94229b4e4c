import { expect } from 'chai';
import { unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixedClock } from '../../src/clock.js';
import { KnowledgeBase, KnowledgeLoadError } from '../../src/knowledge/knowledge-base.js';
import { KnowledgeFolderError } from '../../src/knowledge/loader.js';
import { createLogger } from '../../src/log.js';

function md(question: string, answer: string, extra: string[] = []): string {
  return ['---', `question: ${question}`, ...extra, '---', answer, ''].join('\n');
}

/**
 * Resolves once a reload (or rejection) has happened after which `done()` holds — no fixed sleeps:
 * one save can produce several file events, so the first event alone may not be the final state.
 */
function until(kb: KnowledgeBase, done: () => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`knowledge base did not reach the expected state within ${timeoutMs} ms: ${JSON.stringify(kb.status())}`));
    }, timeoutMs);
    const check = () => {
      if (!done()) return;
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      kb.off('reloaded', check);
      kb.off('rejected', check);
    };
    kb.on('reloaded', check);
    kb.on('rejected', check);
  });
}

describe('KnowledgeBase', () => {
  let dir: string;
  let kb: KnowledgeBase | undefined;
  const clock = fixedClock('2026-11-23T10:00:00Z');

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kb-reload-'));
    await mkdir(path.join(dir, 'billing'));
    await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'Pay in the app.', ['alternates: [pay my bill]']));
    await writeFile(path.join(dir, 'hello.md'), md('Hello', 'Hi there!', ['tags: [smalltalk]']));
  });

  afterEach(async () => {
    await kb?.close();
    kb = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  describe('open', () => {
    it('serves the entries of the folder and reports them in status and healthCheck', async () => {
      kb = await KnowledgeBase.open(dir, { clock, watch: false });
      expect(kb.decide('how do i pay my bill')).to.include({ kind: 'answer' });
      expect(kb.get('billing/pay')?.answer).to.equal('Pay in the app.');
      expect(kb.search('hello')[0]?.entry.id).to.equal('hello');
      expect(kb.status()).to.include({ entries: 2, files: 2, watching: false });
      expect(kb.status().lastError).to.equal(undefined);
      const health = await kb.healthCheck().check();
      expect(health).to.include({ ok: true, entries: 2, files: 2 });
      expect(kb.healthCheck().name).to.equal('knowledge');
    });

    it('starts on a folder with a broken file: serves the others, holds the broken one back and says so', async () => {
      await writeFile(path.join(dir, 'bad.md'), md('Why?', 'Because.', ['alternate: [x]', 'channels: [sms]']));
      kb = await KnowledgeBase.open(dir, { clock, watch: false });
      expect(kb.get('billing/pay')?.answer).to.equal('Pay in the app.');
      expect(kb.get('bad')).to.equal(undefined);
      const summary = kb.summary();
      expect(summary).to.include({ status: 'degraded', entries: 2, files: 2, problemCount: 2 });
      expect(summary.heldBack).to.deep.equal([
        { path: 'bad.md', change: 'added', serving: 'nothing', problems: ['bad.md:3: unknown field "alternate" (did you mean "alternates"?)', 'bad.md:4: unknown channel "sms" (valid channels: webchat, messenger, whatsapp)'] },
      ]);
      expect(summary.lastError).to.match(/^1 file held back, the other files' edits are live: bad\.md \(not served until fixed\)\. 2 problems: bad\.md:3: unknown field "alternate"/);
      expect(await kb.healthCheck().check()).to.include({ ok: true, degraded: true, status: 'degraded' });
    });

    it('rejects with every problem of a folder where nothing can be served (and no snapshot)', async () => {
      await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'x', ['alternate: [x]']));
      await writeFile(path.join(dir, 'hello.md'), md('Hello', 'x', ['channels: [sms]']));
      const err = await KnowledgeBase.open(dir, { watch: false }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KnowledgeLoadError);
      expect((err as KnowledgeLoadError).problems).to.have.length(2);
      expect((err as Error).message).to.contain('has 2 problems');
      expect((err as Error).message).to.contain('billing/pay.md:3: unknown field "alternate"');
      expect((err as Error).message).to.contain('hello.md:3: unknown channel "sms"');
    });

    it('rejects when the folder does not exist', async () => {
      const err = await KnowledgeBase.open(path.join(dir, 'missing'), { watch: false }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(KnowledgeFolderError);
    });

    it('filters by the injected clock', async () => {
      const moving = fixedClock('2026-11-19T12:00:00Z');
      await writeFile(path.join(dir, 'offer.md'), md('Winter offer?', 'Double data!', ['valid_from: 2026-11-20', 'valid_until: 2026-12-31']));
      kb = await KnowledgeBase.open(dir, { clock: moving, watch: false });
      expect(kb.get('offer')).to.equal(undefined);
      moving.set('2026-11-20T00:00:00Z');
      expect(kb.get('offer')?.answer).to.equal('Double data!');
    });
  });

  describe('hot reload', () => {
    beforeEach(async () => {
      kb = await KnowledgeBase.open(dir, { clock, logger: createLogger('silent') });
    });

    it('serves an edited answer', async () => {
      const reloaded = until(kb!, () => kb!.get('billing/pay')?.answer === 'Pay by card in the app.');
      await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'Pay by card in the app.'));
      await reloaded;
      expect(kb!.status().reloads).to.be.at.least(1);
      expect(kb!.status().lastError).to.equal(undefined);
    });

    it('serves a file added in a new subfolder', async () => {
      const reloaded = until(kb!, () => kb!.get('roaming/europe/spain') !== undefined);
      await mkdir(path.join(dir, 'roaming', 'europe'), { recursive: true });
      await writeFile(path.join(dir, 'roaming', 'europe', 'spain.md'), md('Can I use my phone in Spain?', 'Yes, at no extra cost.'));
      await reloaded;
      expect(kb!.search('phone in spain')[0]?.entry.id).to.equal('roaming/europe/spain');
      expect(kb!.status().files).to.equal(3);
    });

    it('stops serving a deleted file', async () => {
      const reloaded = until(kb!, () => kb!.get('hello') === undefined);
      await rm(path.join(dir, 'hello.md'));
      await reloaded;
      expect(kb!.status()).to.include({ entries: 1, files: 1 });
    });

    it("picks up an editor's atomic save (write a temporary file, rename it over the original)", async () => {
      const reloaded = until(kb!, () => kb!.get('hello')?.answer === 'Hello again!');
      const tmp = path.join(dir, '.hello.md.tmp-1234');
      await writeFile(tmp, md('Hello', 'Hello again!'));
      await rename(tmp, path.join(dir, 'hello.md'));
      await reloaded;
    });

    it('keeps noticing saves of a file after an atomic save replaced it with a new inode', async () => {
      const tmp = path.join(dir, 'billing', '.pay.md.swp');
      await writeFile(tmp, md('How do I pay my bill?', 'Saved by rename.'));
      const renamed = until(kb!, () => kb!.get('billing/pay')?.answer === 'Saved by rename.');
      await rename(tmp, path.join(dir, 'billing', 'pay.md'));
      await renamed;
      // The next save writes the new file in place (most editors, echo >): it must be served too.
      const inPlace = until(kb!, () => kb!.get('billing/pay')?.answer === 'Saved in place.');
      await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'Saved in place.'));
      await inPlace;
    });

    it('serves the fix of a file that was deleted and created again broken', async () => {
      const file = path.join(dir, 'billing', 'pay.md');
      const broken = until(kb!, () => (kb!.status().lastError ?? '').includes('billing/pay.md:2: unknown field "questoin"'));
      unlinkSync(file); // deleted and created again before the server looks: a new inode under the old name
      writeFileSync(file, md('How do I pay my bill?', 'Broken.').replace('question:', 'questoin:'));
      await broken;
      expect(kb!.get('billing/pay')?.answer).to.equal('Pay in the app.');
      const fixed = until(kb!, () => kb!.get('billing/pay')?.answer === 'Fixed in place.');
      await writeFile(file, md('How do I pay my bill?', 'Fixed in place.'));
      await fixed;
      expect(kb!.status().lastError).to.equal(undefined);
    });

    it('follows a subfolder removed and created again, and one moved in with its files', async () => {
      const gone = until(kb!, () => kb!.get('billing/pay') === undefined);
      await rm(path.join(dir, 'billing'), { recursive: true });
      await gone;
      const back = until(kb!, () => kb!.get('billing/pay')?.answer === 'Back again.');
      await mkdir(path.join(dir, 'billing'));
      await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'Back again.'));
      await back;
      const edited = until(kb!, () => kb!.get('billing/pay')?.answer === 'Edited after.');
      await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'Edited after.'));
      await edited;

      const outside = await mkdtemp(path.join(tmpdir(), 'kb-outside-'));
      await mkdir(path.join(outside, 'stores'));
      await writeFile(path.join(outside, 'stores', 'hours.md'), md('When are you open?', '9 to 5.'));
      const movedIn = until(kb!, () => kb!.get('stores/hours')?.answer === '9 to 5.');
      await rename(path.join(outside, 'stores'), path.join(dir, 'stores'));
      await movedIn;
      const editedInMoved = until(kb!, () => kb!.get('stores/hours')?.answer === '9 to 6.');
      await writeFile(path.join(dir, 'stores', 'hours.md'), md('When are you open?', '9 to 6.'));
      await editedInMoved;
      await rm(outside, { recursive: true, force: true });
    });

    it('ends with the last of many quick edits', async () => {
      const reloaded = until(kb!, () => kb!.get('hello')?.answer === 'version 9');
      for (let i = 0; i < 10; i++) await writeFile(path.join(dir, 'hello.md'), md('Hello', `version ${i}`));
      await reloaded;
    });

    it('keeps serving the last good index after a broken edit, shows the error, and recovers when fixed', async () => {
      const rejected = new Promise<{ error: string }>((resolve) => kb!.once('rejected', resolve));
      const broken = until(kb!, () => (kb!.status().lastError ?? '').includes('unknown field "alternate"'));
      await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'Half-written', ['alternate: [pay]']));
      await broken;
      expect((await rejected).error).to.be.a('string');

      // The old entry is still served, unchanged.
      expect(kb!.get('billing/pay')?.answer).to.equal('Pay in the app.');
      expect(kb!.decide('how do i pay my bill')).to.include({ kind: 'answer' });
      const status = kb!.status();
      expect(status.problems.map((p) => `${p.path}:${p.line}`)).to.deep.equal(['billing/pay.md:3']);
      expect(status.rejections).to.be.at.least(1);
      const health = await kb!.healthCheck().check();
      expect(health.ok).to.equal(true);
      expect(health.lastError).to.contain('billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)');
      expect(health.problems).to.deep.equal(['billing/pay.md:3: unknown field "alternate" (did you mean "alternates"?)']);

      const fixed = until(kb!, () => kb!.get('billing/pay')?.answer === 'Fixed answer.');
      await writeFile(path.join(dir, 'billing', 'pay.md'), md('How do I pay my bill?', 'Fixed answer.', ['alternates: [pay]']));
      await fixed;
      expect(kb!.status().lastError).to.equal(undefined);
      expect(kb!.status().problems).to.deep.equal([]);
      expect(await kb!.healthCheck().check()).to.not.have.property('lastError');
    });

    it('lets a turn that already holds the index finish on it while the new one is swapped in', async () => {
      const inFlight = kb!.index;
      const reloaded = until(kb!, () => kb!.get('hello')?.answer === 'New hello');
      await writeFile(path.join(dir, 'hello.md'), md('Hello', 'New hello'));
      await reloaded;
      expect(inFlight.get('hello')?.answer).to.equal('Hi there!');
      expect(kb!.index).to.not.equal(inFlight);
    });

    it('stops watching when closed', async () => {
      expect(kb!.status().watching).to.equal(true);
      await kb!.close();
      expect(kb!.status().watching).to.equal(false);
      // A manual reload still works after close; searches keep the last index.
      expect(kb!.get('hello')?.answer).to.equal('Hi there!');
    });
  });
});
