/** The storage plugins: botbuilder `Storage` and `TranscriptStore` on lowdb files, their errors and health check. */
export { LowdbStorage, type LowdbStorageOptions } from './lowdb-storage.js';
export { LowdbTranscriptStore, defaultCustomerOf, DEFAULT_TRANSCRIPT_PAGE_SIZE, type LowdbTranscriptStoreOptions } from './lowdb-transcript-store.js';
export { AtomicJsonFile, JsonLinesFile, type FileAdapterOptions } from './adapters.js';
export { StorageUnavailableError, StorageCorruptError, ETagConflictError, toStorageError, UNAVAILABLE_CODES } from './errors.js';
export { storageHealthCheck } from './health.js';
export { TurnSafeTranscriptLogger } from './transcript-logger.js';
export { Database, DatabaseUnavailableError, MigrationError, isUnavailable, type DatabaseOptions } from './postgres/database.js';
export { PgStorage } from './postgres/storage.js';
export { PgTranscriptStore, type PgTranscriptStoreOptions } from './postgres/transcript-store.js';
export { PgChannelJournal } from './postgres/channel-journal.js';
export { PgConversationStore } from './postgres/webchat-store.js';
export { PgEventBus, type PgEventBusOptions } from './postgres/event-bus.js';
