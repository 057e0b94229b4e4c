/**
 * The knowledge search index: ranks entries for a customer's message and says how sure it is.
 * First version: stemmed word TF-IDF, best phrasing per entry.
 */
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { Decision, KnowledgeEntry, KnowledgeSearcher, SearchContext, SearchMatch, SearchOptions } from './types.js';

/** Confidence at or above which the bot answers with the top entry. */
export const ANSWER_THRESHOLD = 0.5;
/** Confidence at or above which close entries are offered as suggestions. */
export const SUGGEST_THRESHOLD = 0.3;

/** Lower-cases, strips accents and punctuation, splits into words. */
export function tokenize(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** A light English stemmer (plural, -ing, -ed, -ly), enough to match "paying" with "pay". */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3) return w;
  if (w.endsWith('ies') && w.length > 4) w = w.slice(0, -3) + 'y';
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) w = w.slice(0, -1);
  if (w.endsWith('ing') && w.length > 5) w = w.slice(0, -3);
  else if (w.endsWith('ed') && w.length > 4) w = w.slice(0, -2);
  else if (w.endsWith('ly') && w.length > 4) w = w.slice(0, -2);
  return w;
}

type Vec = Map<string, number>;

function unitVector(terms: string[], idf: (t: string) => number): Vec {
  const v: Vec = new Map();
  for (const t of terms) v.set(t, (v.get(t) ?? 0) + 1);
  let norm = 0;
  for (const [t, n] of v) {
    const w = (1 + Math.log(n)) * idf(t);
    v.set(t, w);
    norm += w * w;
  }
  norm = Math.sqrt(norm) || 1;
  for (const [t, w] of v) v.set(t, w / norm);
  return v;
}

/** Whether an entry may be shown in this context (validity dates, channel, locale). */
export function isAvailable(entry: KnowledgeEntry, context: SearchContext, now: Date): boolean {
  const day = now.toISOString().slice(0, 10);
  if (entry.validFrom && day < entry.validFrom) return false;
  if (entry.validUntil && day > entry.validUntil) return false;
  if (context.channel && entry.channels && !entry.channels.includes(context.channel as never)) return false;
  const locale = (context.locale ?? 'en').toLowerCase();
  const entryLocale = (entry.locale ?? 'en').toLowerCase();
  if (entryLocale !== locale && entryLocale !== locale.split(/[-_]/)[0]) return false;
  return true;
}

/** An immutable index over a set of entries; KnowledgeBase swaps whole indexes on reload. */
export class KnowledgeIndex implements KnowledgeSearcher {
  private readonly clock: Clock;
  private readonly byId = new Map<string, KnowledgeEntry>();
  private readonly idf = new Map<string, number>();
  private readonly postings = new Map<string, { phrasing: number; weight: number }[]>();
  private readonly phrasingEntry: number[] = [];

  private constructor(
    readonly entries: readonly KnowledgeEntry[],
    options: { clock?: Clock },
  ) {
    this.clock = options.clock ?? systemClock;
    const docs: string[][] = [];
    entries.forEach((entry, i) => {
      this.byId.set(entry.id, entry);
      for (const text of [entry.question, ...entry.alternates]) {
        docs.push(tokenize(text).map(stem));
        this.phrasingEntry.push(i);
      }
    });
    const df = new Map<string, number>();
    for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
    for (const [t, n] of df) this.idf.set(t, Math.log((docs.length + 1) / (n + 0.5)));
    docs.forEach((d, p) => {
      for (const [t, w] of unitVector(d, (x) => this.idf.get(x) ?? 0)) {
        let list = this.postings.get(t);
        if (!list) this.postings.set(t, (list = []));
        list.push({ phrasing: p, weight: w });
      }
    });
  }

  /** Builds the index; `clock` decides which entries are currently valid. */
  static build(entries: KnowledgeEntry[], options: { clock?: Clock } = {}): KnowledgeIndex {
    return new KnowledgeIndex(entries, options);
  }

  search(query: string, options: SearchOptions = {}): SearchMatch[] {
    const limit = options.limit ?? 5;
    const now = options.now ?? this.clock.now();
    const maxIdf = Math.log((this.phrasingEntry.length + 1) / 0.5);
    const q = unitVector(tokenize(query).map(stem), (t) => this.idf.get(t) ?? maxIdf);
    const scores = new Map<number, number>();
    for (const [t, w] of q) {
      for (const p of this.postings.get(t) ?? []) scores.set(p.phrasing, (scores.get(p.phrasing) ?? 0) + w * p.weight);
    }
    const best = new Map<number, number>();
    for (const [p, s] of scores) {
      const e = this.phrasingEntry[p]!;
      if (s > (best.get(e) ?? 0)) best.set(e, s);
    }
    return [...best]
      .filter(([e]) => isAvailable(this.entries[e]!, options, now))
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([e, s]) => ({ entry: this.entries[e]!, confidence: Math.min(1, Math.max(0, s)) }));
  }

  decide(query: string, context: SearchContext = {}): Decision {
    const matches = this.search(query, { ...context, limit: 5 });
    const top = matches[0];
    if (top && top.confidence >= ANSWER_THRESHOLD) return { kind: 'answer', match: top, matches };
    const close = matches.filter((m) => m.confidence >= SUGGEST_THRESHOLD).slice(0, 3);
    if (close.length > 0) return { kind: 'suggest', matches: close };
    return { kind: 'none', matches };
  }

  get(id: string, context: SearchContext = {}): KnowledgeEntry | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    return isAvailable(entry, context, context.now ?? this.clock.now()) ? entry : undefined;
  }
}
