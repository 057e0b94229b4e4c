/**
 * Activity → Messenger Send API messages. Pure: no I/O. Every platform limit is a named constant.
 * @see https://developers.facebook.com/docs/messenger-platform/reference/send-api/
 */
import type { Activity, CardAction } from 'botbuilder';
import { markdownToPlatformText, splitText, truncate } from '../shared/text.js';
import { markChoicePayload } from '../shared/choice-payload.js';
import { mediaIdOf } from '../../src/media/outbound.js';

/** Text messages must be UTF-8 and under 2,000 characters. https://developers.facebook.com/docs/messenger-platform/reference/send-api/#message */
export const MESSENGER_TEXT_LIMIT = 2000;
/** At most 13 quick replies. https://developers.facebook.com/docs/messenger-platform/reference/buttons/quick-replies */
export const MESSENGER_QUICK_REPLY_LIMIT = 13;
/** Quick reply titles have a 20-character limit. https://developers.facebook.com/docs/messenger-platform/reference/buttons/quick-replies */
export const MESSENGER_QUICK_REPLY_TITLE_LIMIT = 20;
/** Quick reply payloads have a 1,000-character limit. https://developers.facebook.com/docs/messenger-platform/reference/buttons/quick-replies */
export const MESSENGER_PAYLOAD_LIMIT = 1000;
/** The tag that lets a human agent answer up to 7 days after the customer's last message. https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags */
export const MESSENGER_HUMAN_AGENT_TAG = 'HUMAN_AGENT';
/** Quick replies need non-empty text; used when the bot sends only suggestions. */
export const MESSENGER_CHOICE_PROMPT = 'Please choose:';

/**
 * How a Customer Chat Plugin guest's conversation id starts (`user_ref:<ref>`): such a sender has a
 * `user_ref` instead of a PSID, and is answered at `recipient: {user_ref}`.
 * @see https://developers.facebook.com/docs/messenger-platform/send-api-reference
 */
export const USER_REF_PREFIX = 'user_ref:';

/** The Send API `recipient` for a conversation id: `{id: PSID}`, or `{user_ref}` for a plugin guest. */
export function messengerRecipient(conversationId: string): { id: string } | { user_ref: string } {
  return conversationId.startsWith(USER_REF_PREFIX) ? { user_ref: conversationId.slice(USER_REF_PREFIX.length) } : { id: conversationId };
}

/** The `message` object of a Send API request. */
export type MessengerMessage =
  | { text: string; quick_replies?: { content_type: 'text'; title: string; payload: string }[] }
  | { attachment: { type: 'image' | 'video' | 'audio' | 'file'; payload: { url: string; is_reusable?: boolean } } };

/** The choices an activity offers (suggested actions, hero card buttons) as {title, value}. */
export function choicesOf(activity: Partial<Activity>): { title: string; value: string }[] {
  const actions: CardAction[] = [...(activity.suggestedActions?.actions ?? [])];
  for (const a of activity.attachments ?? []) if (Array.isArray(a.content?.buttons)) actions.push(...a.content.buttons);
  return actions
    .filter((a) => a.type !== 'openUrl' && a.type !== 'signin' && a.type !== 'call')
    .map((a) => {
      const value = typeof a.value === 'string' ? a.value : a.value !== undefined ? JSON.stringify(a.value) : (a.text ?? a.title ?? '');
      return { title: String(a.title ?? a.displayText ?? value), value: String(value) };
    })
    .filter((c) => c.title.trim() !== '' && c.value !== '');
}

/** The text of an activity including card titles/texts and link buttons, as Markdown. */
export function markdownOf(activity: Partial<Activity>): string {
  const parts: string[] = [];
  if (activity.text) parts.push(activity.text);
  for (const a of activity.attachments ?? []) {
    const c = a.content;
    if (c && typeof c === 'object') {
      if (c.title) parts.push(`**${c.title}**`);
      if (c.subtitle) parts.push(c.subtitle);
      if (c.text) parts.push(c.text);
      for (const b of (c.buttons ?? []) as CardAction[]) if (b.type === 'openUrl') parts.push(`[${b.title}](${b.value})`);
    }
  }
  for (const a of activity.suggestedActions?.actions ?? []) if (a.type === 'openUrl') parts.push(`[${a.title}](${a.value})`);
  return parts.join('\n\n');
}

/**
 * Renders one activity as Send API messages: images as attachments, the text (Markdown → plain)
 * split at 2,000 characters on sentence boundaries, suggestions as at most 13 quick replies on the
 * last text message.
 */
export function renderMessenger(activity: Partial<Activity>): MessengerMessage[] {
  const out: MessengerMessage[] = [];
  for (const a of activity.attachments ?? []) {
    const kind = a.contentType?.split('/')[0];
    // Stored files (an agent's attachments) are uploaded by the adapter as multipart `filedata`.
    if (a.contentUrl && (kind === 'image' || kind === 'video' || kind === 'audio') && !mediaIdOf(a)) out.push({ attachment: { type: kind, payload: { url: a.contentUrl, is_reusable: true } } });
  }
  const text = markdownToPlatformText(markdownOf(activity), 'plain');
  const chunks = splitText(text, MESSENGER_TEXT_LIMIT);
  const choices = choicesOf(activity).slice(0, MESSENGER_QUICK_REPLY_LIMIT);
  if (choices.length && chunks.length === 0) chunks.push(MESSENGER_CHOICE_PROMPT);
  chunks.forEach((chunk, i) => {
    const msg: MessengerMessage = { text: chunk };
    if (i === chunks.length - 1 && choices.length)
      msg.quick_replies = choices.map((c) => ({
        content_type: 'text',
        title: truncate(c.title, MESSENGER_QUICK_REPLY_TITLE_LIMIT),
        payload: markChoicePayload(c.value, MESSENGER_PAYLOAD_LIMIT),
      }));
    out.push(msg);
  });
  return out;
}
