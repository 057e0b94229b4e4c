import { expect } from 'chai';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileMediaStore } from '../../src/media/file-store.js';
import { PgMediaStore } from '../../src/media/pg-store.js';
import { usePostgres } from '../helpers/postgres.js';
import { mediaStoreContract } from './media-store.contract.js';

mediaStoreContract('FileMediaStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-media-'));
  return { store: async () => new FileMediaStore({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
});

describe('FileMediaStore files', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'sb-media-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('removes the temp files a crash left mid-write, and only those', async () => {
    const store = new FileMediaStore({ dir });
    const record = await store.put({ conversationId: 'c', channelId: 'whatsapp', contentType: 'image/png', bytes: Buffer.from('png') });
    const shard = path.join(dir, 'objects', record.id.slice(2, 4));
    await writeFile(path.join(shard, `.${record.id}.bin.123.1.tmp`), 'torn');
    expect(await new FileMediaStore({ dir }).removeStaleTempFiles()).to.equal(1);
    expect((await readdir(shard)).sort()).to.deep.equal([`${record.id}.bin`, `${record.id}.json`]);
    expect((await store.get(record.id))?.bytes.toString()).to.equal('png');
  });

  it('lists nothing for a put a crash cut off before its record, and erasure still removes its bytes', async () => {
    const store = new FileMediaStore({ dir });
    const record = await store.put({ conversationId: 'c', channelId: 'whatsapp', contentType: 'image/png', bytes: Buffer.from('png') });
    await rm(path.join(dir, 'objects', record.id.slice(2, 4), record.id + '.json')); // as if the crash came before the record
    expect(await store.list('c')).to.deep.equal([]);
    expect(await store.get(record.id)).to.equal(undefined);
    await store.deleteConversation('c');
    expect(await readdir(path.join(dir, 'objects', record.id.slice(2, 4)))).to.deep.equal([]);
  });

  it('ignores a torn line in a conversation index', async () => {
    const store = new FileMediaStore({ dir });
    const record = await store.put({ conversationId: 'c', channelId: 'whatsapp', contentType: 'image/png', bytes: Buffer.from('png') });
    const index = path.join(dir, 'conversations');
    const [shard] = await readdir(index);
    const [file] = await readdir(path.join(index, shard!));
    await writeFile(path.join(index, shard!, file!), `{"id":"${record.id}"}\n{"id":"m_tor`, { flag: 'w' });
    expect((await store.list('c')).map((r) => r.id)).to.deep.equal([record.id]);
  });
});

describe('PgMediaStore', function () {
  const pg = usePostgres();
  mediaStoreContract('PgMediaStore', async () => {
    await pg.db.query('TRUNCATE media');
    return { store: async () => new PgMediaStore(pg.db), dispose: async () => undefined };
  });
});
