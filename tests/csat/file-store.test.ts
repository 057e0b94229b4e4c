import { expect } from 'chai';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileCsatStore } from '../../src/bot/csat-store.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';

describe('FileCsatStore on disk', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'sb-csat-file-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const r = { conversationId: 'conv1', channelId: 'webchat', agent: 'Ada', resolvedAt: '2026-12-01T10:00:00.000Z' };

  it('keeps nothing of a write the disk refused, so the survey can be asked once it works again', async () => {
    await writeFile(path.join(dir, 'csat'), 'not a folder'); // every append fails with ENOTDIR
    const store = await FileCsatStore.open(dir);
    await store.recordAsked(r, '2026-12-01T10:00:01.000Z').then(
      () => expect.fail('the write should fail'),
      (err: Error) => expect(err).to.be.instanceOf(StorageUnavailableError),
    );
    expect(await store.latest('conv1')).to.equal(undefined);
    await rm(path.join(dir, 'csat'));
    expect(await store.recordAsked(r, '2026-12-01T10:00:02.000Z')).to.equal(true);
    await store.close();
  });

  it('appends one line per write and skips a line torn by a crash', async () => {
    const store = await FileCsatStore.open(dir);
    await store.recordAsked(r, '2026-12-01T10:00:01.000Z');
    await store.recordRating('conv1', r.resolvedAt, 5, '2026-12-01T10:00:30.000Z');
    await store.close();
    const file = path.join(dir, 'csat', 'csat.jsonl');
    expect((await readFile(file, 'utf8')).trim().split('\n')).to.have.length(2);
    await appendFile(file, '{"op":"comment","conversationId":"conv1","resolvedAt":"2026-12-01T10:00:00.000Z","comm');
    const reopened = await FileCsatStore.open(dir);
    expect(await reopened.latest('conv1')).to.include({ rating: 5 }).and.not.have.property('comment');
    expect(await reopened.recordComment('conv1', r.resolvedAt, 'kind')).to.equal(true);
    await reopened.close();
    expect((await FileCsatStore.open(dir).then((s) => s.latest('conv1')))?.comment).to.equal('kind');
  });
});
