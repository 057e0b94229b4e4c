/**
 * Activity → WhatsApp Cloud API message bodies. Pure: no I/O. Every platform limit is a named constant.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
 */
import type { Activity } from 'botbuilder';
import { choicesOf, markdownOf } from '../messenger/outbound.js';
import { markdownToPlatformText, splitText, truncate } from '../shared/text.js';
import { markChoicePayload } from '../shared/choice-payload.js';
import { WHATSAPP_CAPTION_LIMIT, mediaIdOf } from '../../src/media/outbound.js';

/** Text message body: up to 4,096 characters. https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#text-object */
export const WHATSAPP_TEXT_LIMIT = 4096;
/** Reply buttons: at most 3. https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-reply-buttons-messages */
export const WHATSAPP_REPLY_BUTTON_LIMIT = 3;
/** Reply button titles: at most 20 characters. (same page) */
export const WHATSAPP_BUTTON_TITLE_LIMIT = 20;
/** Reply button / list row ids: at most 256 characters. (same page) */
export const WHATSAPP_CHOICE_ID_LIMIT = 256;
/** Interactive reply-button body text: at most 1,024 characters. (same page) */
export const WHATSAPP_BUTTON_BODY_LIMIT = 1024;
/** List messages: at most 10 rows across all sections. https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages */
export const WHATSAPP_LIST_ROW_LIMIT = 10;
/** List row titles: at most 24 characters. (same page) */
export const WHATSAPP_LIST_ROW_TITLE_LIMIT = 24;
/** List row descriptions: at most 72 characters. (same page) */
export const WHATSAPP_LIST_ROW_DESCRIPTION_LIMIT = 72;
/** The list's button label: at most 20 characters. (same page) */
export const WHATSAPP_LIST_BUTTON_LIMIT = 20;
/** List body text: at most 4,096 characters. (same page) */
export const WHATSAPP_LIST_BODY_LIMIT = 4096;
/** Body used when the bot sends only choices (interactive messages need a body). */
export const WHATSAPP_CHOICE_PROMPT = 'Please choose:';
/** Label of the button that opens a list. */
export const WHATSAPP_LIST_BUTTON_TEXT = 'Options';

/** A messages API body without `messaging_product`/`to`, which the adapter adds. */
export type WhatsAppMessage =
  | { type: 'text'; text: { body: string; preview_url: boolean } }
  | { type: 'image'; image: { link: string; caption?: string } | { id: string; caption?: string } }
  | { type: 'document'; document: { id: string; caption?: string; filename?: string } }
  | { type: 'interactive'; interactive: Record<string, unknown> };

/** A stored file already uploaded to `POST /{phone-number-id}/media`, sent by its WhatsApp media id. */
export interface WhatsAppUpload {
  kind: 'image' | 'document';
  id: string;
  filename?: string;
}

/**
 * Renders one activity: uploaded files (`uploads`) as media messages — with the text as the caption
 * when there is one file, no choices and the text fits in 1,024 characters —, other images by link, the text (Markdown → WhatsApp's `*bold*` / `_italic_`) split
 * at 4,096 characters on sentences, suggestions as up to 3 reply buttons when their titles fit in 20
 * characters, else as a list of up to 10 rows (more are dropped and reported by `droppedChoices`).
 */
export function renderWhatsApp(activity: Partial<Activity>, uploads: WhatsAppUpload[] = []): WhatsAppMessage[] {
  const out: WhatsAppMessage[] = [];
  for (const a of activity.attachments ?? [])
    if (a.contentUrl && a.contentType?.startsWith('image/') && !mediaIdOf(a)) out.push({ type: 'image', image: { link: a.contentUrl, ...(a.name ? { caption: a.name } : {}) } });
  let text = markdownToPlatformText(markdownOf(activity), 'whatsapp');
  const choices = choicesOf(activity);
  const captioned = uploads.length === 1 && choices.length === 0 && text.trim() !== '' && text.length <= WHATSAPP_CAPTION_LIMIT;
  for (const u of uploads) {
    const caption = captioned ? { caption: text } : {};
    if (u.kind === 'image') out.push({ type: 'image', image: { id: u.id, ...caption } });
    else out.push({ type: 'document', document: { id: u.id, ...caption, ...(u.filename ? { filename: u.filename } : {}) } });
  }
  if (captioned) text = '';
  if (choices.length === 0) {
    for (const body of splitText(text, WHATSAPP_TEXT_LIMIT)) out.push({ type: 'text', text: { body, preview_url: /https?:\/\//.test(body) } });
    return out;
  }
  // Reply buttons only when every title fits in 20 characters; otherwise a list shows the whole
  // question (24-character row title plus a 72-character description) instead of a cut-off label.
  const asButtons = choices.length <= WHATSAPP_REPLY_BUTTON_LIMIT && choices.every((c) => c.title.trim().length <= WHATSAPP_BUTTON_TITLE_LIMIT);
  const bodyLimit = asButtons ? WHATSAPP_BUTTON_BODY_LIMIT : WHATSAPP_LIST_BODY_LIMIT;
  // Everything but the last piece goes as plain text; the last piece becomes the interactive body.
  const chunks = splitText(text, WHATSAPP_TEXT_LIMIT);
  const last = chunks.pop() ?? '';
  const lastPieces = splitText(last, bodyLimit);
  const body = lastPieces.pop() ?? WHATSAPP_CHOICE_PROMPT;
  for (const t of [...chunks, ...lastPieces]) out.push({ type: 'text', text: { body: t, preview_url: false } });
  if (asButtons) {
    out.push({
      type: 'interactive',
      interactive: {
        type: 'button',
        body: { text: body },
        action: {
          buttons: choices.map((c) => ({ type: 'reply', reply: { id: markChoicePayload(c.value, WHATSAPP_CHOICE_ID_LIMIT), title: truncate(c.title, WHATSAPP_BUTTON_TITLE_LIMIT) } })),
        },
      },
    });
  } else {
    out.push({
      type: 'interactive',
      interactive: {
        type: 'list',
        body: { text: body },
        action: {
          button: truncate(WHATSAPP_LIST_BUTTON_TEXT, WHATSAPP_LIST_BUTTON_LIMIT),
          sections: [
            {
              rows: choices.slice(0, WHATSAPP_LIST_ROW_LIMIT).map((c) => {
                const title = truncate(c.title, WHATSAPP_LIST_ROW_TITLE_LIMIT);
                return {
                  id: markChoicePayload(c.value, WHATSAPP_CHOICE_ID_LIMIT),
                  title,
                  ...(title !== c.title.trim() ? { description: truncate(c.title, WHATSAPP_LIST_ROW_DESCRIPTION_LIMIT) } : {}),
                };
              }),
            },
          ],
        },
      },
    });
  }
  return out;
}

/** How many choices `renderWhatsApp` had to leave out (more than 10). */
export function droppedChoices(activity: Partial<Activity>): number {
  return Math.max(0, choicesOf(activity).length - WHATSAPP_LIST_ROW_LIMIT);
}
