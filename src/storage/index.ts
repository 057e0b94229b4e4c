/** The storage plugins: botbuilder `Storage` and `TranscriptStore` on lowdb files, their errors and health check. */
export { LowdbStorage, type LowdbStorageOptions } from './lowdb-storage.js';
export { LowdbTranscriptStore, defaultCustomerOf, DEFAULT_TRANSCRIPT_PAGE_SIZE, type LowdbTranscriptStoreOptions } from './lowdb-transcript-store.js';
export { AtomicJsonFile, JsonLinesFile, type FileAdapterOptions } from './adapters.js';
export { StorageUnavailableError, StorageCorruptError, ETagConflictError, toStorageError, UNAVAILABLE_CODES } from './errors.js';
export { storageHealthCheck } from './health.js';
export { TurnSafeTranscriptLogger } from './transcript-logger.js';
