/** The errors of the turn engine and its file backend. */

/** The durable inbox could not store an accepted message; the channel answers 503 so the sender retries. */
export class InboxStorageError extends Error {
  override name = 'InboxStorageError';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`inbox: could not write ${file} (${(cause as Error)?.message ?? String(cause)}) — check that DATA_DIR is writable and has space`, { cause });
  }
}
