/**
 * `/healthz` readiness for storage: the data folder takes an atomic write (temp + fsync + rename),
 * reads it back and removes it. A full or read-only disk shows up here before a webhook fails.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HealthCheck } from '../server.js';
import { toStorageError } from './errors.js';
import { PRIVATE_DIR_MODE, unlinkIfExists, writeFileAtomic } from './files.js';

let probeSeq = 0;

/**
 * A `HealthCheck` named `storage` that is ok when `dataDir` can be written.
 * @example createServer({ logger, health: [storageHealthCheck(config.dataDir)] })
 */
export function storageHealthCheck(dataDir: string): HealthCheck {
  const where = 'storageHealthCheck';
  return {
    name: 'storage',
    async check() {
      const probe = path.join(dataDir, `.healthz-${process.pid}-${++probeSeq}`);
      try {
        await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE }).catch((err) => {
          throw toStorageError(err, where, dataDir);
        });
        const stamp = new Date().toISOString();
        await writeFileAtomic(probe, stamp, { fsync: true, where });
        const back = await readFile(probe, 'utf8');
        await unlinkIfExists(probe, where);
        if (back !== stamp) return { ok: false, dir: dataDir, error: `${where}: read back different content from ${probe}` };
        return { ok: true, dir: dataDir };
      } catch (err) {
        const e = err as Error & { code?: string };
        const error = e.message.startsWith(where) ? e.message : `${where}: cannot use ${dataDir} (${e.message}); DATA_DIR must be a writable folder`;
        return { ok: false, dir: dataDir, code: e.code, error };
      }
    },
  };
}
