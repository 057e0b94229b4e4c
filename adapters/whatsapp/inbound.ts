/**
 * WhatsApp Cloud API webhook payload → activities and status updates. Pure: no I/O.
 * Envelope `{object: "whatsapp_business_account", entry: [{id, changes: [{field: "messages", value}]}]}`.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
 */
import { z } from 'zod';
import { ActivityTypes, type Activity } from 'botbuilder';
import type { InboundMessage, ParsedWebhook } from '../shared/meta-adapter.js';

const messageSchema = z.looseObject({
  from: z.string().min(1),
  id: z.string().min(1),
  timestamp: z.string().optional(),
  type: z.string(),
  text: z.looseObject({ body: z.string() }).optional(),
  interactive: z
    .looseObject({
      type: z.string(),
      button_reply: z.looseObject({ id: z.string(), title: z.string().optional() }).optional(),
      list_reply: z.looseObject({ id: z.string(), title: z.string().optional(), description: z.string().optional() }).optional(),
    })
    .optional(),
  button: z.looseObject({ payload: z.string().optional(), text: z.string().optional() }).optional(),
  context: z.looseObject({ from: z.string().optional(), id: z.string().optional() }).optional(),
});

const statusSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  timestamp: z.string().optional(),
  recipient_id: z.string().optional(),
  errors: z
    .array(z.looseObject({ code: z.number(), title: z.string().optional(), message: z.string().optional(), error_data: z.looseObject({ details: z.string().optional() }).optional() }))
    .optional(),
});

/** The `value` of a `messages` change. */
export const whatsappValueSchema = z.looseObject({
  messaging_product: z.string().optional(),
  metadata: z.looseObject({ phone_number_id: z.string(), display_phone_number: z.string().optional() }),
  contacts: z.array(z.looseObject({ wa_id: z.string().optional(), profile: z.looseObject({ name: z.string().optional() }).optional() })).optional(),
  messages: z.array(messageSchema).optional(),
  statuses: z.array(statusSchema).optional(),
  errors: z.array(z.unknown()).optional(),
});

/** The whole POST body. */
export const whatsappWebhookSchema = z.looseObject({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(z.looseObject({ id: z.string(), changes: z.array(z.looseObject({ field: z.string(), value: z.unknown() })) })),
});

/** Not messages from a customer's point of view: no turn, no reply. */
const IGNORED_TYPES = new Set(['reaction', 'system', 'request_welcome', 'ephemeral', 'revoke']);

/**
 * Maps a verified WhatsApp webhook body. Messages to another phone number of the same business
 * account are ignored (`phoneNumberId`).
 */
export function parseWhatsAppWebhook(body: unknown, serviceUrl: string, phoneNumberId: string): ParsedWebhook {
  const parsed = whatsappWebhookSchema.parse(body);
  const out: ParsedWebhook = { messages: [], statuses: [], ignored: [] };
  for (const entry of parsed.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages') {
        out.ignored.push(`field ${change.field}`);
        continue;
      }
      const value = whatsappValueSchema.parse(change.value);
      if (value.metadata.phone_number_id !== phoneNumberId) {
        out.ignored.push(`phone number ${value.metadata.phone_number_id} is not ours`);
        continue;
      }
      const names = new Map((value.contacts ?? []).map((c) => [c.wa_id ?? '', c.profile?.name ?? '']));
      for (const m of value.messages ?? []) {
        if (IGNORED_TYPES.has(m.type)) {
          out.ignored.push(`message type ${m.type}`);
          continue;
        }
        out.messages.push(messageOf(m, names.get(m.from) ?? '', value.metadata.phone_number_id, serviceUrl));
      }
      for (const s of value.statuses ?? []) {
        if (s.status !== 'sent' && s.status !== 'delivered' && s.status !== 'read' && s.status !== 'failed') {
          out.ignored.push(`status ${s.status}`);
          continue;
        }
        const e = s.errors?.[0];
        out.statuses.push({
          kind: 'message',
          messageId: s.id,
          status: s.status,
          conversationId: s.recipient_id,
          error: e ? { code: e.code, message: e.message ?? e.title ?? `error ${e.code}`, details: e.error_data?.details } : undefined,
        });
      }
      if (value.errors?.length) out.ignored.push(`errors: ${JSON.stringify(value.errors).slice(0, 300)}`);
    }
  }
  return out;
}

function messageOf(m: z.infer<typeof messageSchema>, name: string, phoneNumberId: string, serviceUrl: string): InboundMessage {
  const activity: Partial<Activity> = {
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
  // A tapped reply button, list row or template button carries the bot's CardAction value as its id/payload.
  let text: string | undefined;
  if (m.type === 'text') text = m.text?.body;
  else if (m.type === 'interactive' && m.interactive?.button_reply) text = m.interactive.button_reply.id;
  else if (m.type === 'interactive' && m.interactive?.list_reply) text = m.interactive.list_reply.id;
  else if (m.type === 'button') text = m.button?.payload ?? m.button?.text;
  if (text !== undefined && text.trim() !== '') {
    activity.text = text;
    if (m.type !== 'text') activity.value = m.interactive?.button_reply ?? m.interactive?.list_reply ?? m.button;
    return { id: m.id, conversationId: m.from, activity, unsupported: false };
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
  // Media, locations, stickers, contacts, Flow replies and types we do not know all get the polite reply.
  return { id: m.id, conversationId: m.from, activity, unsupported: true };
}
