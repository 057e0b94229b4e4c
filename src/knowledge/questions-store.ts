/**
 * The questions customers asked the bot, kept so an edit to the knowledge can be replayed against them
 * (`npm run kb -- diff`, and the console's "this edit changed N answers" after each reload).
 *
 * One record per question, deduplicated on its normalised text (`questionKey`: case, accents, spacing
 * and punctuation folded), holding the decision it last got (answer / suggest / miss, the entry ids, the
 * top confidence), how often and on which channels it was asked, and when it was first and last asked.
 *
 * This is customer data: the text is what a customer typed (it may hold a name, an order number or an
 * address). It is bounded three ways — each text is cut to `MAX_QUESTION_CHARS`, at most
 * `MAX_SAVED_QUESTIONS` are kept (the most asked, then the most recent, win), and `deleteOlderThan`
 * erases those not asked since a day — so retention can be applied. It is not linked to a conversation
 * or a customer id, so erasing one customer's data cannot find their questions; age is the lever.
 *
 * Two implementations: `FileQuestionsStore` (below: an append-only log in `DATA_DIR/questions`,
 * folded in memory and compacted at open) and `PgQuestionsStore` (storage/postgres/questions-store.ts,
 * table `kb_questions`, migration 0016: one upsert per question).
 *
 * @example
 *   const questions = await FileQuestionsStore.open(config.dataDir);
 *   const recorder = new QuestionRecorder(questions, { logger });
 *   recorder.record('How do I pay?', knowledge.decide('How do I pay?'), { channel: 'webchat' });
 */
import path from 'node:path';
import { SMALLTALK_TAG } from './tags.js';
import { silentLogger, type Logger } from '../log.js';
import { appendLines, parseJsonLines, readTextOrNull, writeFileAtomic } from '../storage/files.js';
import type { Decision, SearchContext } from './types.js';

/** Longest question text kept (longer ones are cut at a word): a question is a sentence, not a pasted page. */
export const MAX_QUESTION_CHARS = 300;
/**
 * At most this many distinct questions are kept; beyond it the least asked (then the least recently
 * asked) are dropped. Large enough for months of a busy help centre's distinct wordings, small enough that a
 * full replay (`kb diff`, the console's after-reload diff) stays within seconds.
 */
export const MAX_SAVED_QUESTIONS = 20_000;

/** What the bot did with a question: answered with an entry, offered suggestions, or found nothing. */
export interface QuestionOutcome {
  kind: 'answer' | 'suggest' | 'miss';
  /** The entry answered with, or the entries suggested (best first); empty for a miss. */
  entryIds: string[];
  /** Confidence of the best match (0 when there was none). */
  confidence: number;
}

/** One saved question. Times are ISO 8601 strings. */
export interface SavedQuestion {
  /** `questionKey(text)`: the deduplication key. */
  key: string;
  /** The text as last asked (cut to `MAX_QUESTION_CHARS`). */
  text: string;
  /** Channel and locale it was last asked on: the context a replay searches in. */
  channel: string;
  locale?: string;
  /** Every channel it was asked on, sorted. */
  channels: string[];
  /** The outcome it got the last time it was asked. */
  outcome: QuestionOutcome;
  count: number;
  firstAt: string;
  lastAt: string;
}

/** One asking of a question, as the bot reports it. */
export interface AskedQuestion {
  text: string;
  channel: string;
  locale?: string;
  outcome: QuestionOutcome;
  at: string;
}

/** The store both backends implement. */
export interface QuestionsStore {
  /** Counts one asking of a question (a new one is added, a known one updated). */
  record(asked: AskedQuestion): Promise<void>;
  /** The saved questions, the most asked first (then the most recently asked), at most `limit` (default all kept). */
  list(limit?: number): Promise<SavedQuestion[]>;
  /** Erases the questions last asked before `before`; returns how many. */
  deleteOlderThan(before: Date): Promise<number>;
  close(): Promise<void>;
}

