import { expect } from 'chai';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConversationState, TestAdapter, type StoreItem } from 'botbuilder';
import { LowdbStorage, StorageCorruptError, StorageUnavailableError, toStorageError } from '../../src/storage/index.js';
import { ODD_KEYS, rejection } from '../contracts/storage.contract.js';
import { listFiles, tempDir } from './helpers.js';

describe('LowdbStorage', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir()));
  afterEach(() => remove());

  it('keeps items and their eTags for the next process', async () => {
    await new LowdbStorage({ dir }).write({ 'user/42': { name: 'Ada' } });
    const first = (await new LowdbStorage({ dir }).read(['user/42']))['user/42'];
    expect(first.name).to.equal('Ada');
    const again = new LowdbStorage({ dir });
    await again.write({ 'user/42': { ...first, name: 'Ada L.' } });
    const err = await rejection(() => new LowdbStorage({ dir }).write({ 'user/42': { ...first, name: 'stale' } }));
    expect(err.message).to.match(/^LowdbStorage: error writing "user\/42" due to eTag conflict/);
  });

  it('stores each key in its own hashed, sharded file, whatever the key looks like', async () => {
    const storage = new LowdbStorage({ dir });
    const changes: Record<string, StoreItem> = {};
    ODD_KEYS.forEach((k, i) => (changes[k] = { i }));
    await storage.write(changes);
    const files = await listFiles(dir);
    expect(files).to.have.length(ODD_KEYS.length);
    for (const f of files) expect(f).to.match(/^state\/[0-9a-f]{2}\/[0-9a-f]{64}\.json$/);
    const saved = JSON.parse(await readFile(storage.fileOf('../../etc/passwd'), 'utf8'));
    expect(saved.key).to.equal('../../etc/passwd');
    expect(saved.item.i).to.equal(ODD_KEYS.indexOf('../../etc/passwd'));
  });

  it('never rewrites other keys when writing one', async () => {
    const storage = new LowdbStorage({ dir });
    await storage.write({ quiet: { v: 1 }, busy: { v: 0 } });
    const before = await stat(storage.fileOf('quiet'));
    for (let v = 1; v <= 5; v++) await storage.write({ busy: { v } });
    const after = await stat(storage.fileOf('quiet'));
    expect([after.ino, after.mtimeMs]).to.deep.equal([before.ino, before.mtimeMs]);
  });

  it('leaves no temporary files behind', async () => {
    const storage = new LowdbStorage({ dir });
    await Promise.all(Array.from({ length: 20 }, (_, i) => storage.write({ [`k${i % 3}`]: { i } })));
    expect((await listFiles(dir)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('serialises concurrent writes to one key so the last one queued wins and none fails', async () => {
    const storage = new LowdbStorage({ dir });
    await Promise.all(Array.from({ length: 30 }, (_, i) => storage.write({ hot: { i } })));
    expect((await storage.read(['hot'])).hot.i).to.equal(29);
  });

  it('keeps read-modify-write cycles from losing updates when each retries on eTag conflict', async () => {
    const storage = new LowdbStorage({ dir });
    await storage.write({ counter: { n: 0 } });
    const increment = async () => {
      for (;;) {
        const { counter } = await storage.read(['counter']);
        try {
          await storage.write({ counter: { ...counter, n: counter.n + 1 } });
          return;
        } catch {
          /* someone else won; read again */
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, increment));
    expect((await storage.read(['counter'])).counter.n).to.equal(10);
  });

  it('ignores a temporary file left by a crash and reads the last complete item', async () => {
    const storage = new LowdbStorage({ dir });
    await storage.write({ k: { v: 'complete' } });
    const file = storage.fileOf('k');
    await writeFile(path.join(path.dirname(file), `.${path.basename(file)}.999.1.tmp`), '{"key":"k","item":{"v":"tor');
    expect((await new LowdbStorage({ dir }).read(['k'])).k.v).to.equal('complete');
  });

  it('removes temporary files a crash left behind, but not recent ones that may be in flight', async () => {
    const storage = new LowdbStorage({ dir });
    await storage.write({ k: { v: 1 } });
    const shard = path.dirname(storage.fileOf('k'));
    await writeFile(path.join(shard, '.old.json.1.1.tmp'), 'torn');
    await utimes(path.join(shard, '.old.json.1.1.tmp'), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    await writeFile(path.join(shard, '.new.json.1.2.tmp'), 'in flight');
    expect(await storage.removeStaleTempFiles()).to.equal(1);
    expect((await listFiles(dir)).map((f) => path.basename(f)).sort()).to.deep.equal(['.new.json.1.2.tmp', path.basename(storage.fileOf('k'))].sort());
    expect(await new LowdbStorage({ dir: path.join(dir, 'none') }).removeStaleTempFiles()).to.equal(0);
  });

  it('names the file when a state file is not valid JSON', async () => {
    const storage = new LowdbStorage({ dir });
    await mkdir(path.dirname(storage.fileOf('k')), { recursive: true });
    await writeFile(storage.fileOf('k'), '{not json');
    const err = await rejection(() => storage.read(['k']));
    expect(err).to.be.instanceOf(StorageCorruptError);
    expect(err.message).to.contain(storage.fileOf('k'));
  });

  it('reports an unwritable data folder as StorageUnavailableError', async () => {
    await writeFile(path.join(dir, 'state'), 'a file where the state folder should be');
    const err = await rejection(() => new LowdbStorage({ dir }).write({ k: { v: 1 } }));
    expect(err).to.be.instanceOf(StorageUnavailableError);
    expect((err as StorageUnavailableError).code).to.equal('ENOTDIR');
    expect(err.message).to.match(/^LowdbStorage: cannot use .*state/);
  });

  it('classifies full, read-only and forbidden disks as unavailable and passes other errors through', () => {
    for (const code of ['ENOSPC', 'EROFS', 'EACCES']) {
      const err = toStorageError(Object.assign(new Error(code), { code }), 'here', '/data/x');
      expect(err).to.be.instanceOf(StorageUnavailableError);
      expect((err as Error).message).to.match(new RegExp(`^here: cannot use /data/x \\(${code}`));
    }
    const other = Object.assign(new Error('bad'), { code: 'EINVAL' });
    expect(toStorageError(other, 'here', '/x')).to.equal(other);
  });

  it('backs botbuilder ConversationState through a TestAdapter conversation', async () => {
    const storage = new LowdbStorage({ dir });
    const state = new ConversationState(storage);
    const count = state.createProperty<number>('count');
    const adapter = new TestAdapter(async (context) => {
      const n = (await count.get(context, 0)) + 1;
      await count.set(context, n);
      await context.sendActivity(`turn ${n}`);
      await state.saveChanges(context);
    });
    await adapter.send('a').assertReply('turn 1').send('b').assertReply('turn 2').startTest();
    const restarted = new ConversationState(new LowdbStorage({ dir }));
    const again = new TestAdapter(async (context) => {
      const n = (await restarted.createProperty<number>('count').get(context, 0)) + 1;
      await context.sendActivity(`turn ${n}`);
    });
    await again.send('c').assertReply('turn 3').startTest();
  });
});
