/**
 * How much of the customer's words the bot keeps in conversation state. State is read and rewritten
 * on every turn, so it must not grow with what one customer sends: the bot keeps the last few
 * unanswered questions, each cut short, and the question its open prompt refers to, cut short. The
 * transcript keeps every message whole (the agent reads it there).
 */
import { clipText } from '../handoff/limits.js';

/**
 * Unanswered questions kept: enough to offer a person after `MISSES_BEFORE_OFFER` (2) in a row and to
 * tell the agent what came just before; older ones are in the transcript.
 */
export const MAX_KEPT_MISSES = 3;
/**
 * Each kept question (a miss, the query of "Did this help?" or of suggestions): a question that
 * needs more than a paragraph to ask is read by the agent in the transcript.
 */
export const KEPT_TEXT_CHARS = 500;

/** A customer's question as state keeps it. */
export function keptText(text: string): string {
  return clipText(text, KEPT_TEXT_CHARS);
}

/** The misses after one more: the last `MAX_KEPT_MISSES`, each cut to `KEPT_TEXT_CHARS`. */
export function keepMiss(misses: readonly string[] | undefined, query: string): string[] {
  return [...(misses ?? []), keptText(query)].slice(-MAX_KEPT_MISSES);
}
