/**
 * The handoff summary an agent reads before writing: the customer's problem in their own words first,
 * then the details they would otherwise scroll for — order and reference numbers, emails, phone
 * numbers, postcodes, amounts with their currency, and dates resolved against each message's own
 * time ("since this morning" → "since Mon 23 Nov, morning").
 *
 * Emails, phone numbers, numbers and dates come from Microsoft's recognizers-text. Postcodes and
 * amounts are read with patterns: recognizers-text has no postcode model, and its currency model
 * reads "EUR 500" as 5 and "GBP 30" as 0.3 and needs seconds for a page of text.
 *
 * Every span of a message is claimed by at most one kind (in `summarize`'s order), so an order
 * number is not also a phone number or a date. The work is bounded: each message is read up to
 * `SUMMARY_MESSAGE_CHARS` and the whole transcript up to `SUMMARY_TRANSCRIPT_CHARS`.
 */
import type { Activity, CardAction } from 'botbuilder';
import { Culture } from '@microsoft/recognizers-text-suite';
import { DateTimeRecognizer } from '@microsoft/recognizers-text-date-time';
import { NumberRecognizer } from '@microsoft/recognizers-text-number';
import { SequenceRecognizer } from '@microsoft/recognizers-text-sequence';
import type { HandoffSummary } from './queue-store.js';
import { summaryWorker } from './summary-pool.js';

/** Numbers with at least this many digits are treated as order/ticket/account numbers. */
export const ORDER_NUMBER_MIN_DIGITS = 5;
/** Longer tokens are pasted data or noise, not a reference number. */
export const ORDER_NUMBER_MAX_CHARS = 24;
/**
 * How much of one message the recognizers read. The date-time model blocks the event loop for
 * about 0.1 s per 500 characters of prose (0.3 s where every word is a date or a number); what a
 * customer says about their problem fits well within this.
 */
export const SUMMARY_MESSAGE_CHARS = 500;
/**
 * How much of the transcript, in all, the recognizers read — counted from the newest message back,
 * because the transcript holds all of the customer's conversations and the ones nearest the handoff
 * are what the agent picks up from.
 */
export const SUMMARY_TRANSCRIPT_CHARS = 2000;
/** The date-time model reads a message in pieces of at most this many characters (see `pieces`). */
const DATE_PIECE_CHARS = 200;
/** How many of the customer's messages the summary quotes as their problem (the most recent ones). */
export const PROBLEM_MAX_MESSAGES = 5;
/** Each quoted message is shortened to this many characters. */
export const PROBLEM_QUOTE_CHARS = 200;
/** The one-line `text` is cut to this length. */
export const SUMMARY_TEXT_CHARS = 400;

/** The one-line `text` quotes the customer's last few messages, shorter than the list does. */
const LINE_QUOTES = 2;
const LINE_QUOTE_CHARS = 80;
/** recognizers-text gives a score to phone numbers; lower ones are usually order numbers. */
const PHONE_MIN_SCORE = 0.5;

/** One customer message as the summary reads it. */
export interface SummaryMessage {
  text: string;
  /** When it was sent: relative dates in it ("tomorrow") are resolved against this. */
  timestamp?: Date | string;
  /** The customer's IANA time zone (botbuilder's `localTimezone`), for what "this morning" means to them. */
  timeZone?: string;
  /** The customer picked a button or quick reply: their choice, not their words. */
  pick?: boolean;
}

/** What the hub knows besides the messages. */
export interface SummaryOptions {
  /** The question that led to the handoff (several lines when the bot missed more than once). */
  question?: string;
  /** The time zone for messages that carry none (e.g. the business-hours zone); default the server's. */
  timeZone?: string;
}

type Span = [start: number, end: number]; // end exclusive

// ---- the customer's problem ------------------------------------------------------------------

/** Words that carry no problem: greetings, thanks, yes/no. A message of only these is small talk. */
const FILLER = new Set(
  'hi hello hey hiya yo good morning afternoon evening thanks thank you thx ty cheers please pls plz yes yeah yep yup no nope nah ok okay sure fine great cool bye goodbye there again still sorry hmm ah oh'.split(' '),
);
/** Asking for a person is why they are here, not what their problem is. */
const ASKS_FOR_PERSON = /\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|the\s+|your\s+)?(?:someone|somebody|person|human|agent|operator|representative|real\s+person|member of (?:staff|your team))\b|^(?:an?\s+)?(?:agent|human|operator|person|representative|real person|customer service)(?:\s+please)?[.!?]*$/i;

