// The contract every QueueStore keeps (memory, files, PostgreSQL) is tests/contracts/queue-store.contract.ts;
// this file holds what only the file store promises.
import { expect } from 'chai';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileQueueStore } from '../../src/handoff/file-queue-store.js';
import { record } from '../contracts/queue-store.contract.js';

describe('FileQueueStore', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'queue-file-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps every conversation in its own file and finds them all after a restart', async () => {
    const store = await FileQueueStore.open(dir);
    const v1 = await store.save(record('conv/1:odd id', { owner: 'queued' }));
    await store.save({ ...v1, owner: 'assigned', agentId: 'ada' });
    await store.save(record('conv-2'));
    const files = await readdir(path.join(dir, 'handoff', 'conversations'));
    expect(files.filter((f) => f.endsWith('.json'))).to.have.length(2);
    const reopened = await FileQueueStore.open(dir);
    expect((await reopened.get('conv/1:odd id'))!).to.include({ owner: 'assigned', agentId: 'ada', version: 2 });
    expect(await reopened.list()).to.have.length(2);
  });
});
