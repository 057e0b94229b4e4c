/**
 * The front matter of one knowledge file, as one strict zod schema. Strict on purpose: a typo such as
 * `alternate:` must be reported, not silently ignored (the entry would lose all its alternates).
 * Field names follow DESIGN.md ("Knowledge folder"); the loader maps them to `KnowledgeEntry`.
 */
import { z } from 'zod';
import { CHANNELS, DETAIL_KINDS } from './types.js';

/** `YYYY-MM-DD` that is a real calendar day (2026-02-30 is not). */
export function isCalendarDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

const text = z.string().trim().min(1);
const textList = z.array(text);
const day = z.string().refine(isCalendarDay, { message: 'not a calendar day' });

/** The fields a knowledge file may have in its front matter, and nothing else. */
export const frontMatterSchema = z
  .strictObject({
    id: z
      .string()
      .trim()
      .min(1)
      .regex(/^[^\s]+$/, { message: 'must not contain spaces' })
      .optional(),
    question: text,
    alternates: textList.default([]),
    tags: textList.default([]),
    locale: z
      .string()
      .trim()
      .regex(/^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/, { message: 'not a language tag' })
      .default('en'),
    channels: z.array(z.enum(CHANNELS)).min(1).optional(),
    handoff: z.boolean().default(false),
    valid_from: day.optional(),
    valid_until: day.optional(),
    follow_ups: textList.default([]),
    asks_for: z.enum(DETAIL_KINDS).optional(),
    // Phrasings that must reach this entry as the answer (`kb check`); never trained on, so they test the search.
    tests: textList.default([]),
  })
  // Runs even when other fields have problems (zod skips refinements otherwise), so every problem shows at once.
  .refine((fm) => !(fm.valid_from && fm.valid_until && fm.valid_until < fm.valid_from), {
    path: ['valid_until'],
    message: 'valid_until is before valid_from',
    when: (payload) => {
      const v = payload.value as { valid_from?: unknown; valid_until?: unknown } | undefined;
      return typeof v?.valid_from === 'string' && typeof v.valid_until === 'string' && isCalendarDay(v.valid_from) && isCalendarDay(v.valid_until);
    },
  });

/** Front matter after validation and defaults. */
export type FrontMatter = z.infer<typeof frontMatterSchema>;

/** Every field name the front matter accepts (used to suggest the closest one for a typo). */
export const FRONT_MATTER_FIELDS = Object.keys(frontMatterSchema.shape) as (keyof FrontMatter)[];

/** What each field holds, in words an editor understands (for "wrong type" messages). */
export const FIELD_DESCRIPTIONS: Record<keyof FrontMatter, string> = {
  id: 'an id without spaces, e.g. billing/pay-by-card',
  question: 'the question as text',
  alternates: 'a list of texts, one per line starting with "- "',
  tags: 'a list of words, e.g. [billing, payments]',
  locale: 'a language tag such as en or en-GB',
  channels: `a list of channels from ${CHANNELS.join(', ')}`,
  handoff: 'true or false',
  valid_from: 'a date YYYY-MM-DD',
  valid_until: 'a date YYYY-MM-DD',
  follow_ups: 'a list of entry ids, e.g. [billing/due-date]',
  asks_for: `what the answer asks the customer for, one of ${DETAIL_KINDS.join(', ')}`,
  tests: 'a list of ways customers ask that must reach this entry, one per line starting with "- "',
};

/** Edit distance (Levenshtein) — small fields list, so the plain dynamic programme is enough. */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The candidate a mistyped name most likely meant, ignoring case, `-` and `_`, or undefined when
 * nothing is close enough to be a plausible typo.
 */
export function closestMatch(name: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');
  let best: { candidate: string; d: number } | undefined;
  for (const candidate of candidates) {
    const d = distance(norm(name), norm(candidate));
    if (!best || d < best.d) best = { candidate, d };
  }
  if (!best) return undefined;
  const allowed = Math.max(1, Math.floor(best.candidate.length / 4));
  return best.d <= allowed && best.d < norm(best.candidate).length / 2 ? best.candidate : undefined;
}

/** The known field a mistyped one most likely meant: `alternate` → `alternates`, `validUntil` → `valid_until`. */
export function closestField(name: string): string | undefined {
  return closestMatch(name, FRONT_MATTER_FIELDS);
}
