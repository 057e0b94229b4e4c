/**
 * How the bot understands a reply to its own question — which suggestion was picked, yes or no —
 * with botbuilder's choice recognition (`recognizeChoices`, which layers name, ordinal and number
 * recognition from @microsoft/recognizers-text) and recognizers-text-choice's `recognizeBoolean`.
 *
 * The libraries find a choice *anywhere* in an utterance ("I have **2** bills due" picks the second
 * suggestion), so each function also checks that little else was said: a reply that carries a new
 * question is treated as one.
 *
 * Every function reads a bounded start of the reply (`MAX_*_WORDS`, `MAX_REPLY_CHARS`, `DETAIL_SCAN_CHARS`):
 * the recognizers' cost grows faster than the text (recognizers-text's boolean model took 0.6 s for
 * 1,000 characters of "no no …" and 4.6 s for 2,000), and a customer may send 16,000 characters.
 */
import { defaultTokenizer, recognizeChoices, type Choice, type ModelResult, type Token } from 'botbuilder-dialogs';
import { recognizeBoolean } from '@microsoft/recognizers-text-choice';
import { recognizeOrdinal } from '@microsoft/recognizers-text-number';
import { recognizeEmail, recognizePhoneNumber } from '@microsoft/recognizers-text-sequence';
import type { DetailKind } from '../knowledge/types.js';
import { vocabulary } from './strings.js';

/**
 * Meaningful words outside a recognised number or ordinal that still let it count as a pick: none, so
 * "the refund one" is read by title, not as "one", and "I have 2 bills due" is a new question.
 */
export const MAX_EXTRA_WORDS_FOR_INDEX = 0;
/** Words outside a recognised yes/no that still let it count as an answer ("no, **it** did **not work**"). */
export const MAX_EXTRA_WORDS_FOR_YES_NO = 2;
/**
 * Share of the customer's meaningful words a part-of-title pick must exceed: "refund" picks
 * "How do I get a refund?", "pay in cash" does not pick "How can I pay my bill by card?".
 */
export const MIN_TITLE_COVERAGE = 0.5;
/**
 * A reply of more words than this is not a yes/no: "no" plus `MAX_EXTRA_WORDS_FOR_YES_NO` meaningful
 * words and the filler around them ("no, sorry, it did not really work for me") fits; a longer text
 * is a new question, and the boolean model never reads it.
 */
export const MAX_YES_NO_WORDS = 12;
/**
 * A reply of more words than this is not a pick (the sample's longest title has 9 words; a pick is a
 * title, a number or "the … one" with a few words around it). A reply that is exactly one of the
 * offered titles (a tap) is always a pick.
 */
export const MAX_PICK_WORDS = 20;
/** Nor is a reply longer than this many characters (a pasted text with few spaces), whatever its word count. */
export const MAX_REPLY_CHARS = 240;
/**
 * How much of a reply is searched for a detail (postcode, phone, email, reference): a detail is given
 * near the start ("my postcode is …"), and the phone and email models read no further than this.
 */
export const DETAIL_SCAN_CHARS = 1_000;
/** How much of a reply is tokenised to find its first word (a question word or not). */
const FIRST_WORD_SCAN_CHARS = 100;

/**
 * Whether `utterance` is short enough to be a reply to the bot's question: at most `maxWords`
 * whitespace-separated words and `MAX_REPLY_CHARS` characters. Counting stops after `maxWords`, so
 * a long text costs no more than a short one.
 */
export function shortReply(utterance: string, maxWords: number): boolean {
  if (utterance.length > MAX_REPLY_CHARS) return false;
  const word = /\S+/g;
  let words = 0;
  while (word.exec(utterance) && ++words <= maxWords);
  return words <= maxWords;
}

/** One offered option: `value` is what the bot gets back (an entry id), `title` what the customer sees and taps. */
export interface Offered {
  value: string;
  title: string;
}

/** What a reply to a list of suggestions meant. */
export type PickResult =
  | { kind: 'picked'; value: string; index: number; by: 'title' | 'index' | 'part-of-title' | 'yes' }
  | { kind: 'none-of-these' }
  | { kind: 'no-pick' };

function toChoice(o: Offered): Choice {
  return { value: o.value, action: { type: 'imBack', title: o.title, value: o.title }, synonyms: [o.title] };
}

