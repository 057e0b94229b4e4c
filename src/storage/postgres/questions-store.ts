/**
 * The saved customer questions on PostgreSQL (table `kb_questions`, migration 0016): the same rules as
 * the file store (src/knowledge/questions-store.ts), each asking one upsert, so several instances count
 * the same question together. The cap (`MAX_SAVED_QUESTIONS`) is applied every `PRUNE_EVERY` askings
 * this process records, by any instance.
 *
 * @example
 *   const questions = new PgQuestionsStore(db);
 */
import {
  MAX_SAVED_QUESTIONS,
  keptQuestion,
  questionKey,
  type AskedQuestion,
  type QuestionsStore,
  type SavedQuestion,
} from '../../knowledge/questions-store.js';
import type { Database } from './database.js';

/** Askings between two cuts of the table to the cap: a cut is one indexed delete, not worth paying per question. */
export const PRUNE_EVERY = 1_000;

interface Row {
  key: string;
  text: string;
  channel: string;
  locale: string | null;
  channels: string[];
  kind: SavedQuestion['outcome']['kind'];
  entry_ids: string[];
  confidence: number;
  count: number;
  first_at: Date;
  last_at: Date;
}

/** `QuestionsStore` on PostgreSQL; the `Database` is the caller's (close it there). */
export class PgQuestionsStore implements QuestionsStore {
  private recorded = 0;
  private pruning?: Promise<void>;

  constructor(
    private readonly db: Database,
    private readonly options: { max?: number } = {},
  ) {}

  async record(asked: AskedQuestion): Promise<void> {
    const text = keptQuestion(asked.text);
    const key = questionKey(text);
    if (!key) return;
    const o = asked.outcome;
    // The latest asking sets the text, context and outcome; an older one (a replay) only counts.
    await this.db.query(
      `INSERT INTO kb_questions AS q (key, text, channel, locale, channels, kind, entry_ids, confidence, count, first_at, last_at)
       VALUES ($1, $2, $3, $4, ARRAY[$3], $5, $6, $7, 1, $8, $8)
       ON CONFLICT (key) DO UPDATE SET
         count = q.count + 1,
         channels = CASE WHEN $3 = ANY(q.channels) THEN q.channels ELSE (SELECT array_agg(c ORDER BY c) FROM unnest(q.channels || $3::text) c) END,
         first_at = LEAST(q.first_at, excluded.first_at),
         text = CASE WHEN excluded.last_at >= q.last_at THEN excluded.text ELSE q.text END,
         channel = CASE WHEN excluded.last_at >= q.last_at THEN excluded.channel ELSE q.channel END,
         locale = CASE WHEN excluded.last_at >= q.last_at THEN COALESCE(excluded.locale, q.locale) ELSE q.locale END,
         kind = CASE WHEN excluded.last_at >= q.last_at THEN excluded.kind ELSE q.kind END,
         entry_ids = CASE WHEN excluded.last_at >= q.last_at THEN excluded.entry_ids ELSE q.entry_ids END,
         confidence = CASE WHEN excluded.last_at >= q.last_at THEN excluded.confidence ELSE q.confidence END,
         last_at = GREATEST(q.last_at, excluded.last_at)`,
      [key, text, asked.channel, asked.locale ?? null, o.kind, o.entryIds, o.confidence, asked.at],
      'PgQuestionsStore.record',
    );
    if (++this.recorded % PRUNE_EVERY === 0) await this.prune();
  }

  /** Deletes all but the `max` most important questions (one at a time per process). */
  async prune(): Promise<void> {
    this.pruning ??= this.db
      .query(
        'DELETE FROM kb_questions WHERE key IN (SELECT key FROM kb_questions ORDER BY count DESC, last_at DESC, key OFFSET $1)',
        [this.options.max ?? MAX_SAVED_QUESTIONS],
        'PgQuestionsStore.prune',
      )
      .then(() => undefined)
      .finally(() => {
        this.pruning = undefined;
      });
    await this.pruning;
  }

  async list(limit = this.options.max ?? MAX_SAVED_QUESTIONS): Promise<SavedQuestion[]> {
    const { rows } = await this.db.query<Row>(
      'SELECT * FROM kb_questions ORDER BY count DESC, last_at DESC, key LIMIT $1',
      [limit],
      'PgQuestionsStore.list',
    );
    return rows.map((r) => ({
      key: r.key,
      text: r.text,
      channel: r.channel,
      ...(r.locale !== null ? { locale: r.locale } : {}),
      channels: r.channels,
      outcome: { kind: r.kind, entryIds: r.entry_ids, confidence: Math.round(r.confidence * 1000) / 1000 },
      count: r.count,
      firstAt: r.first_at.toISOString(),
      lastAt: r.last_at.toISOString(),
    }));
  }

  async deleteOlderThan(before: Date): Promise<number> {
    const { rowCount } = await this.db.query('DELETE FROM kb_questions WHERE last_at < $1', [before], 'PgQuestionsStore.deleteOlderThan');
    return rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pruning?.catch(() => undefined);
  }
}
