import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryStorage } from 'botbuilder';
import { LowdbStorage } from '../../src/storage/index.js';
import { storageContract } from './storage.contract.js';

storageContract('botbuilder MemoryStorage', () => ({ storage: new MemoryStorage() }));

storageContract('LowdbStorage', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-storage-'));
  return { storage: new LowdbStorage({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
});
