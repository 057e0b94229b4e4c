/**
 * Named storage errors. A full or read-only disk is not a bug in the caller: it is surfaced as
 * `StorageUnavailableError` so a webhook can answer 503 (and the platform retries later) instead of 500.
 */

/** errno codes that mean "the disk cannot take writes right now", not "the program is wrong". */
export const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'ENOSPC', // no space left on device
  'EDQUOT', // disk quota exceeded
  'EROFS', // read-only file system
  'EACCES', // permission denied
  'EPERM', // operation not permitted
  'EIO', // I/O error from the device
  'ENOTDIR', // DATA_DIR (or a folder inside it) is a file
  'EMFILE', // too many open files in this process
  'ENFILE', // too many open files on the system
]);

/**
 * The data folder cannot be written (full, read-only, no permission, I/O error). Temporary from the
 * caller's point of view: answer 503 and let the sender retry.
 * @example if (err instanceof StorageUnavailableError) throw new errors.ServiceUnavailableError(err.message)
 */
export class StorageUnavailableError extends Error {
  override readonly name = 'StorageUnavailableError';
  constructor(
    /** Which operation failed, e.g. `LowdbStorage.write`. */
    readonly where: string,
    /** The file or folder involved. */
    readonly path: string,
    /** The errno code from Node, e.g. `ENOSPC`. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${where}: cannot use ${path} (${code}${describe(code)}); check that DATA_DIR is on a writable disk with free space and that the server may write to it`,
      options,
    );
  }
}

/** A stored file is not valid JSON. Atomic writes never produce one, so something else wrote it. */
export class StorageCorruptError extends Error {
  override readonly name = 'StorageCorruptError';
  constructor(readonly where: string, readonly path: string, options?: { cause?: unknown }) {
    super(`${where}: ${path} is not valid JSON; it was not written by Switchboard — restore it from a backup or delete it`, options);
  }
}

/**
 * An eTag mismatch: someone else wrote the item since it was read. Same rule (and same trigger) as
 * botbuilder's `MemoryStorage` "error writing ... due to eTag conflict".
 */
export class ETagConflictError extends Error {
  override readonly name = 'ETagConflictError';
  constructor(readonly where: string, readonly key: string) {
    super(`${where}: error writing "${key}" due to eTag conflict; read the item again, apply the change and write it back`);
  }
}

/** Turns an fs error into `StorageUnavailableError` when the disk is the problem; other errors pass through. */
export function toStorageError(err: unknown, where: string, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return new StorageUnavailableError(where, path, code, { cause: err });
  return err;
}

function describe(code: string): string {
  switch (code) {
    case 'ENOSPC': return ': no space left on device';
    case 'EDQUOT': return ': disk quota exceeded';
    case 'EROFS': return ': read-only file system';
    case 'EACCES':
    case 'EPERM': return ': permission denied';
    case 'ENOTDIR': return ': a part of the path is a file, not a folder';
    default: return '';
  }
}
