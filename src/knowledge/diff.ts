/**
 * What a knowledge change breaks: the saved customer questions (questions-store.ts) replayed against
 * two versions of the knowledge, and every question whose outcome changes — another entry, an answer
 * becoming a suggestion or a miss, or the reverse. `npm run kb -- diff` prints it; the server computes it
 * after each reload for the console (reload-diff.ts).
 *
 * Both versions decide with the bot's own rules (`KnowledgeSearcher.decide`, the default thresholds,
 * small-talk suggestions dropped as FaqBot does), in the channel and locale each question was last asked
 * in, at the same moment. A change only in confidence is not a change: the customer gets the same reply.
 *
 * The replay yields to the event loop every `REPLAY_SLICE_MS`, so a server computing it after a reload
 * keeps answering customers meanwhile.
 */
import { performance } from 'node:perf_hooks';
import { outcomeOf, type QuestionOutcome, type SavedQuestion } from './questions-store.js';
import type { KnowledgeSearcher } from './types.js';

/** Longest stretch of replaying between two yields to the event loop. */
export const REPLAY_SLICE_MS = 8;

/** One question whose outcome changes, with how often customers asked it. */
export interface ChangedQuestion {
  question: string;
  count: number;
  channels: string[];
  lastAt: string;
  before: QuestionOutcome;
  after: QuestionOutcome;
}

/** The result of a replay: how many questions were replayed, and those that change, most asked first. */
export interface KnowledgeDiff {
  questions: number;
  /** Customers' askings of those questions in all (the sum of their counts). */
  asked: number;
  changed: ChangedQuestion[];
  /** Askings of the changed questions. */
  changedAsked: number;
  ms: number;
  /** What `after` gives each question (by `replayKey`): pass it as the next replay's `beforeOutcomes`. */
  afterOutcomes: Map<string, QuestionOutcome>;
}

/** Options of `diffKnowledge`. */
export interface DiffOptions {
  /** The moment both versions are asked at (validity dates); default now. */
  now?: Date;
  /** Stops the replay at its next yield (a newer reload supersedes it); the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * What `before` gives the questions (by `replayKey`), from the previous replay's `afterOutcomes`, valid
   * for the same index on the same UTC day (validity dates); those questions are searched once, not twice.
   */
  beforeOutcomes?: ReadonlyMap<string, QuestionOutcome>;
}

/** A question in the context it is replayed in: the same text on another channel may get another entry. */
export function replayKey(q: Pick<SavedQuestion, 'key' | 'channel' | 'locale'>): string {
  return `${q.key}\u0000${q.channel}\u0000${q.locale ?? ''}`;
}

/** Whether two outcomes are the same reply for the customer: the same kind with the same entries. */
export function sameOutcome(a: QuestionOutcome, b: QuestionOutcome): boolean {
  if (a.kind !== b.kind || a.entryIds.length !== b.entryIds.length) return false;
  // Suggestions are compared as a set: the same three offered in another order is the same choice.
  const ids = a.kind === 'suggest' ? [...a.entryIds].sort() : a.entryIds;
  const other = b.kind === 'suggest' ? [...b.entryIds].sort() : b.entryIds;
  return ids.every((id, i) => id === other[i]);
}

/** An outcome in words: `answer billing/pay (0.82)`, `suggest a, b (0.41)`, `miss (best 0.20)`. */
export function describeOutcome(o: QuestionOutcome): string {
  const c = o.confidence.toFixed(2);
  if (o.kind === 'answer') return `answer ${o.entryIds[0]} (${c})`;
  if (o.kind === 'suggest') return `suggest ${o.entryIds.join(', ')} (${c})`;
  return `miss (best ${c})`;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Replays `questions` against `before` and `after` and returns those whose outcome changes, the most
 * asked first (then the most recently asked).
 *
 * @example
 *   const diff = await diffKnowledge(oldIndex, newIndex, await questions.list());
 *   diff.changed[0]; // { question: 'can i pay by card', count: 12, before: { kind: 'answer', ... }, after: { kind: 'suggest', ... } }
 */
export async function diffKnowledge(
  before: KnowledgeSearcher,
  after: KnowledgeSearcher,
  questions: readonly SavedQuestion[],
  options: DiffOptions = {},
): Promise<KnowledgeDiff> {
  const started = performance.now();
  const now = options.now ?? new Date();
  const changed: ChangedQuestion[] = [];
  const afterOutcomes = new Map<string, QuestionOutcome>();
  let asked = 0;
  let sliceStart = performance.now();
  for (const q of questions) {
    if (performance.now() - sliceStart >= REPLAY_SLICE_MS) {
      await yieldToEventLoop();
      options.signal?.throwIfAborted();
      sliceStart = performance.now();
    }
    asked += q.count;
    const context = { channel: q.channel, locale: q.locale, now };
    const key = replayKey(q);
    const b = options.beforeOutcomes?.get(key) ?? outcomeOf(before.decide(q.text, context));
    const a = outcomeOf(after.decide(q.text, context));
    afterOutcomes.set(key, a);
    if (!sameOutcome(b, a)) changed.push({ question: q.text, count: q.count, channels: q.channels, lastAt: q.lastAt, before: b, after: a });
  }
  changed.sort((x, y) => y.count - x.count || (x.lastAt < y.lastAt ? 1 : x.lastAt > y.lastAt ? -1 : 0));
  const changedAsked = changed.reduce((n, c) => n + c.count, 0);
  return { questions: questions.length, asked, changed, changedAsked, ms: performance.now() - started, afterOutcomes };
}
