/**
 * WhatsApp Cloud API webhook payload → activities and status updates. Pure: no I/O.
 * Envelope `{object: "whatsapp_business_account", entry: [{id, changes: [{field: "messages", value}]}]}`,
 * read message by message and status by status: one that does not parse is set aside (`unparsed`)
 * and the others of the POST still run.
 *
 * | message / status | becomes |
 * | --- | --- |
 * | `text` | a message activity (answered) |
 * | `interactive` `button_reply` / `list_reply`, `button` | a message activity: the bot's value for its own payload, else the title shown |
 * | `reaction` | `messageReaction` (no emoji: removed); recorded, not answered |
 * | `edit`, `unsupported` of type `edit` | `messageUpdate` with the new text when there is one; recorded, not answered |
 * | `revoke`, `unsupported` of type `revoke` | `messageDelete`; recorded, not answered |
 * | media, `location`, `contacts`, `order`, `nfm_reply`, other `unsupported` | a message activity with the part as an attachment (`unsupported`) |
 * | `system`, `request_welcome`, `ephemeral` | consumed silently |
 * | statuses `sent` / `delivered` / `read` / `failed` | status updates of our own messages |
 *
 * Ids may arrive as JSON numbers; they are read as strings.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
 */
import { z } from 'zod';
import { ActivityTypes, type Activity } from 'botbuilder';
import type { InboundMessage, ParsedWebhook } from '../shared/meta-adapter.js';
import { choiceText } from '../shared/choice-payload.js';
import { whatsappMediaOf } from './media.js';
import { issuesOf } from '../messenger/inbound.js';

/** An id Meta documents as a string but a sender may write as a number. */
const idSchema = z.union([z.string().min(1), z.number()]).transform(String);

const messageSchema = z.looseObject({
  from: idSchema,
  id: idSchema,
  timestamp: z.union([z.string(), z.number()]).transform(String).optional(),
  type: z.string(),
  text: z.looseObject({ body: z.string() }).optional(),
  interactive: z
    .looseObject({
      type: z.string(),
      button_reply: z.looseObject({ id: idSchema, title: z.string().optional() }).optional(),
      list_reply: z.looseObject({ id: idSchema, title: z.string().optional(), description: z.string().optional() }).optional(),
    })
    .optional(),
  button: z.looseObject({ payload: idSchema.optional(), text: z.string().optional() }).optional(),
  context: z.looseObject({ from: idSchema.optional(), id: idSchema.optional() }).optional(),
  reaction: z.looseObject({ message_id: idSchema, emoji: z.string().optional() }).optional(),
  revoke: z.looseObject({ original_message_id: idSchema }).optional(),
  edit: z.looseObject({ original_message_id: idSchema, message: z.record(z.string(), z.any()).optional() }).optional(),
  unsupported: z.looseObject({ type: z.string().optional() }).optional(),
});
type WhatsAppMessage = z.infer<typeof messageSchema>;

const statusSchema = z.looseObject({
  id: idSchema,
  status: z.string(),
  timestamp: z.union([z.string(), z.number()]).optional(),
  recipient_id: idSchema.optional(),
  errors: z
    .array(
      z.looseObject({
        code: z.union([z.number(), z.string()]),
        title: z.string().optional(),
        message: z.string().optional(),
        error_data: z.looseObject({ details: z.string().optional() }).optional(),
      }),
    )
    .optional(),
});

/** The `value` of a `messages` change; its messages and statuses are read one by one. */
export const whatsappValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: z.looseObject({ phone_number_id: idSchema, display_phone_number: idSchema.optional() }),
  contacts: z.array(z.looseObject({ wa_id: idSchema.optional(), profile: z.looseObject({ name: z.string().optional() }).optional() })).optional(),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(z.unknown()).optional(),
});

/** The whole POST body. */
export const whatsappWebhookSchema = z.looseObject({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(z.looseObject({ id: idSchema, changes: z.array(z.looseObject({ field: z.string(), value: z.unknown() })) })),
});

/** Not messages from a customer's point of view: no turn, no reply, nothing for the transcript. */
const SILENT_TYPES = new Set(['system', 'request_welcome', 'ephemeral']);

