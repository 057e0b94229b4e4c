/**
 * The embedded queue store: one lowdb JSON file per conversation under `DATA_DIR/handoff/conversations`,
 * so saving one conversation never rewrites the others. lowdb's file adapter (steno) writes to a
 * temporary file and renames it, so a crash mid-write leaves the previous version readable.
 *
 * The version check and the in-memory update happen synchronously (no `await` in between), which makes
 * `save` a true compare-and-set within this process: of many concurrent claims exactly one wins.
 * Several server processes sharing one DATA_DIR are not supported — that is what a PostgreSQL
 * `QueueStore` is for.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { PrivateJSONFile } from '../storage/adapters.js';
import { PRIVATE_DIR_MODE } from '../storage/files.js';
import { countOpenRecords, matchesQuery, VersionConflictError, type ConversationRecord, type OpenCount, type QueueQuery, type QueueStore } from './queue-store.js';

/** Keeps every record in memory (the queue is small) and persists each to its own file. */
export class FileQueueStore implements QueueStore {
  private readonly records = new Map<string, ConversationRecord>();
  private readonly files = new Map<string, Low<ConversationRecord | null>>();
  private readonly dir: string;

  private constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'handoff', 'conversations');
  }

  /** Opens (and creates) the store under `dataDir`, loading every saved conversation. */
  static async open(dataDir: string): Promise<FileQueueStore> {
    const store = new FileQueueStore(dataDir);
    await mkdir(store.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    for (const name of await readdir(store.dir)) {
      if (!name.endsWith('.json')) continue; // skips steno's temporary files
      const db = new Low<ConversationRecord | null>(new PrivateJSONFile(path.join(store.dir, name)), null);
      try {
        await db.read();
      } catch {
        continue; // an unreadable file cannot come from an atomic write; ignore rather than refuse to start
      }
      if (db.data?.id) {
        store.records.set(db.data.id, db.data);
        store.files.set(db.data.id, db);
      }
    }
    return store;
  }

  async get(id: string): Promise<ConversationRecord | undefined> {
    const r = this.records.get(id);
    return r && structuredClone(r);
  }

  async list(query?: QueueQuery): Promise<ConversationRecord[]> {
    const out: ConversationRecord[] = [];
    for (const r of this.records.values()) if (matchesQuery(r, query)) out.push(structuredClone(r));
    return out;
  }

  async countOpen(): Promise<OpenCount[]> {
    return countOpenRecords(this.records.values());
  }

  async save(record: ConversationRecord): Promise<ConversationRecord> {
    const current = this.records.get(record.id);
    const actual = current?.version ?? 0;
    if (actual !== record.version) throw new VersionConflictError(record.id, record.version, actual);
    const saved = { ...structuredClone(record), version: actual + 1 };
    this.records.set(record.id, saved);
    let db = this.files.get(record.id);
    if (!db) {
      const file = createHash('sha256').update(record.id).digest('hex').slice(0, 40) + '.json';
      db = new Low<ConversationRecord | null>(new PrivateJSONFile(path.join(this.dir, file)), null);
      this.files.set(record.id, db);
    }
    db.data = saved;
    await db.write(); // serialised per file, renamed atomically (PrivateJSONFile)
    return structuredClone(saved);
  }
}

/** The same contract in memory (tests, benchmarks, or a bot that does not need the queue to survive a restart). */
export class MemoryQueueStore implements QueueStore {
  private readonly records = new Map<string, ConversationRecord>();
  async get(id: string) {
    const r = this.records.get(id);
    return r && structuredClone(r);
  }
  async list(query?: QueueQuery) {
    return [...this.records.values()].filter((r) => matchesQuery(r, query)).map((r) => structuredClone(r));
  }
  async countOpen() {
    return countOpenRecords(this.records.values());
  }
  async save(record: ConversationRecord) {
    const actual = this.records.get(record.id)?.version ?? 0;
    if (actual !== record.version) throw new VersionConflictError(record.id, record.version, actual);
    const saved = { ...structuredClone(record), version: actual + 1 };
    this.records.set(record.id, saved);
    return structuredClone(saved);
  }
}
