import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { AtomicJsonFile, JsonLinesFile, storageHealthCheck } from '../../src/storage/index.js';
import { KeyedQueue, parseJsonLines } from '../../src/storage/files.js';
import { listFiles, tempDir } from './helpers.js';

describe('storage file primitives', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('sb-files-')));
  afterEach(() => remove());

  it('runs tasks of one key in the order queued and keeps going after a failure', async () => {
    const queue = new KeyedQueue();
    const order: string[] = [];
    const slow = () => new Promise((r) => setImmediate(r));
    const a = queue.run('k', async () => {
      await slow();
      order.push('a');
    });
    const b = queue.run('k', async () => {
      order.push('b');
      throw new Error('b failed');
    });
    const c = queue.run('k', async () => void order.push('c'));
    const other = queue.run('other', async () => void order.push('other'));
    await Promise.allSettled([a, b, c, other]);
    expect(order.filter((x) => x !== 'other')).to.deep.equal(['a', 'b', 'c']);
    expect(order.indexOf('other')).to.be.lessThan(order.indexOf('a'));
    expect(await b.catch((e: Error) => e.message)).to.equal('b failed');
    expect(queue.size).to.equal(0);
  });

  it('parses JSON lines and counts the ones that do not parse', () => {
    expect(parseJsonLines('{"a":1}\n{"a":\n\n{"a":3}\n{"a"')).to.deep.equal({ items: [{ a: 1 }, { a: 3 }], skipped: 2 });
  });

  it('works as a lowdb adapter: AtomicJsonFile replaces the whole document', async () => {
    const file = path.join(dir, 'deep', 'er', 'doc.json');
    const db = new Low<{ n: number }>(new AtomicJsonFile(file), { n: 0 });
    await db.update((d) => (d.n = 7));
    const again = new Low<{ n: number }>(new AtomicJsonFile(file), { n: 0 });
    await again.read();
    expect(again.data.n).to.equal(7);
    expect(await listFiles(dir)).to.deep.equal(['deep/er/doc.json']);
  });

  it('works as a lowdb adapter: JsonLinesFile appends and compacts', async () => {
    const file = path.join(dir, 'log.jsonl');
    const lines = new JsonLinesFile<{ i: number }>(file);
    await lines.append([{ i: 1 }, { i: 2 }]);
    await lines.append([{ i: 3 }]);
    const db = new Low<{ i: number }[]>(lines, []);
    await db.read();
    expect(db.data.map((x) => x.i)).to.deep.equal([1, 2, 3]);
    await db.update((d) => d.splice(0, 2));
    expect(await readFile(file, 'utf8')).to.equal('{"i":3}\n');
  });

  it('reports a writable data folder as healthy and leaves nothing behind', async () => {
    const result = await storageHealthCheck(dir).check();
    expect(result).to.include({ ok: true, dir });
    expect(await listFiles(dir)).to.deep.equal([]);
  });

  it('reports a data folder that cannot be written as unhealthy, with the reason', async () => {
    const notADir = path.join(dir, 'file');
    await writeFile(notADir, 'x');
    const check = storageHealthCheck(notADir);
    expect(check.name).to.equal('storage');
    const result = await check.check();
    expect(result.ok).to.equal(false);
    expect(String(result.error)).to.match(/^storageHealthCheck: cannot use .* \((EEXIST|ENOTDIR)/);
  });
});
