/**
 * What the handoff keeps of the customer's own words outside the transcript: the question on the
 * queue record (and in the `handoff.initiate` context) is the start of what they asked, bounded, so
 * one customer's long messages cannot make every rewrite of the queue record megabytes long. The
 * transcript keeps every message whole; the agent reads it beside the question.
 */

/**
 * The handoff question: room for a few unanswered questions of a paragraph each (the bot keeps
 * `MAX_KEPT_MISSES` of `KEPT_TEXT_CHARS`, src/bot/limits.ts), which is what an agent reads before the transcript.
 */
export const HANDOFF_QUESTION_CHARS = 2_000;

/** `text` cut to at most `max` characters, at a space where one is near the end, marked with "…". */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max - 1);
  const space = head.lastIndexOf(' ');
  return `${(space > max * 0.8 ? head.slice(0, space) : head).trimEnd()}…`;
}

/** The question a handoff keeps (undefined stays undefined). */
export function boundQuestion(question: string | undefined): string | undefined {
  return question === undefined ? undefined : clipText(question, HANDOFF_QUESTION_CHARS);
}
