/**
 * The knowledge search index: ranks entries for a customer's message and says how sure it is.
 *
 * How a query is scored (everything is built in memory by `KnowledgeIndex.build`; a query is a few
 * sparse dot products):
 * 1. Normalise (accents, case, apostrophes), split into words; a word the index has never seen is
 *    corrected against the vocabulary (same first letter, a word start or a typo or two, ranked by
 *    fuse.js), then stemmed with a light Porter-style stemmer.
 * 2. Features: stemmed words, word bigrams, character 3/4-grams of each content word; TF-IDF with a
 *    background prior (so a 40-entry help centre does not treat "what" or "the" as rare), L2-normalised;
 *    query words still unknown after correction add to the norm, so off-topic messages look far away.
 * 3. Three signals per entry: a multinomial logistic regression over the features, trained at build
 *    time on the entry's phrasings (question + alternates) with weights only for the (feature, entry)
 *    pairs seen in training; the cosine of the nearest phrasing (word features, inverted index); and the
 *    cosine of the entry's centroid.
 * 4. Ranking blends the three; confidence (`calibrate`) blends classifier probability and nearest-phrasing
 *    similarity, so an unrelated query (flat probabilities, no close phrasing) stays low.
 *
 * Measured on CLINC150 dev with these defaults (bench/search.ts): knowledge-full top-1 91.2, top-3 97.4,
 * in-scope accuracy 90.4, out-of-scope recall 64; knowledge-5shot top-1 72.5, top-3 86.6.
 */
import Fuse from 'fuse.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { Decision, KnowledgeEntry, KnowledgeSearcher, SearchContext, SearchMatch, SearchOptions } from './types.js';

/**
 * Confidence at or above which the bot answers with the top entry.
 * How it was tuned (CLINC150 dev only; the test split was never looked at): `calibrate` was chosen
 * among blends of the signals as the one whose "reject half of the out-of-scope queries" cut-off moved
 * least between knowledge-full (100 phrasings/entry), knowledge-5shot, and 13- to 60-entry subsets
 * with 3–6 phrasings standing in for a hand-written help centre; its power maps that shared cut-off
 * to 0.5. So 0.5 means the same thing whatever the size of the knowledge base.
 */
export const ANSWER_THRESHOLD = 0.5;
/**
 * Confidence at or above which close entries are offered as suggestions (up to three) when the top one
 * is below ANSWER_THRESHOLD: low enough to catch a right entry the bot was unsure of, high enough that
 * a message about nothing in the knowledge base gets "none" rather than unrelated suggestions. Raised
 * from 0.3 on the sample knowledge's evaluation set (knowledge/eval/cases.jsonl): at 0.3, 8 of its 24
 * out-of-scope questions ("what about the weather in rome") were offered suggestions, at 0.35 2, and no
 * in-scope question lost the right suggestion.
 */
export const SUGGEST_THRESHOLD = 0.35;
/** At most this many suggestions. */
export const MAX_SUGGESTIONS = 3;
/**
 * Confidence an entry with `handoff: true` needs before the bot answers with it (and so hands the
 * conversation to a person) without asking. Higher than ANSWER_THRESHOLD because the two mistakes cost
 * differently: a wrong plain answer costs the customer one "No" to "Did this help?", a wrong handoff puts
 * them in a queue they did not ask for and costs an agent's time. Below it the entry is offered as a
 * suggestion instead, so a customer who meant it is one tap away. Set by judgement on the sample
 * knowledge's evaluation set (knowledge/eval/cases.jsonl): real requests to cancel, complain or talk to
 * a person score 0.85 and up, near misses ("freeze my contract" against cancelling) 0.6–0.7.
 */
export const HANDOFF_ANSWER_THRESHOLD = 0.75;

/** Options of `KnowledgeIndex.build`. */
export interface IndexOptions {
  /** Decides which entries are within their validity dates; tests pass `fixedClock`. */
  clock?: Clock;
}

