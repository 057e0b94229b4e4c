/**
 * Marks the payloads of the choices this bot sends (Messenger quick replies, WhatsApp reply buttons and
 * list rows), so a tap can be told from a payload someone else defined: a template's button, a
 * persistent-menu postback, a Flow, another tool on the same Page or number. Only a marked payload is
 * the bot's CardAction value; anything else is read as the title the customer saw and tapped.
 *
 * A prefix is enough: Meta only sends a button reply for a button the business sent, so nobody can
 * forge one; the prefix only tells which sender of the business it was.
 *
 * @example
 *   markChoicePayload('billing/pay-by-card', 256) // 'sb1:billing/pay-by-card'
 *   readChoicePayload('sb1:billing/pay-by-card')  // 'billing/pay-by-card'
 *   readChoicePayload('DEVELOPER_DEFINED')        // undefined
 */

/** What every payload the bot sends starts with. */
export const CHOICE_PAYLOAD_PREFIX = 'sb1:';

/** The payload for a choice `value`, cut to the platform's `limit` (the prefix included). */
export function markChoicePayload(value: string, limit: number): string {
  return (CHOICE_PAYLOAD_PREFIX + value).slice(0, limit);
}

/** The bot's own value when `payload` is one it sent, else undefined. */
export function readChoicePayload(payload: string | undefined): string | undefined {
  return payload?.startsWith(CHOICE_PAYLOAD_PREFIX) ? payload.slice(CHOICE_PAYLOAD_PREFIX.length) : undefined;
}

/**
 * The text a tapped choice stands for: the bot's value for its own payload, else the title the
 * customer saw — never a foreign payload, which would be searched as if the customer had typed it.
 */
export function choiceText(payload: string | undefined, title: string | undefined): string | undefined {
  return readChoicePayload(payload) ?? title;
}
