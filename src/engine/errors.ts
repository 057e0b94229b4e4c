/** The errors of the turn engine and its file backend. */

/**
 * A store the engine stands on cannot be used right now — a full or read-only disk, a database that is
 * down — as opposed to a bug: a channel answers 503 so the sender retries, and the engine tries again
 * where giving up would send a message twice. Every backend's "unavailable" error extends it.
 */
export class StoreUnavailableError extends Error {}

/** The durable inbox could not store an accepted message; the channel answers 503 so the sender retries. */
export class InboxStorageError extends StoreUnavailableError {
  override name = 'InboxStorageError';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`inbox: could not write ${file} (${(cause as Error)?.message ?? String(cause)}) — check that DATA_DIR is writable and has space`, { cause });
  }
}
