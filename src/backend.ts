/**
 * Where the server keeps its state, chosen by `DATABASE_URL`: files in `DATA_DIR` (lowdb, one process,
 * nothing to install) or PostgreSQL (several instances on one database). Part of the composition
 * root: `app.ts` builds the server from what this returns, and nothing else picks a backend.
 *
 * Everything here is an interface with both implementations; the channels' own file stores are the
 * adapters' defaults, so the file backend passes none.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Activity, Storage, TranscriptInfo, TranscriptStore } from 'botbuilder';
import type { Config } from './config.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';
import type { HealthCheck } from './server.js';
import { LocalEventBus, type EventBus } from './engine/bus.js';
import type { ChannelJournal } from './engine/inbox.js';
import type { WebChatConversationStore } from './engine/conversation-store.js';
import { LowdbStorage, LowdbTranscriptStore, storageHealthCheck } from './storage/index.js';
import { Database } from './storage/postgres/database.js';
import { PgStorage } from './storage/postgres/storage.js';
import { PgTranscriptStore } from './storage/postgres/transcript-store.js';
import { PgChannelJournal } from './storage/postgres/channel-journal.js';
import { PgConversationStore } from './storage/postgres/webchat-store.js';
import { PgEventBus } from './storage/postgres/event-bus.js';
import { sharedSetting } from './storage/postgres/settings.js';
import { FileQueueStore } from './handoff/file-queue-store.js';
import { PgQueueStore } from './handoff/pg-queue-store.js';
import type { QueueStore } from './handoff/queue-store.js';
import { openAgentDirectory, type AgentDirectory } from './agent/directory.js';
import { FileAnalyticsStore } from './analytics/file-store.js';
import { PgAnalyticsStore } from './analytics/pg-store.js';
import type { AnalyticsStore } from './analytics/facts.js';
import { FileCsatStore, type CsatStore } from './bot/csat-store.js';
import { PgCsatStore } from './storage/postgres/csat-store.js';
import { FileMediaStore, PgMediaStore, type MediaStore } from './media/index.js';
import { FileQuestionsStore, type QuestionsStore } from './knowledge/questions-store.js';
import { PgQuestionsStore } from './storage/postgres/questions-store.js';

/** A transcript store as the server uses it: botbuilder's, plus the customer index and `whenWritten`. */
export type AppTranscriptStore = TranscriptStore & {
  /** Resolves once this process's writes for the conversation are stored (a turn is done only then). */
  whenWritten(channelId: string, conversationId: string): Promise<void>;
  listTranscriptsOfUser(channelId: string, customerId: string): Promise<TranscriptInfo[]>;
  /** Every activity of a conversation, oldest first (all pages). */
  readTranscript(channelId: string, conversationId: string, startDate?: Date): Promise<Activity[]>;
  /** Every conversation of a channel. */
  allTranscripts(channelId: string): Promise<TranscriptInfo[]>;
};

/** The state of one server process. */
export interface Backend {
  kind: 'files' | 'postgresql';
  /** This process among the instances (leases and presence name it). */
  instanceId: string;
  storage: Storage;
  transcripts: AppTranscriptStore;
  queue: QueueStore;
  bus: EventBus;
  agents: AgentDirectory;
  /** Customer satisfaction after each resolution (DATA_DIR/csat, or the `csat` table). */
  csat: CsatStore;
  /** Files customers and agents exchange (DATA_DIR/media, or the `media` table). */
  media: MediaStore;
  /** Analytics facts and their per-day aggregates (DATA_DIR/analytics, or the `analytics_*` tables). */
  analytics: AnalyticsStore;
  /** Customer questions with the decision they got, for `kb diff` (DATA_DIR/questions, or the `kb_questions` table). */
  questions: QuestionsStore;
  /** A channel's inbox and delivery log on PostgreSQL; undefined on files (the adapter's own file journal). */
  journal(channelId: string): ChannelJournal | undefined;
  /** Web chat conversations on PostgreSQL; undefined on files. */
  webchatStore?: WebChatConversationStore;
  /** The generated Direct Line secret every instance shares (PostgreSQL only; files keep it in DATA_DIR). */
  sharedDirectLineSecret?(): Promise<string>;
  /** `/healthz` checks of the storage. */
  health: HealthCheck[];
  close(): Promise<void>;
}

/** How often done inbox items past the dedupe retention are deleted on PostgreSQL. */
export const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

/** Opens the backend `config.databaseUrl` selects. */
export async function openBackend(config: Config, options: { clock: Clock; logger: Logger }): Promise<Backend> {
  const { clock, logger } = options;
  const instanceId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  if (!config.databaseUrl) {
    const storage = new LowdbStorage({ dir: config.dataDir });
    await storage.removeStaleTempFiles();
    const csat = await FileCsatStore.open(config.dataDir);
    const questions = await FileQuestionsStore.open(config.dataDir);
    const media = new FileMediaStore({ dir: path.join(config.dataDir, 'media') });
    await media.removeStaleTempFiles();
    return {
      kind: 'files',
      instanceId,
      storage,
      transcripts: new LowdbTranscriptStore({ dir: config.dataDir, clock }),
      queue: await FileQueueStore.open(config.dataDir),
      bus: new LocalEventBus((topic, err) => logger.warn('event handler failed', { topic, error: (err as Error).message })),
      agents: await openAgentDirectory({ dataDir: config.dataDir, clock }),
      analytics: await FileAnalyticsStore.open(config.dataDir, { logger: logger.child('analytics'), now: clock.now() }),
      media,
      csat,
      questions,
      journal: () => undefined,
      health: [storageHealthCheck(config.dataDir)],
      close: async () => {
        await csat.close();
        await questions.close();
      },
    };
  }

  const db = await Database.open(config.databaseUrl, { logger: logger.child('database') });
  try {
    const bus = await PgEventBus.open(db, { instanceId, logger: logger.child('events') });
    const journals = new Map<string, PgChannelJournal>();
    const journal = (channelId: string) => {
      let j = journals.get(channelId);
      if (!j) journals.set(channelId, (j = new PgChannelJournal(db, { channelId, instanceId })));
      return j;
    };
    // Done inbox items are kept for dedupe only as long as Meta may retry; any instance may prune.
    const pruner = setInterval(() => {
      for (const j of journals.values()) void j.prune().catch((err) => logger.warn('inbox prune failed', { error: (err as Error).message }));
    }, PRUNE_INTERVAL_MS);
    pruner.unref();
    return {
      kind: 'postgresql',
      instanceId,
      storage: new PgStorage(db),
      transcripts: new PgTranscriptStore(db, { clock }),
      queue: new PgQueueStore(db),
      bus,
      agents: await openAgentDirectory({ dataDir: config.dataDir, db, clock }),
      media: new PgMediaStore(db),
      analytics: new PgAnalyticsStore(db),
      csat: new PgCsatStore(db),
      questions: new PgQuestionsStore(db),
      journal,
      webchatStore: new PgConversationStore(db),
      sharedDirectLineSecret: () => sharedSetting(db, 'directline.secret', () => randomBytes(32).toString('base64url')),
      health: [db.healthCheck(), bus.healthCheck()],
      close: async () => {
        clearInterval(pruner);
        await bus.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
