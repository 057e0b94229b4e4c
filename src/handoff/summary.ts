/**
 * The details an agent would otherwise scroll for — emails, phone numbers, order-like numbers and
 * dates the customer mentioned — pulled out with Microsoft's recognizers-text.
 */
import { Culture } from '@microsoft/recognizers-text-suite';
import { DateTimeRecognizer } from '@microsoft/recognizers-text-date-time';
import { NumberRecognizer } from '@microsoft/recognizers-text-number';
import { SequenceRecognizer } from '@microsoft/recognizers-text-sequence';
import type { HandoffSummary } from './queue-store.js';

/** Numbers with at least this many digits are treated as order/ticket/account numbers. */
export const ORDER_NUMBER_MIN_DIGITS = 5;
/** recognizers-text gives a score to phone numbers; lower ones are usually order numbers. */
const PHONE_MIN_SCORE = 0.5;

function unique(values: string[]): string[] {
  return [...new Set(values.map((v) => v.trim()).filter(Boolean))];
}

/** The whitespace-delimited token around [start, end], so "A-12345" is kept whole, minus trailing punctuation. */
function tokenAround(text: string, start: number, end: number): string {
  let s = start;
  let e = end + 1;
  while (s > 0 && !/\s/.test(text[s - 1]!)) s--;
  while (e < text.length && !/\s/.test(text[e]!)) e++;
  let token = text.slice(s, e);
  while (token && ',.;:!?)'.includes(token[token.length - 1]!)) token = token.slice(0, -1);
  while (token && '(#'.includes(token[0]!)) token = token.slice(1);
  return token;
}

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

/** Builds the models for `culture` ahead of the first handoff (the server calls it at start-up). */
export function warmUpSummary(culture: string = Culture.English): void {
  summarize(['order 12345, a@example.com, +44 7700 900123, yesterday'], culture, new Date());
}

/**
 * Summarises what the customer wrote (one string per message, oldest first).
 * @param refDate the reference for relative dates ("yesterday").
 */
export function summarize(customerTexts: string[], culture: string = Culture.English, refDate?: Date): HandoffSummary {
  const emails: string[] = [];
  const phones: string[] = [];
  const orders: string[] = [];
  const dates: string[] = [];
  const models = modelsFor(culture);
  for (const text of customerTexts) {
    if (!text) continue;
    const emailResults = models.email.parse(text);
    for (const r of emailResults) emails.push(r.text);
    const phoneSpans: Array<[number, number]> = [];
    for (const r of models.phone.parse(text)) {
      const score = Number(r.resolution?.score ?? 1);
      if (score >= PHONE_MIN_SCORE) {
        phones.push(r.text);
        phoneSpans.push([r.start, r.end]);
      }
    }
    const emailSpans = emailResults.map((r) => [r.start, r.end] as [number, number]);
    const covered = (s: number, e: number) => [...phoneSpans, ...emailSpans].some(([a, b]) => s <= b && e >= a);
    const orderSpans: Array<[number, number]> = [];
    for (const r of models.number.parse(text)) {
      const digits = [...r.text].filter((c) => c >= '0' && c <= '9').length;
      if (digits >= ORDER_NUMBER_MIN_DIGITS && !covered(r.start, r.end)) {
        orders.push(tokenAround(text, r.start, r.end));
        orderSpans.push([r.start, r.end]);
      }
    }
    for (const r of models.dateTime.parse(text, refDate ?? new Date())) {
      // An order number is not also a date (the date model reads "123457" as one).
      if (orderSpans.some(([a, b]) => r.start <= b && r.end >= a)) continue;
      if (r.typeName.startsWith('datetimeV2.date') || r.typeName === 'datetimeV2.datetime') dates.push(r.text);
    }
  }
  const summary = { emails: unique(emails), phoneNumbers: unique(phones), orderNumbers: unique(orders), dates: unique(dates) };
  const text = [
    ...summary.emails.map((e) => `email ${e}`),
    ...summary.phoneNumbers.map((p) => `phone ${p}`),
    ...summary.orderNumbers.map((o) => `order ${o}`),
    ...summary.dates.map((d) => `date ${d}`),
  ].join(' · ');
  return { ...summary, text };
}