/**
 * The bot's decision from ranked matches with the default thresholds; shared by `decide`, the eval and
 * anything that already holds the matches, so they can never disagree.
 */
export function decideFrom(matches: SearchMatch[]): Decision {
  const top = matches[0];
  if (top && top.confidence >= (top.entry.handoff ? HANDOFF_ANSWER_THRESHOLD : ANSWER_THRESHOLD)) return { kind: 'answer', match: top, matches };
  const close = matches.filter((m) => m.confidence >= SUGGEST_THRESHOLD).slice(0, MAX_SUGGESTIONS);
  if (close.length > 0) return { kind: 'suggest', matches: close };
  return { kind: 'none', matches };
}

// ---------------------------------------------------------------- text

/**
 * How much of a message the search reads. Phrasings are a sentence each and a customer's question
 * is in what they write first; beyond this a message only adds words the index has never seen, each
 * a fuzzy lookup (16,000 characters of varied words took a second on one thread), and dilutes the
 * match. Cut at a word boundary.
 */
export const SEARCH_QUERY_CHARS = 1_000;

/** The start of `query` the search reads (see `SEARCH_QUERY_CHARS`). */
export function searchedText(query: string): string {
  if (query.length <= SEARCH_QUERY_CHARS) return query;
  const head = query.slice(0, SEARCH_QUERY_CHARS);
  const space = head.search(/\s\S*$/);
  return space > 0 ? head.slice(0, space) : head;
}