function meaningfulTokens(text: string, locale?: string): Token[] {
  const filler = new Set(vocabulary(locale).fillerWords);
  return defaultTokenizer(text, locale).filter((tok) => !filler.has(tok.normalized));
}

/** Meaningful words of `text` outside the character span `[start, end]`. */
function wordsOutside(text: string, start: number, end: number, locale?: string): number {
  return meaningfulTokens(text, locale).filter((tok) => tok.end < start || tok.start > end).length;
}

/**
 * Which of `offered` the customer picked: by tapping (the text is the title), by number ("2"),
 * by ordinal ("the second one"), by part of the title ("the refund one"), by "yes" when only one was
 * offered; or "none of these" (also a bare "no").
 */
export function recognizePick(text: string, offered: Offered[], locale?: string): PickResult {
  const utterance = text.trim();
  if (!utterance || offered.length === 0) return { kind: 'no-pick' };
  const tapped = offered.findIndex((o) => o.title.trim().toLowerCase() === utterance.toLowerCase());
  if (tapped >= 0) return { kind: 'picked', value: offered[tapped]!.value, index: tapped, by: 'title' };
  if (!shortReply(utterance, MAX_PICK_WORDS)) return { kind: 'no-pick' };
  const vocab = vocabulary(locale);
  const base = { locale: vocab.culture, noValue: true };
  const choices = offered.map(toChoice);

  // 1. The whole title (a tap sends it as the action value), or a title inside the reply.
  const byTitle = recognizeChoices(utterance, choices, { ...base, recognizeNumbers: false, recognizeOrdinals: false });
  if (byTitle.length > 0) {
    const found = byTitle[0]!.resolution;
    return { kind: 'picked', value: found.value, index: found.index, by: 'title' };
  }

  // 2. "None of these" (a tap on the extra action, or typed), covering most of the reply.
  const none = recognizeChoices(utterance, [{ value: 'none', synonyms: vocab.noneOfThese }], {
    ...base,
    noValue: true,
    recognizeNumbers: false,
    recognizeOrdinals: false,
  });
  if (none.length > 0 && wordsOutside(utterance, none[0]!.start, none[0]!.end, locale) === 0) return { kind: 'none-of-these' };

  // 3. A bare "no" declines them all; a bare "yes" takes the only one.
  const yesNo = recognizeYesNo(utterance, locale);
  if (yesNo?.alone && !yesNo.value) return { kind: 'none-of-these' };
  if (yesNo?.alone && yesNo.value && offered.length === 1) return { kind: 'picked', value: offered[0]!.value, index: 0, by: 'yes' };

  // 4. By position. An ordinal out of range ("the last one", "the fifth") must not fall through to
  //    the number model, which reads the "one" in it as 1.
  // The extra "None of these" action is numbered after the suggestions.
  const positions: Choice[] = [...choices, { value: '\u0000none' }];
  const hasOrdinal = recognizeOrdinal(utterance, vocab.culture).length > 0;
  const byIndex: ModelResult<{ value: string; index: number }>[] = recognizeChoices(utterance, positions, {
    ...base,
    recognizeNumbers: !hasOrdinal,
    recognizeOrdinals: hasOrdinal,
  });
  if (byIndex.length === 1) {
    const hit = byIndex[0]!;
    if (wordsOutside(utterance, hit.start, hit.end, locale) <= MAX_EXTRA_WORDS_FOR_INDEX) {
      if (hit.resolution.index === offered.length) return { kind: 'none-of-these' };
      return { kind: 'picked', value: hit.resolution.value, index: hit.resolution.index, by: 'index' };
    }
  }

  // 5. Part of a title: each title scored on its own (findValues drops overlapping matches, which
  //    would hide a tie), filler words ignored on both sides; a unique best that covers most of what
  //    the customer wrote wins.
  const tokenizer = (s: string, l?: string) => meaningfulTokens(s, l);
  const said = meaningfulTokens(utterance, locale);
  if (said.length === 0) return { kind: 'no-pick' };
  const scored = offered.map((o, index) => {
    const [hit] = recognizeChoices(utterance, [toChoice(o)], {
      ...base,
      allowPartialMatches: true,
      recognizeNumbers: false,
      recognizeOrdinals: false,
      tokenizer,
    });
    const titleWords = new Set(meaningfulTokens(o.title, locale).map((tok) => tok.normalized));
    const covered = said.filter((tok) => titleWords.has(tok.normalized)).length / said.length;
    return { index, score: hit ? hit.resolution.score : 0, covered };
  });
  const ranked = scored.filter((s) => s.score > 0 && s.covered > MIN_TITLE_COVERAGE).sort((a, b) => b.score - a.score);
  const [best, second] = ranked;
  if (best && (!second || best.score > second.score)) {
    return { kind: 'picked', value: offered[best.index]!.value, index: best.index, by: 'part-of-title' };
  }
  return { kind: 'no-pick' };
}