/** Whether a message says something about the customer's problem (rather than greeting, agreeing or asking for a person). */
function isSubstantive(text: string): boolean {
  if (ASKS_FOR_PERSON.test(text.trim())) return false;
  const words = text
    .toLowerCase()
    .split(/\s+/)
    .map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''))
    .filter((w) => /^[\p{L}'’]+$/u.test(w) && !FILLER.has(w));
  return words.length >= 2;
}

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > PROBLEM_QUOTE_CHARS ? `${flat.slice(0, PROBLEM_QUOTE_CHARS - 1).trimEnd()}…` : flat;
}

// ---- recognizer models -----------------------------------------------------------------------

type Model = ReturnType<NumberRecognizer['getNumberModel']>;
interface Models {
  email: Model;
  phone: Model;
  number: Model;
  dateTime: ReturnType<DateTimeRecognizer['getDateTimeModel']>;
}
const modelsByCulture = new Map<string, Models>();

/**
 * The recognizer models of one culture, built once: the suite's `recognizeDateTime(text)` and friends
 * build a new recognizer (thousands of regular expressions) on every call — 0.3 s per summary, 1.4 s
 * for the first — where a kept model parses a message in a few milliseconds.
 */
function modelsFor(culture: string): Models {
  let models = modelsByCulture.get(culture);
  if (!models) {
    const sequence = new SequenceRecognizer(culture);
    models = {
      email: sequence.getEmailModel(culture, true),
      phone: sequence.getPhoneNumberModel(culture, true),
      number: new NumberRecognizer(culture).getNumberModel(culture, true),
      dateTime: new DateTimeRecognizer(culture).getDateTimeModel(culture, true),
    };
    modelsByCulture.set(culture, models);
  }
  return models;
}

/** Builds the models for `culture` in this thread (the summary worker does, when it starts). */
export function warmUpModels(culture: string = Culture.English): void {
  summarize(['order 12345, a@example.com, +44 7700 900123, £30, SW1A 1AA, yesterday'], culture, new Date());
}

/**
 * Starts the summary worker (summary-pool.ts), which builds the models ahead of the first handoff
 * (the server calls it at start-up); the main thread never builds them.
 */
export function warmUpSummary(): void {
  summaryWorker().warmUp();
}

// ---- patterns for what recognizers-text has no model for -------------------------------------

/** UK postcodes (the Royal Mail format, also without the space), e.g. `SW1A 1AA`, `m1 1ae`. */
const UK_POSTCODE = /\b(GIR ?0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?) ?[0-9][ABD-HJLNP-UW-Z]{2})\b/gi;
/** Canadian postal codes, e.g. `K1A 0B1` (their letter-digit alternation does not occur in words). */
const CA_POSTCODE = /\b([ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z] ?[0-9][ABCEGHJ-NPRSTV-Z][0-9])\b/gi;
/** A US ZIP code after a state's abbreviation (`CA 94103`); alone, five digits are more often an order number. */
const US_ZIP =
  /\b(?:A[KLRZ]|C[AOT]|D[CE]|FL|GA|HI|I[ADLN]|K[SY]|LA|M[ADEINOST]|N[CDEHJMVY]|O[HKR]|PA|RI|S[CD]|T[NX]|UT|V[AT]|W[AIVY]),? ([0-9]{5}(?:-[0-9]{4})?)\b/g;
/** Any postcode the customer names as one: `postcode 1012 AB`, `zip 94103`, `PLZ 10115`, `postal code 75001`. */
const NAMED_POSTCODE = /\b(?:post ?code|postal code|zip(?: ?code)?|plz)\b\s*(?:is|:)?\s*([A-Z0-9][A-Z0-9-]{2,9}(?: [A-Z0-9]{2,4})?)/gi;

/** `order 12345`, `ref AB-1234`, `ticket #88123`, `invoice no. INV-2026-0042`: a reference the customer names as one. */
const NAMED_REFERENCE =
  /\b(?:order|ref|reference|ticket|case|invoice|account|booking|confirmation|tracking|contract)(?:\s+(?:number|num|no\.?|id))?\s*(?:is|:)?\s*#?\s*([A-Z0-9][A-Z0-9-]{3,}[A-Z0-9])/gi;

