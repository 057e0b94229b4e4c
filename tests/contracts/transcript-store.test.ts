import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryTranscriptStore } from 'botbuilder';
import { LowdbTranscriptStore } from '../../src/storage/index.js';
import { transcriptStoreContract } from './transcript-store.contract.js';

transcriptStoreContract('botbuilder MemoryTranscriptStore', () => ({ store: new MemoryTranscriptStore() }));

transcriptStoreContract('LowdbTranscriptStore', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sb-transcripts-'));
  return { store: new LowdbTranscriptStore({ dir }), dispose: () => rm(dir, { recursive: true, force: true }) };
});
