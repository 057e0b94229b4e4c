/**
 * The last good knowledge folder, kept in DATA_DIR so a server (re)started while a file is broken —
 * a bad edit plus a deploy or a crash — still serves that file's last good version instead of not
 * starting. One JSON file, written to a temporary name and renamed over the old one, so a crash mid-write
 * leaves the previous snapshot whole; private (0600) like everything in DATA_DIR.
 *
 * @example
 *   await writeSnapshot(path.join(dataDir, SNAPSHOT_FILE), './knowledge', texts);
 *   const { texts } = await readSnapshot(path.join(dataDir, SNAPSHOT_FILE));
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/** The snapshot's file name in DATA_DIR. */
export const SNAPSHOT_FILE = 'knowledge-snapshot.json';

const snapshotSchema = z.object({
  version: z.literal(1),
  savedAt: z.string(),
  /** The knowledge folder it was taken from (for people reading it; paths below are relative to it). */
  dir: z.string(),
  files: z.array(z.object({ path: z.string().min(1), text: z.string() })),
});

/** What a snapshot file holds. */
export type KnowledgeSnapshot = z.infer<typeof snapshotSchema>;

/**
 * Reads a snapshot: the texts by path, or nothing when there is none yet. A damaged snapshot is not an
 * error to stop for — it comes back as `problem` (for the log) and is treated as absent.
 */
export async function readSnapshot(file: string): Promise<{ texts?: Map<string, string>; savedAt?: string; problem?: string }> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `knowledge snapshot ${file} cannot be read: ${(err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { problem: `knowledge snapshot ${file} is not valid JSON (it is rewritten after the next good load)` };
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) return { problem: `knowledge snapshot ${file} has an unknown shape (it is rewritten after the next good load)` };
  return { texts: new Map(parsed.data.files.map((f) => [f.path, f.text])), savedAt: parsed.data.savedAt };
}

let sequence = 0;

/** Writes the served folder atomically (temporary file, then rename), readable by the owner only. */
export async function writeSnapshot(file: string, dir: string, texts: ReadonlyMap<string, string>): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const snapshot: KnowledgeSnapshot = {
    version: 1,
    savedAt: new Date().toISOString(),
    dir: path.resolve(dir),
    files: [...texts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, text]) => ({ path: p, text })),
  };
  const tmp = `${file}.${process.pid}.${++sequence}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(snapshot)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