/** Lower-cases, strips accents and apostrophes, splits on anything that is not a letter or digit. */
export function tokenize(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’`]/g, '')
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

const VOWEL = /[aeiouy]/;

/**
 * A light English stemmer in the spirit of Porter2 step 1 (plurals, -ed, -ing) plus -ly and a final -e,
 * so "charged", "charging", "charges" and "charge" all meet at "charg". Only has to be consistent
 * between the index and the query, not linguistically exact.
 */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3 || /\d/.test(w)) return w;
  if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('ies')) w = w.length > 4 ? w.slice(0, -3) + 'i' : w.slice(0, -1);
  else if (/(?:ss|us|is)$/.test(w)) {
    /* keep: class, status, this */
  } else if (/(?:ches|shes|xes|zes)$/.test(w)) w = w.slice(0, -2);
  else if (w.endsWith('s')) w = w.slice(0, -1);
  const stripped = /^(.*?)(?:ingly|edly|ing|ed|ly)$/.exec(w);
  if (stripped && stripped[1]!.length >= 3 && VOWEL.test(stripped[1]!)) {
    w = stripped[1]!;
    if (/([bdfgmnprt])\1$/.test(w)) w = w.slice(0, -1);
  }
  if (w.endsWith('y') && w.length > 3 && !VOWEL.test(w[w.length - 2]!)) w = w.slice(0, -1) + 'i';
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  return w;
}

/** Whether an entry may be shown in this context: validity days (inclusive, UTC), channel, locale. */
export function isAvailable(entry: KnowledgeEntry, context: SearchContext, now: Date): boolean {
  return availableOn(entry, context, now.toISOString().slice(0, 10));
}

function availableOn(entry: KnowledgeEntry, context: SearchContext, day: string): boolean {
  if (entry.validFrom && day < entry.validFrom) return false;
  if (entry.validUntil && day > entry.validUntil) return false;
  if (context.channel && entry.channels && !(entry.channels as readonly string[]).includes(context.channel)) return false;
  return sameLocale(entry.locale ?? 'en', context.locale ?? 'en');
}

/** `en-US` asks for `en` content and the other way round; `fr` never gets `en`. */
function sameLocale(entryLocale: string, wanted: string): boolean {
  const a = entryLocale.toLowerCase().replace('_', '-');
  const b = wanted.toLowerCase().replace('_', '-');
  return a === b || a.split('-')[0] === b.split('-')[0];
}

// ---------------------------------------------------------------- sparse vectors

interface SparseVector {
  ids: Int32Array;
  values: Float32Array;
}

const EMPTY: SparseVector = { ids: new Int32Array(0), values: new Float32Array(0) };

/** Feature strings of one (already corrected and stemmed) word list. */
function wordFeatures(stems: string[]): string[] {
  const out: string[] = [];
  for (const s of stems) out.push(s);
  for (let i = 0; i + 1 < stems.length; i++) {
    if (!STOP_STEMS.has(stems[i]!) || !STOP_STEMS.has(stems[i + 1]!)) out.push(stems[i] + '_' + stems[i + 1]);
  }
  return out;
}

/**
 * Function words. A small knowledge base sees "what" or "the" in only a few phrasings, so plain IDF
 * would rate them as rare and telling; they get a background document frequency (below), no
 * character n-grams, and are never spelling-corrected.
 */
const STOPWORDS = new Set(
  (
    'a an the and or but if of to in on at by for with from into about as is are was were be been being am do does did ' +
    'have has had i me my mine we us our you your he him his she her it its they them their this that these those ' +
    'what which who whom whose when where why how can could would should will shall may might must ' +
    'there here than then so too very just also not no please any some all t s im ive id dont doesnt cant'
  ).split(' '),
);
const STOP_STEMS = new Set([...STOPWORDS].map(stem));
const STOPWORD_DF_SHARE = 0.25;
/**
 * Document frequencies are counted as if the knowledge base also held this many background phrasings
 * (where function words occur at STOPWORD_DF_SHARE and content words almost never): a prior that keeps
 * IDF meaningful for a 40-entry help centre, and barely matters for 15,000 phrasings.
 */
const BACKGROUND_PHRASINGS = 1000;

function charFeatures(words: string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    if (STOPWORDS.has(w)) continue;
    const s = ' ' + w + ' ';
    for (let n = 3; n <= 4; n++) for (let i = 0; i + n <= s.length; i++) out.push('#' + s.slice(i, i + n));
  }
  return out;
}

/** Hard limits that keep build time and memory bounded for very large knowledge bases. */
const CLASSIFIER_MAX_WORK = 600_000_000; // multiply-adds over all passes: about a second

// ---------------------------------------------------------------- the index

/** An immutable, searchable snapshot of a set of entries; `KnowledgeBase` swaps whole indexes on reload. */
export class KnowledgeIndex implements KnowledgeSearcher {
  private readonly clock: Clock;
  private readonly byId = new Map<string, KnowledgeEntry>();
  /** Surface words seen in any phrasing (for spelling correction) and their stems. */
  private readonly surface = new Set<string>();
  private readonly stems = new Set<string>();
  private readonly corrections = new Map<string, string | null>();
  /** Vocabulary words by first letter, for spelling correction. */
  private readonly byInitial = new Map<string, string[]>();
  private readonly surfaceList: string[] = [];
  /** Feature id per feature string, inverse document frequency per feature id. */
  private readonly featureIds = new Map<string, number>();
  private idf = new Float32Array(0);
  /** Weight of a query word the index has never seen: as rare as a word can be. */
  private unknownWeight = 1;
  /** Word-feature postings over phrasings for nearest-phrasing search. */
  private postingStart = new Int32Array(0);
  private postingPhrasing = new Int32Array(0);
  private postingWeight = new Float32Array(0);
  private phrasingEntry = new Int32Array(0);
  /** Centroid postings: feature → (entry, weight). */
  private centroidStart = new Int32Array(0);
  private centroidEntry = new Int32Array(0);
  private centroidWeight = new Float32Array(0);
  /** Classifier weights aligned with the centroid postings, or undefined when training would be too slow. */
  private weights: Float32Array | undefined;
  private bias = new Float32Array(0);
  private scratch: Float32Array | undefined;
  private touched: Int32Array | undefined;
  private counts: Float64Array | undefined;

  private constructor(
    /** The entries this index was built from, in load order. */
    readonly entries: readonly KnowledgeEntry[],
    options: IndexOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    for (const e of entries) this.byId.set(e.id, e);
    this.train();
  }

  /** Builds the index (vocabulary, postings, classifier); `clock` decides which entries are valid now. */
  static build(entries: KnowledgeEntry[], options: IndexOptions = {}): KnowledgeIndex {
    return new KnowledgeIndex(entries, options);
  }

  // ------------------------------------------------------------ build

  private train(): void {
    const phrasingWords: string[][] = [];
    const phrasingEntry: number[] = [];
    this.entries.forEach((entry, e) => {
      for (const text of [entry.question, ...entry.alternates]) {
        const words = tokenize(text);
        if (words.length === 0) continue;
        phrasingWords.push(words);
        phrasingEntry.push(e);
        for (const w of words) this.surface.add(w);
      }
    });
    this.phrasingEntry = Int32Array.from(phrasingEntry);
    for (const w of this.surface) {
      this.stems.add(stem(w));
      this.surfaceList.push(w);
    }
    for (const w of this.surfaceList) {
      let list = this.byInitial.get(w[0]!);
      if (!list) this.byInitial.set(w[0]!, (list = []));
      list.push(w);
    }

    // Feature ids and document frequencies.
    const docs = phrasingWords.map((words) => {
      const f = this.featureStrings(words);
      return { word: f.word.map((x) => this.featureId(x)), char: f.char.map((x) => this.featureId(x)) };
    });
    const df = new Int32Array(this.featureIds.size);
    const lastDoc = new Int32Array(this.featureIds.size).fill(-1);
    docs.forEach((doc, d) => {
      for (const ids of [doc.word, doc.char]) {
        for (const id of ids) {
          if (lastDoc[id] !== d) {
            lastDoc[id] = d;
            df[id]!++;
          }
        }
      }
    });
    const n = docs.length;
    const stopIds = new Set([...STOPWORDS].map((w) => this.featureIds.get(stem(w))).filter((id) => id !== undefined));
    this.idf = Float32Array.from(df, (d: number, id: number) => {
      const prior = stopIds.has(id) ? STOPWORD_DF_SHARE * BACKGROUND_PHRASINGS : 0;
      return Math.log((n + BACKGROUND_PHRASINGS + 1) / (d + prior + 1)) + 1;
    });
    this.unknownWeight = Math.log(n + BACKGROUND_PHRASINGS + 1) + 1;

    const wordVectors = docs.map((d) => this.vectorizeIds(d.word, []));
    const fullVectors = docs.map((d) => this.vectorizeIds(d.word, d.char));
    this.buildPostings(wordVectors);
    this.buildCentroids(fullVectors);
    this.trainClassifier(fullVectors);
    // A few searches over its own phrasings let the JIT compile the query path before customers arrive.
    for (let i = 0; i < Math.min(WARM_UP_QUERIES, phrasingWords.length); i++) {
      this.signals(phrasingWords[Math.floor((i * phrasingWords.length) / WARM_UP_QUERIES)]!.join(' '));
    }
  }

  private featureStrings(words: string[]): { word: string[]; char: string[] } {
    const stems = words.map(stem);
    return { word: wordFeatures(stems), char: charFeatures(words) };
  }

  /** The id of a feature string, assigning the next one to a new feature (build time only). */
  private featureId(feature: string): number {
    let id = this.featureIds.get(feature);
    if (id === undefined) {
      id = this.featureIds.size;
      this.featureIds.set(feature, id);
    }
    return id;
  }

  /** Ids of the known features among `features` (query time: unknown ones are dropped). */
  private knownIds(features: string[]): number[] {
    const out: number[] = [];
    for (const f of features) {
      const id = this.featureIds.get(f);
      if (id !== undefined) out.push(id);
    }
    return out;
  }

  /**
   * TF-IDF, sublinear tf, L2-normalised; character n-grams get half the weight of words. `unknown`
   * (query words the index has never seen) only adds to the norm: a message that is mostly about
   * things the knowledge base never mentions cannot look like a close match.
   */
  private vectorizeIds(word: number[], char: number[], unknown = 0): SparseVector {
    const counts = (this.counts ??= new Float64Array(this.idf.length));
    const seen: number[] = [];
    for (const id of word) {
      if (counts[id] === 0) seen.push(id);
      counts[id]! += 1;
    }
    for (const id of char) {
      if (counts[id] === 0) seen.push(id);
      counts[id]! += CHAR_SCALE;
    }
    if (seen.length === 0) return EMPTY;
    const ids = Int32Array.from(seen);
    const values = new Float32Array(seen.length);
    let norm = unknown * this.unknownWeight * this.unknownWeight;
    for (let k = 0; k < seen.length; k++) {
      const id = seen[k]!;
      const c = counts[id]!;
      counts[id] = 0;
      const v = (c < 1 ? c : 1 + Math.log(c)) * this.idf[id]!;
      values[k] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < seen.length; k++) values[k] = values[k]! / norm;
    return { ids, values };
  }

  private buildPostings(vectors: SparseVector[]): void {
    const F = this.idf.length;
    const start = new Int32Array(F + 1);
    for (const v of vectors) for (const id of v.ids) start[id + 1]!++;
    for (let f = 0; f < F; f++) start[f + 1]! += start[f]!;
    const fill = start.slice(0, F);
    const total = start[F]!;
    this.postingPhrasing = new Int32Array(total);
    this.postingWeight = new Float32Array(total);
    vectors.forEach((v, p) => {
      for (let i = 0; i < v.ids.length; i++) {
        const at = fill[v.ids[i]!]!++;
        this.postingPhrasing[at] = p;
        this.postingWeight[at] = v.values[i]!;
      }
    });
    this.postingStart = start;
  }

  private buildCentroids(vectors: SparseVector[]): void {
    const E = this.entries.length;
    const sums: Map<number, number>[] = Array.from({ length: E }, () => new Map());
    vectors.forEach((v, p) => {
      const m = sums[this.phrasingEntry[p]!]!;
      for (let i = 0; i < v.ids.length; i++) m.set(v.ids[i]!, (m.get(v.ids[i]!) ?? 0) + v.values[i]!);
    });
    const F = this.idf.length;
    const start = new Int32Array(F + 1);
    const norms = sums.map((m) => {
      let s = 0;
      for (const [id, v] of m) {
        s += v * v;
        start[id + 1]!++;
      }
      return Math.sqrt(s) || 1;
    });
    for (let f = 0; f < F; f++) start[f + 1]! += start[f]!;
    const fill = start.slice(0, F);
    this.centroidEntry = new Int32Array(start[F]!);
    this.centroidWeight = new Float32Array(start[F]!);
    sums.forEach((m, e) => {
      for (const [id, v] of m) {
        const at = fill[id]!++;
        this.centroidEntry[at] = e;
        this.centroidWeight[at] = v / norms[e]!;
      }
    });
    this.centroidStart = start;
  }

  /**
   * Multinomial logistic regression by plain SGD with a decaying step. Weights exist only for the
   * (feature, entry) pairs seen in training — the centroid postings — as in CRFsuite's "supported
   * features": far less work per step than a dense matrix, and it scales with the data, not with
   * entries × vocabulary. Passes grow for small knowledge bases (few phrasings need more passes).
   */
  private trainClassifier(vectors: SparseVector[]): void {
    const C = this.entries.length;
    const N = vectors.length;
    this.bias = new Float32Array(C);
    if (C < 2 || N === 0) return;
    const epochs = Math.min(MAX_EPOCHS, Math.max(MIN_EPOCHS, Math.round(TRAINING_STEPS / N)));
    const start = this.centroidStart;
    const entryOf = this.centroidEntry;

    let work = 0;
    for (const v of vectors) {
      work += C;
      for (const id of v.ids) work += start[id + 1]! - start[id]!;
    }
    if (work * epochs > CLASSIFIER_MAX_WORK) return;
    const W = new Float32Array(entryOf.length);
    const b = this.bias;
    const y = this.phrasingEntry;
    const order = Int32Array.from({ length: N }, (_, i) => i);
    const s = new Float64Array(C);
    const learned = new Uint8Array(N);
    let seed = 12345;
    for (let epoch = 0; epoch < epochs; epoch++) {
      for (let i = N - 1; i > 0; i--) {
        seed = (seed * 16807) % 2147483647;
        const j = seed % (i + 1);
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      const rate = LEARNING_RATE / (1 + epoch * (MIN_EPOCHS / epochs));
      for (let n = 0; n < N; n++) {
        const p = order[n]!;
        // Learned in the last pass: rest this pass (checked again in the next one).
        if (learned[p]) {
          learned[p] = 0;
          continue;
        }
        const { ids, values } = vectors[p]!;
        s.set(b);
        for (let i = 0; i < ids.length; i++) {
          const x = values[i]!;
          for (let k = start[ids[i]!]!, end = start[ids[i]! + 1]!; k < end; k++) s[entryOf[k]!] += W[k]! * x;
        }
        let max = -Infinity;
        for (let c = 0; c < C; c++) if (s[c]! > max) max = s[c]!;
        let z = 0;
        for (let c = 0; c < C; c++) {
          const e = Math.exp(s[c]! - max);
          s[c] = e;
          z += e;
        }
        const yp = y[p]!;
        if (s[yp]! / z >= CONFIDENT_ENOUGH) {
          learned[p] = 1; // nothing left to learn from this phrasing
          continue;
        }
        for (let c = 0; c < C; c++) {
          const g = s[c]! / z - (c === yp ? 1 : 0);
          s[c] = g;
          b[c] = b[c]! - rate * BIAS_RATE * g;
        }
        for (let i = 0; i < ids.length; i++) {
          const x = values[i]! * rate;
          for (let k = start[ids[i]!]!, end = start[ids[i]! + 1]!; k < end; k++) {
            const g = s[entryOf[k]!]!;
            if (g > 1e-4 || g < -1e-4) W[k] = W[k]! - x * g;
          }
        }
      }
    }
    this.weights = W;
  }

  // ------------------------------------------------------------ query

  /** Query words after spelling correction against the index vocabulary. */
  private correct(words: string[]): string[] {
    return words.map((w) => {
      if (this.surface.has(w) || STOPWORDS.has(w) || this.stems.has(stem(w)) || w.length < 4 || /\d/.test(w)) return w;
      let fixed = this.corrections.get(w);
      if (fixed === undefined) {
        fixed = this.fuzzy(w);
        if (this.corrections.size > 10_000) this.corrections.clear();
        this.corrections.set(w, fixed);
      }
      return fixed ?? w;
    });
  }

  /**
   * Candidates are the vocabulary words that start with the same letter (typos rarely hit the first
   * letter, and it keeps real but unknown words such as "emergency" from becoming "detergent") and are a
   * plausible correction (a word start, or a typo or two); fuse.js (Bitap) ranks them, so "pasword"
   * goes to "password" rather than "passport".
   */
  private fuzzy(word: string): string | null {
    const candidates = (this.byInitial.get(word[0]!) ?? []).filter((known) => plausibleCorrection(word, known));
    if (candidates.length === 0) return null;
    if (candidates.length === 1) return candidates[0]!;
    const fuse = new Fuse(candidates, { includeScore: true, ignoreLocation: true, threshold: 1 });
    const ranked = fuse.search(word, { limit: 1 })[0];
    return ranked ? ranked.item : candidates[0]!;
  }

  /** Per-entry signals for a query: classifier probability, nearest phrasing cosine, centroid cosine. */
  private signals(query: string): { prob: Float32Array; nearest: Float32Array; centroid: Float32Array } {
    const C = this.entries.length;
    const words = this.correct(tokenize(searchedText(query)));
    const f = this.featureStrings(words);
    let unknown = 0;
    for (const w of words) if (!STOPWORDS.has(w) && !this.featureIds.has(stem(w))) unknown++;
    const wordIds = this.knownIds(f.word);
    const q = this.vectorizeIds(wordIds, this.knownIds(f.char), unknown);
    const qWord = this.vectorizeIds(wordIds, [], unknown);
    const prob = new Float32Array(C);
    const nearest = new Float32Array(C);
    const centroid = new Float32Array(C);
    if (q.ids.length === 0) return { prob, nearest, centroid };

    // Scratch space reused across queries (search is synchronous, so no two queries share it at once).
    const phr = (this.scratch ??= new Float32Array(this.phrasingEntry.length));
    const touched = (this.touched ??= new Int32Array(this.phrasingEntry.length));
    let nTouched = 0;
    for (let i = 0; i < qWord.ids.length; i++) {
      const id = qWord.ids[i]!;
      const x = qWord.values[i]!;
      for (let k = this.postingStart[id]!; k < this.postingStart[id + 1]!; k++) {
        const p = this.postingPhrasing[k]!;
        if (phr[p] === 0) touched[nTouched++] = p;
        phr[p] = phr[p]! + x * this.postingWeight[k]!;
      }
    }
    for (let t = 0; t < nTouched; t++) {
      const p = touched[t]!;
      const e = this.phrasingEntry[p]!;
      if (phr[p]! > nearest[e]!) nearest[e] = phr[p]!;
      phr[p] = 0;
    }
    for (let i = 0; i < q.ids.length; i++) {
      const id = q.ids[i]!;
      const x = q.values[i]!;
      for (let k = this.centroidStart[id]!; k < this.centroidStart[id + 1]!; k++) {
        const e = this.centroidEntry[k]!;
        centroid[e] = centroid[e]! + x * this.centroidWeight[k]!;
      }
    }
    const W = this.weights;
    if (W) {
      prob.set(this.bias);
      for (let i = 0; i < q.ids.length; i++) {
        const id = q.ids[i]!;
        const x = q.values[i]!;
        for (let k = this.centroidStart[id]!; k < this.centroidStart[id + 1]!; k++) {
          const e = this.centroidEntry[k]!;
          prob[e] = prob[e]! + W[k]! * x;
        }
      }
      let max = -Infinity;
      for (let c = 0; c < C; c++) if (prob[c]! > max) max = prob[c]!;
      let z = 0;
      for (let c = 0; c < C; c++) {
        prob[c] = Math.exp(prob[c]! - max);
        z += prob[c]!;
      }
      for (let c = 0; c < C; c++) prob[c] = prob[c]! / z;
    }
    return { prob, nearest, centroid };
  }

  /**
   * The raw per-entry signals behind a ranking (classifier probability, nearest-phrasing and centroid
   * cosines) for the best `limit` entries: for tuning and for explaining a match in the CLI.
   */
  explain(query: string, limit = 5): { id: string; probability: number; nearest: number; centroid: number }[] {
    const { prob, nearest, centroid } = this.signals(query);
    return [...this.entries.keys()]
      .sort((a, b) => prob[b]! + RANK_SIMILARITY_WEIGHT * (nearest[b]! + centroid[b]!) - (prob[a]! + RANK_SIMILARITY_WEIGHT * (nearest[a]! + centroid[a]!)))
      .slice(0, limit)
      .map((e) => ({ id: this.entries[e]!.id, probability: prob[e]!, nearest: nearest[e]!, centroid: centroid[e]! }));
  }

  /** Ranked matches, best first, only entries available in this context. */
  search(query: string, options: SearchOptions = {}): SearchMatch[] {
    const limit = Math.max(0, Math.floor(options.limit ?? 5));
    if (limit === 0) return [];
    const day = (options.now ?? this.clock.now()).toISOString().slice(0, 10);
    const { prob, nearest, centroid } = this.signals(query);
    const hasClassifier = this.weights !== undefined;
    // Keep the best `limit` available entries in rank order (insertion into a short list: no full sort,
    // and availability is only checked for entries good enough to make the list).
    const best: { e: number; rank: number }[] = [];
    for (let e = 0; e < this.entries.length; e++) {
      if (nearest[e] === 0 && centroid[e] === 0) continue;
      const rank = hasClassifier ? prob[e]! + RANK_SIMILARITY_WEIGHT * (nearest[e]! + centroid[e]!) : nearest[e]! + centroid[e]!;
      if (best.length >= limit && rank <= best[best.length - 1]!.rank) continue;
      if (!availableOn(this.entries[e]!, options, day)) continue;
      let at = best.length;
      while (at > 0 && best[at - 1]!.rank < rank) at--;
      best.splice(at, 0, { e, rank });
      if (best.length > limit) best.pop();
    }
    // Confidence never rises down the list: a lower-ranked entry is not more likely to be meant.
    let ceiling = 1;
    return best.map(({ e }) => {
      ceiling = Math.min(ceiling, calibrate(hasClassifier ? prob[e]! : centroid[e]!, nearest[e]!));
      return { entry: this.entries[e]!, confidence: ceiling };
    });
  }

  /** Answer when the top match is confident, suggest close ones when some are near, else none. */
  decide(query: string, context: SearchContext = {}): Decision {
    return decideFrom(this.search(query, { ...context, limit: 5 }));
  }

  /** An entry by id, only if it is available in this context (follow-ups, picked suggestions). */
  get(id: string, context: SearchContext = {}): KnowledgeEntry | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    return isAvailable(entry, context, context.now ?? this.clock.now()) ? entry : undefined;
  }
}

/** Weight of a character n-gram occurrence relative to a word's. */
const CHAR_SCALE = 0.5;
/** Searches run at build time so the JIT has compiled the query path before the first customer. */
const WARM_UP_QUERIES = 200;
/** Ranking = classifier probability + this × (nearest + centroid cosines): the cosines break near-ties. */
const RANK_SIMILARITY_WEIGHT = 0.25;
/** SGD step for the classifier (decays per pass), and the bias's share of it. */
const LEARNING_RATE = 2;
const BIAS_RATE = 0.1;
/** Passes over the phrasings: TRAINING_STEPS / phrasings, within [MIN_EPOCHS, MAX_EPOCHS]. */
const MIN_EPOCHS = 3;
/**
 * A training phrasing whose own entry already gets this probability is not updated, and sits out the
 * next pass: after the first pass most phrasings are learned, which makes the later passes cheap.
 */
const CONFIDENT_ENOUGH = 0.9;
const MAX_EPOCHS = 30;
const TRAINING_STEPS = 45_000;
/**
 * Confidence from the two signals that mean the same thing in any knowledge base: how much of the
 * classifier's probability the entry holds, and how close the query is to one of its phrasings.
 * A weighted geometric mean (probability^0.25 × nearest^0.5, weights picked on CLINC150 dev, where
 * it kept the out-of-scope cut-off nearly the same on the full, 5-shot and small knowledge bases),
 * then a power that puts that cut-off at 0.5 so the thresholds read naturally.
 */
export function calibrate(probability: number, nearest: number): number {
  if (probability <= 0 || nearest <= 0) return 0;
  return clamp01(Math.pow(Math.pow(probability, 0.25) * Math.sqrt(nearest), CALIBRATION_POWER));
}
/** ln 0.5 / ln 0.29: the raw blend's dev cut-off (0.29) maps to 0.5. */
const CALIBRATION_POWER = Math.log(0.5) / Math.log(0.29);

/**
 * A vocabulary word a customer could have meant by `typed`: a word it begins (typed at least 4 letters),
 * or one within 1 edit (5–7 letters) or 2 edits (8+ letters), a swap of neighbours counting as one.
 */
export function plausibleCorrection(typed: string, known: string): boolean {
  if (typed.length >= 4 && known.startsWith(typed)) return true;
  const allowed = typed.length <= 4 ? 0 : typed.length <= 7 ? 1 : 2;
  return allowed > 0 && Math.abs(typed.length - known.length) <= allowed && editDistance(typed, known) <= allowed;
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}


function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
