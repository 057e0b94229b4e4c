/**
 * Messenger webhook payload → activities and status updates. Pure: no I/O.
 * Envelope `{object: "page", entry: [{id, time, messaging: [...]}]}`; `standby` events belong to another
 * app and are ignored.
 * @see https://developers.facebook.com/docs/messenger-platform/reference/webhook-events
 */
import { z } from 'zod';
import { ActivityTypes, type Activity, type Attachment } from 'botbuilder';
import type { InboundMessage, ParsedWebhook, StatusUpdate } from '../shared/meta-adapter.js';

const attachmentSchema = z.looseObject({ type: z.string(), payload: z.any().optional(), title: z.string().optional() });

/** One event inside `entry[].messaging[]`. */
export const messagingEventSchema = z.looseObject({
  sender: z.looseObject({ id: z.string().optional(), user_ref: z.string().optional() }),
  recipient: z.looseObject({ id: z.string().optional() }),
  timestamp: z.union([z.number(), z.string()]).optional(),
  message: z
    .looseObject({
      mid: z.string(),
      text: z.string().optional(),
      is_echo: z.boolean().optional(),
      quick_reply: z.looseObject({ payload: z.string() }).optional(),
      attachments: z.array(attachmentSchema).optional(),
      sticker_id: z.union([z.number(), z.string()]).optional(),
    })
    .optional(),
  postback: z.looseObject({ mid: z.string().optional(), title: z.string().optional(), payload: z.string().optional() }).optional(),
  delivery: z.looseObject({ mids: z.array(z.string()).optional(), watermark: z.number() }).optional(),
  read: z.looseObject({ watermark: z.number() }).optional(),
});
export type MessagingEvent = z.infer<typeof messagingEventSchema>;

/** The whole POST body. */
export const messengerWebhookSchema = z.looseObject({
  object: z.literal('page'),
  entry: z.array(
    z.looseObject({
      id: z.string(),
      time: z.number().optional(),
      messaging: z.array(messagingEventSchema).optional(),
      standby: z.array(z.unknown()).optional(),
    }),
  ),
});

/** Maps a verified Messenger webhook body; throws (zod) when it is not a page webhook. */
export function parseMessengerWebhook(body: unknown, serviceUrl: string): ParsedWebhook {
  const parsed = messengerWebhookSchema.parse(body);
  const out: ParsedWebhook = { messages: [], statuses: [], ignored: [] };
  for (const entry of parsed.entry) {
    if (entry.standby?.length) out.ignored.push(`standby x${entry.standby.length} (conversation owned by another app)`);
    for (const ev of entry.messaging ?? []) {
      const psid = ev.sender.id;
      if (ev.message?.is_echo) {
        // Our own message coming back (or one a person sent from the Page inbox): a status, never a turn.
        out.statuses.push({ kind: 'message', messageId: ev.message.mid, status: 'sent', conversationId: ev.recipient.id });
      } else if (ev.message && psid) {
        out.messages.push(messageOf(ev, psid, entry.id, serviceUrl));
      } else if (ev.postback && psid) {
        out.messages.push(postbackOf(ev, psid, entry.id, serviceUrl));
      } else if (ev.delivery && psid) {
        const d = ev.delivery;
        if (d.mids?.length) for (const mid of d.mids) out.statuses.push({ kind: 'message', messageId: mid, status: 'delivered', conversationId: psid });
        else out.statuses.push({ kind: 'watermark', conversationId: psid, watermark: d.watermark, status: 'delivered' } satisfies StatusUpdate);
      } else if (ev.read && psid) {
        out.statuses.push({ kind: 'watermark', conversationId: psid, watermark: ev.read.watermark, status: 'read' });
      } else {
        out.ignored.push(Object.keys(ev).filter((k) => !['sender', 'recipient', 'timestamp'].includes(k)).join(',') || 'empty event');
      }
    }
  }
  return out;
}

function common(ev: MessagingEvent, psid: string, pageId: string, serviceUrl: string, id: string): Partial<Activity> {
  const ts = typeof ev.timestamp === 'string' ? Number(ev.timestamp) * (ev.timestamp.length <= 10 ? 1000 : 1) : ev.timestamp;
  return {
    type: ActivityTypes.Message,
    id,
    channelId: 'messenger',
    serviceUrl,
    timestamp: ts ? new Date(ts) : undefined,
    from: { id: psid, name: '', role: 'user' },
    recipient: { id: ev.recipient.id ?? pageId, name: '', role: 'bot' },
    conversation: { id: psid, isGroup: false, conversationType: 'personal', name: '' },
    channelData: ev,
  };
}

function messageOf(ev: MessagingEvent, psid: string, pageId: string, serviceUrl: string): InboundMessage {
  const m = ev.message!;
  const activity = common(ev, psid, pageId, serviceUrl, m.mid);
  const attachments: Attachment[] = (m.attachments ?? []).map((a) => ({
    contentType: a.type === 'image' || a.type === 'video' || a.type === 'audio' ? `${a.type}/*` : `application/vnd.facebook.${a.type}`,
    contentUrl: typeof a.payload?.url === 'string' ? a.payload.url : undefined,
    name: a.title ?? a.type,
    content: a.payload,
  }));
  if (attachments.length) activity.attachments = attachments;
  // A tapped quick reply carries the bot's CardAction value as its payload: that is the choice.
  const text = m.quick_reply?.payload ?? m.text;
  if (text !== undefined && text.trim() !== '' && m.sticker_id === undefined) {
    activity.text = text;
    if (m.quick_reply) activity.value = { payload: m.quick_reply.payload, title: m.text };
    return { id: m.mid, conversationId: psid, activity, unsupported: false };
  }
  activity.text = '';
  return { id: m.mid, conversationId: psid, activity, unsupported: true };
}

function postbackOf(ev: MessagingEvent, psid: string, pageId: string, serviceUrl: string): InboundMessage {
  const p = ev.postback!;
  // Older postbacks have no mid: make a stable key from what Meta repeats on a retry.
  const id = p.mid ?? `postback:${psid}:${ev.timestamp}:${p.payload ?? ''}`;
  const activity = common(ev, psid, pageId, serviceUrl, id);
  activity.text = p.payload ?? p.title ?? '';
  activity.value = { payload: p.payload, title: p.title };
  return { id, conversationId: psid, activity, unsupported: activity.text === '' };
}