/** Currency symbols and codes, with how an amount in them is shown. */
const SYMBOLS: Record<string, string> = { '£': 'GBP', '€': 'EUR', '$': 'USD', '¥': 'JPY', '₹': 'INR', '₩': 'KRW', '₺': 'TRY', '₽': 'RUB', 'zł': 'PLN' };
const CODES = 'EUR|GBP|USD|CHF|CAD|AUD|NZD|JPY|CNY|INR|SEK|NOK|DKK|PLN|CZK|HUF|RON|ZAR|BRL|MXN|AED|SGD|HKD';
const WORDS: Record<string, string> = { euro: 'EUR', euros: 'EUR', pound: 'GBP', pounds: 'GBP', quid: 'GBP', dollar: 'dollars', dollars: 'dollars', franc: 'CHF', francs: 'CHF' };
const NUMBER = String.raw`\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?`;
/** `£30`, `€ 20`, `$1,200.50`, `US$ 5`. */
const SYMBOL_AMOUNT = new RegExp(String.raw`(?:US|CA|AU|NZ)?(£|€|\$|¥|₹|₩|₺|₽)\s?(${NUMBER})(?:\s?(k|m)\b)?`, 'gi');
/** `500 EUR`, `EUR 500`, `30 pounds`, `12.50 euros`, `1.200 zł`. */
const CODE_AMOUNT = new RegExp(String.raw`\b(?:(${NUMBER})\s?(${CODES}|euros?|pounds?|quid|dollars?|francs?|zł)|(${CODES})\s?(${NUMBER}))(?![\p{L}\d])`, 'giu');

/** "1.200,50" / "1,200.50" / "1 200" → "1,200.50"; a lone comma before two digits is a decimal comma. */
function normaliseNumber(raw: string): string {
  const s = raw.replace(/\s/g, '');
  const m = /^(.*?)(?:[.,](\d{1,2}))?$/.exec(s)!;
  const whole = m[1]!.replace(/[.,]/g, '');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return m[2] ? `${grouped}.${m[2].padEnd(2, '0')}` : grouped;
}

// ---- dates -----------------------------------------------------------------------------------

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const PARTS_OF_DAY: Record<string, string> = { MO: 'morning', AF: 'afternoon', EV: 'evening', NI: 'night', DT: 'daytime' };

/**
 * A `Date` whose local fields (what recognizers-text reads) show the wall-clock time in `timeZone`,
 * so "this morning" is the customer's morning, not the server's.
 */
function wallClock(at: Date, timeZone: string | undefined): Date {
  if (!timeZone) return at;
  try {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
        .formatToParts(at)
        .map((p) => [p.type, Number(p.value)]),
    );
    return new Date(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  } catch {
    return at; // not a time zone this runtime knows: the server's own
  }
}

/** A recognizer value ("2026-11-27" or "2026-11-27 15:00:00") as a local Date (no time zone is implied). */
function localDate(value: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}))?/.exec(value);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0));
}

