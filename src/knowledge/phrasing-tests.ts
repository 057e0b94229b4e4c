/**
 * `tests:` in an entry's front matter: ways customers ask that must reach that entry as the bot's
 * answer. `kb check` searches each one with the bot's own decision rules and reports every phrasing that
 * does not, at its line in the front matter:
 *
 *   billing/pay-bill.md:9: tests: "can I pay with my visa" reaches billing/direct-debit (0.61) instead of billing/pay-bill
 *
 * The phrasings are not trained on (they are not alternates), so a passing test says the search finds
 * the entry from words it was not given.
 */
import { outcomeOf } from './questions-store.js';
import { ANSWER_THRESHOLD, HANDOFF_ANSWER_THRESHOLD } from './search.js';
import type { KnowledgeEntry, KnowledgeProblem, KnowledgeSearcher, SearchContext } from './types.js';

/** A phrasing longer than this is cut in the message (the line number points at all of it). */
const SHOWN_PHRASING_CHARS = 80;

function quoted(text: string): string {
  return JSON.stringify(text.length > SHOWN_PHRASING_CHARS ? `${text.slice(0, SHOWN_PHRASING_CHARS - 1)}…` : text);
}

/**
 * Where the entry is served: its locale, its first channel when it is not on all, and a day it is valid
 * on (today when it is, else its first or last day), so an offer for next month can be tested today.
 */
function contextFor(entry: KnowledgeEntry, now: Date): SearchContext {
  const today = now.toISOString().slice(0, 10);
  const day = entry.validFrom && today < entry.validFrom ? entry.validFrom : entry.validUntil && today > entry.validUntil ? entry.validUntil : undefined;
  return { locale: entry.locale, ...(entry.channels ? { channel: entry.channels[0] } : {}), now: day ? new Date(`${day}T12:00:00Z`) : now };
}

/** Every `tests:` phrasing of `entries` that `knowledge` does not answer with its entry, as problems. */
export function checkPhrasingTests(entries: readonly KnowledgeEntry[], knowledge: KnowledgeSearcher, now = new Date()): KnowledgeProblem[] {
  const problems: KnowledgeProblem[] = [];
  for (const entry of entries) {
    if (!entry.tests?.length) continue;
    const context = contextFor(entry, now);
    for (const test of entry.tests) {
      const o = outcomeOf(knowledge.decide(test.text, context));
      if (o.kind === 'answer' && o.entryIds[0] === entry.id) continue;
      const c = o.confidence.toFixed(2);
      const needed = (entry.handoff ? HANDOFF_ANSWER_THRESHOLD : ANSWER_THRESHOLD).toFixed(2);
      const message =
        o.kind === 'answer' ? `reaches ${o.entryIds[0]} (${c}) instead of ${entry.id}`
        : o.kind === 'suggest' && o.entryIds[0] === entry.id ? `reaches ${entry.id} only as a suggestion (${c}; an answer needs ${needed}): add a close alternate`
        : o.kind === 'suggest' ? `reaches suggestions ${o.entryIds.join(', ')} (${c}) instead of ${entry.id}`
        : `reaches nothing (best ${c}) instead of ${entry.id}`;
      problems.push({ path: entry.source.path, line: test.line, message: `tests: ${quoted(test.text)} ${message}` });
    }
  }
  return problems;
}
