/**
 * The channel-neutral turn engine: extend `TurnEngineAdapter` for a new channel (verify, parse,
 * deliver, reply windows), give it an `Inbox` (files: `FileChannelJournal`; PostgreSQL:
 * `PgChannelJournal` from src/storage) and an `EventBus`.
 */
export {
  TurnEngineAdapter,
  TurnQueueFullError,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_SWEEP_INTERVAL_MS,
  DEFAULT_UNSETTLED_RETRY_MS,
  DEFAULT_MAX_CONCURRENT_TURNS,
  DEFAULT_MAX_QUEUED_TURNS_PER_CONVERSATION,
  MAX_WAITING_CONVERSATIONS,
  contentHash,
  summarizeActivity,
  type AcceptOptions,
  type TurnEngineOptions,
} from './turn-engine.js';
export { FileChannelJournal } from './file-journal.js';
export { LocalEventBus, type EventBus, type BusHandler } from './bus.js';
export { InboxStorageError, StoreUnavailableError } from './errors.js';
export { agentMarkOf, handleAdapterOnlyActivity, type AgentMark, type BotLogic, type MountableAdapter, type ReplyWindow } from './channel.js';
export type { AcceptResult, ChannelJournal, DeliveryLog, Inbox, InboxItem, MessageStatus, ProfileRecord, SendFailure, TurnSend } from './inbox.js';
export { DEDUPE_RETENTION_MS } from './inbox.js';
export type { ActivityPage, WebChatConversation, WebChatConversationStore } from './conversation-store.js';