function day(d: Date, ref: Date, weekday = true): string {
  const base = `${weekday ? `${WEEKDAYS[d.getDay()]} ` : ''}${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === ref.getFullYear() ? base : `${base} ${d.getFullYear()}`;
}
const time = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

/** "27–29 Nov", "30 Nov – 2 Dec", "28 Dec 2026 – 3 Jan 2027". */
function range(a: Date, b: Date, ref: Date): string {
  if (a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth()) {
    if (a.getDate() === b.getDate()) return day(a, ref);
    return `${a.getDate()}–${day(b, ref, false)}`;
  }
  const crossYear = a.getFullYear() !== b.getFullYear();
  return `${crossYear ? `${day(a, ref, false)} ${a.getFullYear() === ref.getFullYear() ? a.getFullYear() : ''}`.trimEnd() : day(a, ref, false)} – ${day(b, ref, false)}${crossYear && b.getFullYear() === ref.getFullYear() ? ` ${b.getFullYear()}` : ''}`;
}

interface Resolved {
  timex?: string;
  type?: string;
  Mod?: string;
  value?: string;
  start?: string;
  end?: string;
}

/**
 * One recognized date (or range) as a person reads it, or undefined when it does not resolve to a
 * calendar day (a bare time, a duration, "every Monday"). Of ambiguous values ("black friday" last
 * year or this) the one nearest the message wins.
 */
function describeDate(typeName: string, values: Resolved[], ref: Date): string | undefined {
  const dated = values.filter((v) => localDate(v.value ?? v.start ?? v.end ?? ''));
  if (!dated.length) return undefined;
  const distance = (v: Resolved) => Math.abs(localDate(v.value ?? v.start ?? v.end!)!.getTime() - ref.getTime());
  const v = dated.reduce((best, x) => (distance(x) < distance(best) ? x : best));
  const start = v.start ? localDate(v.start) : undefined;
  const end = v.end ? localDate(v.end) : undefined;
  const partOfDay = PARTS_OF_DAY[/T(MO|AF|EV|NI|DT)$/.exec(v.timex ?? '')?.[1] ?? ''];
  const mod = (text: string) => (v.Mod === 'since' ? `since ${text}` : v.Mod === 'after' ? `after ${text}` : v.Mod === 'before' || v.Mod === 'until' ? `by ${text}` : text);
  switch (typeName) {
    case 'datetimeV2.date': {
      const at = localDate(v.value ?? '') ?? start ?? end!;
      return v.Mod === 'before' || v.Mod === 'until' ? `by ${day(end ?? at, ref)}` : mod(day(at, ref));
    }
    case 'datetimeV2.datetime': {
      const at = localDate(v.value ?? '') ?? start ?? end!;
      return mod(`${day(at, ref)} ${time(at)}`);
    }
    case 'datetimeV2.daterange': {
      if (v.Mod === 'before' || v.Mod === 'until') return end ? mod(day(end, ref)) : undefined;
      if (v.Mod) return start ? mod(day(start, ref)) : undefined;
      if (!start || !end) return undefined;
      if (/^\d{4}-\d{2}$/.test(v.timex ?? '')) return `${MONTHS[start.getMonth()]} ${start.getFullYear()}`;
      if (/^\d{4}$/.test(v.timex ?? '')) return String(start.getFullYear());
      // A week or month ends at the next one's first day; "between 27 and 29 November" ends on the 29th.
      const last = v.timex?.startsWith('(') ? end : new Date(end.getFullYear(), end.getMonth(), end.getDate() - 1);
      return range(start, last < start ? start : last, ref);
    }
    case 'datetimeV2.datetimerange': {
      const at = start ?? end;
      if (!at) return undefined;
      const when = partOfDay ? `${day(at, ref)}, ${partOfDay}` : start && end ? `${day(start, ref)} ${time(start)}–${time(end)}` : `${day(at, ref)} ${time(at)}`;
      return v.Mod === 'before' || v.Mod === 'until' ? `by ${when}` : mod(when);
    }
    default:
      return undefined;
  }
}

// ---- reading the transcript ------------------------------------------------------------------

/** The titles and values of the buttons an activity offered (suggested actions and card buttons). */
function offeredChoices(a: Partial<Activity>): Set<string> {
  const actions: Partial<CardAction>[] = [...(a.suggestedActions?.actions ?? [])];
  for (const att of a.attachments ?? []) {
    const buttons = (att.content as { buttons?: Partial<CardAction>[] } | undefined)?.buttons;
    if (Array.isArray(buttons)) actions.push(...buttons);
  }
  const choices = new Set<string>();
  for (const x of actions) for (const s of [x.title, x.value, x.text, x.displayText]) if (typeof s === 'string') choices.add(s.trim().toLowerCase());
  return choices;
}

/**
 * The customer's messages of a transcript as `summarize` reads them: with their time and time zone,
 * and marked as picks where they repeat a button the bot had just offered (or carry a postback value).
 */
export function customerMessages(transcript: ReadonlyArray<Partial<Activity>>, customerId: string): SummaryMessage[] {
  const out: SummaryMessage[] = [];
  let offered = new Set<string>();
  for (const a of transcript) {
    if (a.type !== 'message') continue;
    const fromCustomer = a.from?.id === customerId && a.from?.role !== 'bot';
    if (!fromCustomer) {
      offered = offeredChoices(a);
      continue;
    }
    const text = a.text ?? '';
    out.push({
      text,
      timestamp: a.timestamp,
      timeZone: a.localTimezone,
      pick: a.value !== undefined || offered.has(text.trim().toLowerCase()),
    });
    offered = new Set();
  }
  return out;
}

// ---- the summary -----------------------------------------------------------------------------

/** The messages the bounds let through, newest first back to `SUMMARY_TRANSCRIPT_CHARS`, each cut to `SUMMARY_MESSAGE_CHARS`; returned oldest first. */
function bounded(messages: ReadonlyArray<string | SummaryMessage>): SummaryMessage[] {
  const kept: SummaryMessage[] = [];
  let budget = SUMMARY_TRANSCRIPT_CHARS;
  for (let i = messages.length - 1; i >= 0 && budget > 0; i--) {
    const m = messages[i]!;
    const message = typeof m === 'string' ? { text: m } : m;
    const text = (message.text ?? '').slice(0, Math.min(SUMMARY_MESSAGE_CHARS, budget));
    if (!text.trim()) continue;
    budget -= text.length;
    kept.push({ ...message, text });
  }
  return kept.reverse();
}

/**
 * Summarises what the customer wrote (one entry per message, oldest first; `customerMessages` makes
 * them from a transcript).
 * @param refDate when the summary is made: the time of messages that carry none.
 * @example
 *   summarize(customerMessages(transcript, record.customer.id), undefined, clock.now(), { question: record.question })
 */
export function summarize(
  customerTexts: ReadonlyArray<string | SummaryMessage>,
  culture: string = Culture.English,
  refDate?: Date,
  options: SummaryOptions = {},
): HandoffSummary {
  const found = { emails: [] as string[], phoneNumbers: [] as string[], orderNumbers: [] as string[], postcodes: [] as string[], amounts: [] as string[], dates: [] as string[] };
  const problem: string[] = [];
  const models = modelsFor(culture);
  const now = refDate ?? new Date();
  const messages = bounded(customerTexts);

  for (const message of messages) {
    const text = message.text;
    if (!message.pick && isSubstantive(text)) problem.push(quote(text));
    const claimed: Array<{ span: Span; list: string[]; value: string }> = [];
    const free = (s: number, e: number) => !claimed.some(({ span: [a, b] }) => s < b && e > a);
    const claim = (list: string[], s: number, e: number, value: string) => {
      if (free(s, e) && value) claimed.push({ span: [s, e], list, value });
    };
    // A pattern's whole match is claimed ("order 12345", "CA 94103"), its value is what is listed.
    const patterns = (re: RegExp, list: string[], value: (m: RegExpExecArray) => string | undefined) => {
      for (const m of text.matchAll(re)) {
        const v = value(m);
        if (v) claim(list, m.index!, m.index! + m[0].length, v);
      }
    };

    for (const r of models.email.parse(text)) claim(found.emails, r.start, r.end + 1, text.slice(r.start, r.end + 1));
    const phones = models.phone.parse(text).map((r) => ({ s: r.start, e: r.end + 1, score: Number(r.resolution?.score ?? 1), raw: text.slice(r.start, r.end + 1) }));
    const phoneValue = (raw: string) => (/^(?:\+|00)\d/.test(raw) ? `+${raw.replace(/^00/, '').replace(/\D/g, '')}` : raw);
    // A number written with its country code is a phone number whatever else it might be.
    for (const p of phones) if (/^(?:\+|00)\d/.test(p.raw)) claim(found.phoneNumbers, p.s, p.e, phoneValue(p.raw));
    patterns(NAMED_REFERENCE, found.orderNumbers, (m) => (/\d/.test(m[1]!) ? m[1] : undefined));
    patterns(UK_POSTCODE, found.postcodes, (m) => m[1]!.toUpperCase().replace(/^(.+?) ?(\d[A-Z]{2})$/, '$1 $2'));
    patterns(CA_POSTCODE, found.postcodes, (m) => m[1]!.toUpperCase().replace(/^(...) ?(...)$/, '$1 $2'));
    patterns(US_ZIP, found.postcodes, (m) => m[1]);
    patterns(NAMED_POSTCODE, found.postcodes, (m) => (/\d/.test(m[1]!) ? m[1]!.toUpperCase() : undefined));
    patterns(SYMBOL_AMOUNT, found.amounts, (m) => {
      const symbol = m[1]!;
      const prefix = /^(US|CA|AU|NZ)\$/i.exec(m[0])?.[1]?.toUpperCase();
      const amount = `${normaliseNumber(m[2]!)}${m[3] ? m[3].toLowerCase() : ''}`;
      return prefix ? `${amount} ${prefix}D` : `${symbol}${amount}`;
    });
    patterns(CODE_AMOUNT, found.amounts, (m) => {
      const number = normaliseNumber(m[1] ?? m[4]!);
      const unit = (m[2] ?? m[3]!).toLowerCase();
      const code = WORDS[unit] ?? SYMBOLS[unit] ?? unit.toUpperCase();
      return `${number} ${code}`;
    });
    for (const p of phones) if (p.score >= PHONE_MIN_SCORE) claim(found.phoneNumbers, p.s, p.e, phoneValue(p.raw));
    for (const r of models.number.parse(text)) {
      const digits = [...r.text].filter((c) => c >= '0' && c <= '9').length;
      if (digits < ORDER_NUMBER_MIN_DIGITS) continue;
      const [s, e, token] = tokenAround(text, r.start, r.end + 1);
      if (token.length > ORDER_NUMBER_MAX_CHARS) continue; // a run of digits, not something to quote back
      claim(found.orderNumbers, s, e, token);
    }
    const ref = wallClock(message.timestamp ? new Date(message.timestamp) : now, message.timeZone ?? options.timeZone);
    for (const [offset, piece] of Number.isNaN(ref.getTime()) ? [] : pieces(text, DATE_PIECE_CHARS)) {
      for (const r of models.dateTime.parse(piece, ref)) {
        const [s, e] = [offset + r.start, offset + r.end + 1];
        if (!free(s, e)) continue; // an order number is not also a date ("123457" reads as 1234-05-07)
        const described = describeDate(r.typeName, (r.resolution?.values ?? []) as Resolved[], ref);
        if (described) claim(found.dates, s, e, described);
      }
    }
    // Listed in the order the customer wrote them.
    for (const { list, value } of claimed.sort((x, y) => x.span[0] - y.span[0])) list.push(value);
  }

  // The question that led to the handoff is the customer's own words too, even when the transcript does not hold it.
  for (const line of (options.question ?? '').slice(0, SUMMARY_TRANSCRIPT_CHARS).split('\n').slice(0, PROBLEM_MAX_MESSAGES)) {
    const q = quote(line.slice(0, SUMMARY_MESSAGE_CHARS));
    if (q && isSubstantive(q) && !problem.some((p) => p.toLowerCase().includes(q.toLowerCase()))) problem.push(q);
  }
  const summary = {
    problem: unique(problem).slice(-PROBLEM_MAX_MESSAGES),
    emails: unique(found.emails),
    phoneNumbers: unique(found.phoneNumbers),
    orderNumbers: unique(found.orderNumbers),
    postcodes: unique(found.postcodes),
    amounts: unique(found.amounts),
    dates: unique(found.dates),
  };
  const line = [
    ...summary.problem.slice(-LINE_QUOTES).map((p) => `“${p.length > LINE_QUOTE_CHARS ? `${p.slice(0, LINE_QUOTE_CHARS - 1).trimEnd()}…` : p}”`),
    ...summary.orderNumbers.map((o) => `order ${o}`),
    ...summary.emails.map((e) => `email ${e}`),
    ...summary.phoneNumbers.map((p) => `phone ${p}`),
    ...summary.postcodes.map((p) => `postcode ${p}`),
    ...summary.amounts.map((a) => `amount ${a}`),
    ...summary.dates.map((d) => `date ${d}`),
  ].join(' · ');
  return { ...summary, text: line.length > SUMMARY_TEXT_CHARS ? `${line.slice(0, SUMMARY_TEXT_CHARS - 1)}…` : line };
}

/**
 * `text` in pieces of at most `max` characters, cut after a sentence or at a space, with each
 * piece's offset: the date-time model's cost grows faster than the length of what it reads.
 */
function pieces(text: string, max: number): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let start = text.search(/\S/);
  while (start >= 0 && start < text.length) {
    let end = Math.min(text.length, start + max);
    if (end < text.length) {
      const window = text.slice(start, end);
      const sentence = Math.max(window.lastIndexOf('. '), window.lastIndexOf('? '), window.lastIndexOf('! '), window.lastIndexOf('\n'));
      const space = window.lastIndexOf(' ');
      const cut = sentence > max / 2 ? sentence + 1 : space > max / 2 ? space : -1;
      if (cut > 0) end = start + cut;
    }
    out.push([start, text.slice(start, end)]);
    start = end;
    while (start < text.length && /\s/.test(text[start]!)) start++; // the model misreads a piece that starts with a space
  }
  return out;
}

/** Case-insensitive de-duplication that keeps the first spelling. */
function unique(values: string[]): string[] {
  const seen = new Set<string>();
  return values
    .map((v) => v.trim())
    .filter((v) => {
      const key = v.toLowerCase();
      if (!v || seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** The whitespace-delimited token around [start, end), so "A-12345" is kept whole, minus surrounding punctuation. */
function tokenAround(text: string, start: number, end: number): [number, number, string] {
  let s = start;
  let e = end;
  while (s > 0 && !/\s/.test(text[s - 1]!)) s--;
  while (e < text.length && !/\s/.test(text[e]!)) e++;
  while (e > s && ',.;:!?)'.includes(text[e - 1]!)) e--;
  while (s < e && '(#'.includes(text[s]!)) s++;
  return [s, e, text.slice(s, e)];
}
