/**
 * The shapes the knowledge base is made of. The loader (loader.ts) turns Markdown files into
 * `KnowledgeEntry` values; the index (search.ts) ranks them; `KnowledgeBase` (knowledge-base.ts)
 * holds the current index and swaps it on hot reload.
 */

/** The channels Switchboard serves; `channelId` values of botbuilder activities. */
export const CHANNELS = ['webchat', 'messenger', 'whatsapp'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** One validated knowledge entry (one Markdown file). */
/** Details an answer may ask the customer for (`asks_for`), each recognised in the customer's reply. */
export const DETAIL_KINDS = ['postcode', 'phone', 'email', 'number', 'text'] as const;
export type DetailKind = (typeof DETAIL_KINDS)[number];

export interface KnowledgeEntry {
  /** From front matter `id`, else the path below the folder without `.md` (forward slashes). */
  id: string;
  question: string;
  alternates: string[];
  /** The answer as Markdown (the file's body, trimmed). */
  answer: string;
  tags: string[];
  /** Default `en`. */
  locale: string;
  /** Channels the entry may be shown on; `undefined` means all. */
  channels?: ChannelName[];
  /** true: answer, then hand the conversation to a human. */
  handoff: boolean;
  /** Calendar days `YYYY-MM-DD`, inclusive, in UTC. */
  validFrom?: string;
  validUntil?: string;
  followUps: string[];
  /**
   * The detail the answer asks the customer for (front matter `asks_for`): a reply that carries it
   * goes to a person with the detail, instead of being searched as a new question.
   */
  asksFor?: DetailKind;
  /**
   * Phrasings that must reach this entry as the answer (front matter `tests`, checked by `kb check`),
   * with the line of each in the file; not part of the index.
   */
  tests?: { text: string; line: number }[];
  /** Where it came from, for error messages and the console. */
  source: { path: string; line: number };
}

/** A problem found while loading, reported as `path:line: message`. */
export interface KnowledgeProblem {
  path: string;
  line: number;
  message: string;
}

export function formatProblem(p: KnowledgeProblem): string {
  return `${p.path}:${p.line}: ${p.message}`;
}

/** Who is asking: used to filter entries that are out of date, or not for this channel or locale. */
export interface SearchContext {
  channel?: string;
  locale?: string;
  now?: Date;
}

export interface SearchOptions extends SearchContext {
  /** How many matches at most (default 5). */
  limit?: number;
}

/** One ranked match; `confidence` is calibrated to [0, 1] so one threshold works across knowledge bases. */
export interface SearchMatch {
  entry: KnowledgeEntry;
  confidence: number;
}

/**
 * What the bot should do with a query, decided from the ranked matches with the default thresholds:
 * answer the top entry, suggest up to three close ones, or say nothing fits.
 */
export type Decision =
  | { kind: 'answer'; match: SearchMatch; matches: SearchMatch[] }
  | { kind: 'suggest'; matches: SearchMatch[] }
  | { kind: 'none'; matches: SearchMatch[] };

/**
 * What the bot, the agent console and the CLIs need from the knowledge: implemented by
 * `KnowledgeBase` (the hot-reloading holder), which delegates to the current `KnowledgeIndex`.
 */
export interface KnowledgeSearcher {
  /** Ranked matches, best first, filtered by channel, locale and validity dates. */
  search(query: string, options?: SearchOptions): SearchMatch[];
  /** The bot's decision for a query with the default thresholds. */
  decide(query: string, context?: SearchContext): Decision;
  /** An entry by id if it exists and is available in this context (follow-ups, picked suggestions). */
  get(id: string, context?: SearchContext): KnowledgeEntry | undefined;
  /** Every entry served (optional): what the bot names as its topics when a question is out of scope. */
  readonly entries?: readonly KnowledgeEntry[];
}