/** A recognised yes or no; `alone` when nothing meaningful was said besides it ("yes", "nope", "no thanks"). */
export interface YesNo {
  value: boolean;
  alone: boolean;
}

/**
 * Yes or no, from a tap or free text ("yes thanks", "nope", "no it did not"); `undefined` when the
 * reply is something else (a new question, or too much besides a yes/no to be sure).
 */
export function recognizeYesNo(text: string, locale?: string): YesNo | undefined {
  const utterance = text.trim();
  if (!utterance || !shortReply(utterance, MAX_YES_NO_WORDS)) return undefined;
  const results = recognizeBoolean(utterance, vocabulary(locale).culture);
  if (results.length === 0) return undefined;
  const values = new Set(results.map((r) => r.resolution.value as boolean));
  if (values.size > 1) return undefined; // "yes and no"
  const outside = Math.min(...results.map((r) => wordsOutside(utterance, r.start, r.end, locale)));
  if (outside > MAX_EXTRA_WORDS_FOR_YES_NO) return undefined;
  return { value: results[0]!.resolution.value as boolean, alone: outside === 0 };
}

/**
 * Postcode shapes the bot recognises: UK (`SW1A 1AA`), Canada (`K1A 0B1`), the Netherlands
 * (`1012 AB`) and the five-digit codes of the US, Germany, France, Spain and Italy (`10115`,
 * `94105-1234`). recognizers-text has no postcode model; these shapes are what a customer types.
 */
export const POSTCODE_PATTERNS: readonly RegExp[] = [
  /\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b/i,
  /\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b/i,
  /\b\d{4}\s?[A-Z]{2}\b/i,
  /\b\d{5}(?:-\d{4})?\b/,
];
/** An order or reference number: at least this many digits, optionally after a few letters (`NM-558812`). */
export const MIN_REFERENCE_DIGITS = 4;
const REFERENCE = new RegExp(`\\b(?:[A-Z]{1,4}[-#]?)?\\d{${MIN_REFERENCE_DIGITS},}\\b`, 'i');

/**
 * The detail an answer asked for (`asks_for` in the knowledge file), if the customer's reply carries
 * it: the postcode, phone number, email or reference number as typed, or for `text` the whole reply.
 * Phones and emails use recognizers-text-sequence; `undefined` when the reply holds no such detail.
 */
export function recognizeDetail(text: string, kind: DetailKind, locale?: string): string | undefined {
  const utterance = text.trim();
  if (!utterance) return undefined;
  if (kind === 'text') return utterance;
  const scanned = utterance.slice(0, DETAIL_SCAN_CHARS);
  const culture = vocabulary(locale).culture;
  switch (kind) {
    case 'postcode':
      for (const pattern of POSTCODE_PATTERNS) {
        const found = pattern.exec(scanned);
        if (found) return found[0].toUpperCase();
      }
      return undefined;
    case 'phone':
      return recognizePhoneNumber(scanned, culture)[0]?.text;
    case 'email':
      return recognizeEmail(scanned, culture)[0]?.text;
    case 'number':
      return REFERENCE.exec(scanned)?.[0];
  }
}

/** Whether a reply reads as a question: it ends with "?" or starts with a question word of the locale. */
export function readsAsQuestion(text: string, locale?: string): boolean {
  const utterance = text.trim();
  if (utterance.endsWith('?')) return true;
  const first = defaultTokenizer(utterance.slice(0, FIRST_WORD_SCAN_CHARS).replace(/['’]/g, ''), locale)[0]?.normalized;
  return first !== undefined && vocabulary(locale).questionWords.includes(first);
}