/** The deduplication key: lower case, no accents or apostrophes, words joined by one space. */
export function questionKey(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’`]/g, '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .join(' ');
}

/** The text as kept: trimmed, spacing folded, cut at a word boundary to `MAX_QUESTION_CHARS`. */
export function keptQuestion(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t.length <= MAX_QUESTION_CHARS) return t;
  const head = t.slice(0, MAX_QUESTION_CHARS);
  const space = head.lastIndexOf(' ');
  return space > MAX_QUESTION_CHARS / 2 ? head.slice(0, space) : head;
}

/**
 * What the customer got for a decision, as the bot (FaqBot) acts on it: small talk is answered or not at
 * all, so suggestions of small-talk entries only are a miss.
 */
export function outcomeOf(decision: Decision): QuestionOutcome {
  const confidence = round(decision.kind === 'answer' ? decision.match.confidence : (decision.matches[0]?.confidence ?? 0));
  if (decision.kind === 'answer') return { kind: 'answer', entryIds: [decision.match.entry.id], confidence };
  const close = decision.kind === 'suggest' ? decision.matches.filter((m) => !m.entry.tags.includes(SMALLTALK_TAG)) : [];
  if (close.length > 0) return { kind: 'suggest', entryIds: close.map((m) => m.entry.id), confidence };
  return { kind: 'miss', entryIds: [], confidence };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** Most asked first, then most recently asked: the order of `list` and of what the cap keeps. */
export function byImportance(a: SavedQuestion, b: SavedQuestion): number {
  return b.count - a.count || (a.lastAt < b.lastAt ? 1 : a.lastAt > b.lastAt ? -1 : 0) || (a.key < b.key ? -1 : 1);
}

/** Folds one asking into the saved question of its key (or a new one); the rule both backends follow. */
export function foldAsked(current: SavedQuestion | undefined, asked: AskedQuestion, key: string): SavedQuestion {
  if (!current) {
    return { key, text: asked.text, channel: asked.channel, ...(asked.locale ? { locale: asked.locale } : {}), channels: [asked.channel], outcome: asked.outcome, count: 1, firstAt: asked.at, lastAt: asked.at };
  }
  const later = asked.at >= current.lastAt;
  return {
    ...current,
    ...(later ? { text: asked.text, channel: asked.channel, outcome: asked.outcome, lastAt: asked.at, ...(asked.locale ? { locale: asked.locale } : {}) } : {}),
    channels: current.channels.includes(asked.channel) ? current.channels : [...current.channels, asked.channel].sort(),
    count: current.count + 1,
    firstAt: asked.at < current.firstAt ? asked.at : current.firstAt,
  };
}

/** One line of the file store's log. */
type LogLine = ({ op: 'asked' } & AskedQuestion) | ({ op: 'saved' } & SavedQuestion);

/** The log is rewritten at open when it holds more than this many lines per question kept. */
const COMPACT_RATIO = 2;
/** The map is cut back to `MAX_SAVED_QUESTIONS` once it grows this far past it (so the cut is not paid per question). */
const CAP_SLACK = 1.1;

/**
 * The embedded store: each asking is one JSON line appended to `DATA_DIR/questions/questions.jsonl`
 * (lines arriving while a write is in flight go together in the next one); the questions live in memory.
 * At open the log is folded and, when it has grown past `COMPACT_RATIO` lines per question, rewritten as
 * one line per question kept. One process per DATA_DIR, as for the other file stores.
 */
export class FileQuestionsStore implements QuestionsStore {
  private readonly questions = new Map<string, SavedQuestion>();
  /** The lines waiting for the next append, and its promise; every appended line's caller awaits its own batch. */
  private batch?: { lines: string[]; done: Promise<void> };
  /** The last append, so appends stay in order and `compact` and `close` can wait for them. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly max: number,
  ) {}

  /**
   * Opens (creating on first write) the store under `dataDir`. `readOnly` (the CLI beside a running
   * server) never rewrites the log, so it cannot lose a line the server appends meanwhile. `max`
   * (default `MAX_SAVED_QUESTIONS`) is the cap.
   */
  static async open(dataDir: string, options: { readOnly?: boolean; max?: number } = {}): Promise<FileQuestionsStore> {
    const store = new FileQuestionsStore(path.join(dataDir, 'questions', 'questions.jsonl'), options.max ?? MAX_SAVED_QUESTIONS);
    const text = await readTextOrNull(store.file, 'FileQuestionsStore.open');
    if (!text) return store;
    const { items, skipped } = parseJsonLines<LogLine>(text);
    for (const line of items) {
      if (line.op === 'saved') {
        const { op: _op, ...saved } = line;
        store.questions.set(saved.key, saved);
      } else if (line.op === 'asked') {
        const { op: _op, ...asked } = line;
        store.apply(asked);
      }
    }
    store.cap(store.max);
    if (!options.readOnly && items.length + skipped > COMPACT_RATIO * Math.max(1, store.questions.size)) await store.compact();
    return store;
  }

  private apply(asked: AskedQuestion): void {
    const key = questionKey(asked.text);
    if (!key) return;
    this.questions.set(key, foldAsked(this.questions.get(key), asked, key));
  }

  /** Keeps the `max` most important questions. */
  private cap(max: number): void {
    if (this.questions.size <= max) return;
    const dropped = [...this.questions.values()].sort(byImportance).slice(max);
    for (const q of dropped) this.questions.delete(q.key);
  }

  /**
   * Rewrites the log as one line per question (at open, and after an erasure), in line with the appends:
   * a line recorded meanwhile is either in the rewrite or appended after it, never lost to the rename
   * nor counted twice.
   */
  private compact(): Promise<void> {
    const done = this.writing
      .catch(() => undefined)
      .then(() => {
        // The lines waiting are already in `questions`, so in the rewrite; later ones are appended after it.
        if (this.batch) this.batch.lines.length = 0;
        const lines = [...this.questions.values()].map((q) => JSON.stringify({ op: 'saved', ...q }));
        return writeFileAtomic(this.file, lines.length ? lines.join('\n') + '\n' : '', { fsync: true, where: 'FileQuestionsStore.compact' });
      });
    this.writing = done;
    return done;
  }

  async record(asked: AskedQuestion): Promise<void> {
    const line: AskedQuestion = { ...asked, text: keptQuestion(asked.text) };
    if (!questionKey(line.text)) return;
    this.apply(line);
    if (this.questions.size > this.max * CAP_SLACK) this.cap(this.max);
    await this.append(JSON.stringify({ op: 'asked', ...line }));
  }

  /** Group commit: one append carries every line that arrived while the previous append ran. */
  private append(line: string): Promise<void> {
    if (!this.batch) {
      const lines: string[] = [];
      const done = this.writing
        .catch(() => undefined)
        .then(() => {
          if (this.batch?.lines === lines) this.batch = undefined; // from here on, new lines go to the next batch
          if (lines.length === 0) return; // taken into a compaction meanwhile
          return appendLines(this.file, lines, { fsync: true, where: 'FileQuestionsStore.record' });
        });
      this.batch = { lines, done };
      this.writing = done;
    }
    this.batch.lines.push(line);
    return this.batch.done;
  }

  async list(limit = this.max): Promise<SavedQuestion[]> {
    return [...this.questions.values()].sort(byImportance).slice(0, limit).map((q) => ({ ...q, channels: [...q.channels] }));
  }

  async deleteOlderThan(before: Date): Promise<number> {
    const cut = before.toISOString();
    let n = 0;
    for (const [key, q] of this.questions) {
      if (q.lastAt < cut) {
        this.questions.delete(key);
        n++;
      }
    }
    if (n > 0) await this.compact();
    return n;
  }

  /** Waits for the writes in flight. */
  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
  }
}

/**
 * The bot's side: records each new question without the reply waiting for it. A failed write is
 * logged, never thrown: losing a saved question must not cost the customer an answer.
 */
export class QuestionRecorder {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: Pick<QuestionsStore, 'record'>,
    options: { logger?: Logger; now?: () => Date } = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
  }

  /** Saves `text` with the outcome `decision` gives it, in the background. */
  record(text: string, decision: Decision, context: SearchContext): void {
    const asked: AskedQuestion = {
      text,
      channel: context.channel ?? 'unknown',
      ...(context.locale ? { locale: context.locale } : {}),
      outcome: outcomeOf(decision),
      at: (context.now ?? this.now()).toISOString(),
    };
    const p = this.store.record(asked).catch((err: Error) => this.logger.warn('could not save a customer question', { error: err.message }));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Resolves once the questions recorded so far are stored (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }
}