/** Statuses of our own messages that we keep. */
const KEPT_STATUSES = new Set(['sent', 'delivered', 'read', 'failed']);

/**
 * Maps a verified WhatsApp webhook body. Messages to another phone number of the same business
 * account are ignored (`phoneNumberId`). Throws (zod) only when it is not a WhatsApp webhook at all.
 */
export function parseWhatsAppWebhook(body: unknown, serviceUrl: string, phoneNumberId: string): ParsedWebhook {
  const parsed = whatsappWebhookSchema.parse(body);
  const out: ParsedWebhook = { messages: [], statuses: [], ignored: [], unparsed: [], warnings: [] };
  parsed.entry.forEach((entry, e) => {
    entry.changes.forEach((change, c) => {
      const where = `entry[${e}].changes[${c}]`;
      if (change.field !== 'messages') {
        out.ignored.push(`field ${change.field}`);
        return;
      }
      const valueResult = whatsappValueSchema.safeParse(change.value);
      if (!valueResult.success) {
        out.unparsed.push({ where: `${where}.value`, reason: issuesOf(valueResult.error), event: change.value });
        return;
      }
      const value = valueResult.data;
      if (value.metadata.phone_number_id !== phoneNumberId) {
        out.ignored.push(`phone number ${value.metadata.phone_number_id} is not ours`);
        return;
      }
      const names = new Map((value.contacts ?? []).map((x) => [x.wa_id ?? '', x.profile?.name ?? '']));
      (value.messages ?? []).forEach((raw, i) => {
        const m = messageSchema.safeParse(raw);
        if (!m.success) out.unparsed.push({ where: `${where}.value.messages[${i}]`, reason: issuesOf(m.error), event: raw });
        else readMessage(m.data, names.get(m.data.from) ?? '', value.metadata.phone_number_id, serviceUrl, out);
      });
      (value.statuses ?? []).forEach((raw, i) => {
        const s = statusSchema.safeParse(raw);
        if (!s.success) {
          out.unparsed.push({ where: `${where}.value.statuses[${i}]`, reason: issuesOf(s.error), event: raw });
          return;
        }
        const st = s.data;
        if (!KEPT_STATUSES.has(st.status)) {
          out.ignored.push(`status ${st.status}`);
          return;
        }
        const err = st.errors?.[0];
        out.statuses.push({
          kind: 'message',
          messageId: st.id,
          status: st.status as 'sent' | 'delivered' | 'read' | 'failed',
          conversationId: st.recipient_id,
          error: err ? { code: err.code, message: err.message ?? err.title ?? `error ${err.code}`, details: err.error_data?.details } : undefined,
        });
      });
      if (value.errors?.length) out.warnings.push(`errors: ${JSON.stringify(value.errors).slice(0, 300)}`);
    });
  });
  return out;
}

/** Sorts one parsed message into `out`: a change to an earlier message, silence, or a message. */
function readMessage(m: WhatsAppMessage, name: string, phoneNumberId: string, serviceUrl: string, out: ParsedWebhook): void {
  if (SILENT_TYPES.has(m.type)) {
    out.ignored.push(`message type ${m.type}`);
    return;
  }
  // An edit or delete Cloud API cannot show in full arrives as `unsupported` of that type.
  const hidden = m.type === 'unsupported' ? m.unsupported?.type : undefined;
  const kind = hidden === 'edit' || hidden === 'revoke' ? hidden : m.type;
  if (kind === 'reaction') out.messages.push(reactionOf(m, name, phoneNumberId, serviceUrl));
  else if (kind === 'revoke') out.messages.push(changeOf(m, name, phoneNumberId, serviceUrl, ActivityTypes.MessageDelete, m.revoke?.original_message_id));
  else if (kind === 'edit') out.messages.push(changeOf(m, name, phoneNumberId, serviceUrl, ActivityTypes.MessageUpdate, m.edit?.original_message_id, editedText(m.edit?.message)));
  else out.messages.push(messageOf(m, name, phoneNumberId, serviceUrl));
}

/** The new text of an edited message: its body, or the caption of edited media. */
function editedText(message: Record<string, any> | undefined): string | undefined {
  if (!message) return undefined;
  const text = message.text?.body ?? message[String(message.type)]?.caption;
  return typeof text === 'string' ? text : undefined;
}

function activityOf(m: WhatsAppMessage, name: string, phoneNumberId: string, serviceUrl: string): Partial<Activity> {
  return {
    type: ActivityTypes.Message,
    id: m.id,
    channelId: 'whatsapp',
    serviceUrl,
    timestamp: m.timestamp ? new Date(Number(m.timestamp) * 1000) : undefined,
    from: { id: m.from, name, role: 'user' },
    recipient: { id: phoneNumberId, name: '', role: 'bot' },
    conversation: { id: m.from, isGroup: false, conversationType: 'personal', name },
    replyToId: m.context?.id,
    channelData: m,
  };
}

/** A reaction to a message (`messageReaction`); without an emoji it was removed. */
function reactionOf(m: WhatsAppMessage, name: string, phoneNumberId: string, serviceUrl: string): InboundMessage {
  const activity = activityOf(m, name, phoneNumberId, serviceUrl);
  activity.type = ActivityTypes.MessageReaction;
  activity.replyToId = m.reaction?.message_id;
  const emoji = m.reaction?.emoji;
  if (emoji) activity.reactionsAdded = [{ type: emoji }];
  else activity.reactionsRemoved = [{ type: '' }]; // WhatsApp does not say which emoji was taken back
  return { id: m.id, conversationId: m.from, activity, unsupported: false, opensWindow: false };
}

/** An edit (`messageUpdate`, with the new text when WhatsApp gives it) or a delete (`messageDelete`) of message `of`. */
function changeOf(m: WhatsAppMessage, name: string, phoneNumberId: string, serviceUrl: string, type: string, of: string | undefined, text?: string): InboundMessage {
  const activity = activityOf(m, name, phoneNumberId, serviceUrl);
  activity.type = type;
  activity.replyToId = of;
  if (text !== undefined) activity.text = text;
  return { id: m.id, conversationId: m.from, activity, unsupported: false, opensWindow: false };
}

function messageOf(m: WhatsAppMessage, name: string, phoneNumberId: string, serviceUrl: string): InboundMessage {
  const activity = activityOf(m, name, phoneNumberId, serviceUrl);
  // A reply button or list row the bot sent carries its CardAction value; any other tap (a template's
  // button, another sender's list) is read as the title the customer saw.
  let text: string | undefined;
  if (m.type === 'text') text = m.text?.body;
  else if (m.type === 'interactive' && m.interactive?.button_reply) text = choiceText(m.interactive.button_reply.id, m.interactive.button_reply.title);
  else if (m.type === 'interactive' && m.interactive?.list_reply) text = choiceText(m.interactive.list_reply.id, m.interactive.list_reply.title);
  else if (m.type === 'button') text = choiceText(m.button?.payload, m.button?.text);
  if (text !== undefined && text.trim() !== '') {
    activity.text = text;
    if (m.type !== 'text') activity.value = m.interactive?.button_reply ?? m.interactive?.list_reply ?? m.button;
    return { id: m.id, conversationId: m.from, activity, unsupported: false };
  }
  // Media (fetched during the turn; the caption is the text) and locations (coordinates as text).
  const media = whatsappMediaOf(m as z.infer<typeof messageSchema> & Record<string, unknown>);
  if (media) {
    Object.assign(activity, media);
    return { id: m.id, conversationId: m.from, activity, unsupported: true };
  }
  const part = (m as Record<string, unknown>)[m.type];
  activity.text = '';
  activity.attachments = [
    {
      contentType: typeof (part as any)?.mime_type === 'string' ? (part as any).mime_type : `application/vnd.whatsapp.${m.type}`,
      name: m.type,
      content: part ?? {},
    },
  ];
  // Contacts, Flow replies and types we do not know get the polite reply.
  return { id: m.id, conversationId: m.from, activity, unsupported: true };
}
