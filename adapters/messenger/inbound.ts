/**
 * Messenger webhook payload → activities and status updates. Pure: no I/O.
 * Envelope `{object: "page", entry: [{id, time, messaging: [...]}]}`, read event by event: an event
 * that does not parse is set aside (`unparsed`) and the other events of the POST still run.
 *
 * | event | becomes |
 * | --- | --- |
 * | `message` (text, quick reply, attachments) | a message activity (answered) |
 * | `postback` | a message activity: the bot's value for its own payload, else the button's title |
 * | `reaction` | `messageReaction` (recorded in the transcript, not answered) |
 * | `message_edit` | `messageUpdate` with the new text (recorded, not answered) |
 * | `message.is_deleted` | `messageDelete` (recorded, not answered) |
 * | echo, `delivery`, `read` | status updates of our own messages |
 * | `standby`, thread control, `app_roles`, `optin`, `referral`, ... | consumed silently |
 * | `policy_enforcement` | a warning for the operator |
 *
 * Senders of the Customer Chat Plugin have a `user_ref` instead of a PSID; their conversation id is
 * `user_ref:<ref>` (see `messengerRecipient`). Ids may arrive as JSON numbers; they are read as strings.
 * @see https://developers.facebook.com/docs/messenger-platform/reference/webhook-events
 */
import { z } from 'zod';
import { ActivityTypes, type Activity } from 'botbuilder';
import type { InboundMessage, ParsedWebhook, StatusUpdate } from '../shared/meta-adapter.js';
import { choiceText } from '../shared/choice-payload.js';
import { USER_REF_PREFIX } from './outbound.js';
import { messengerMediaOf } from './media.js';

/** An id Meta documents as a string but some events send as a number. */
const idSchema = z.union([z.string(), z.number()]).transform(String);

const attachmentSchema = z.looseObject({ type: z.string(), payload: z.any().optional(), title: z.string().optional() });
const partySchema = z.looseObject({ id: idSchema.optional(), user_ref: idSchema.optional() });

/** One event inside `entry[].messaging[]`. */
export const messagingEventSchema = z.looseObject({
  // Absent on events about the Page itself (`policy_enforcement`, `app_roles`, checkbox opt-ins).
  sender: partySchema.optional(),
  recipient: partySchema.optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  message: z
    .looseObject({
      mid: idSchema,
      text: z.string().optional(),
      is_echo: z.boolean().optional(),
      is_deleted: z.boolean().optional(),
      quick_reply: z.looseObject({ payload: idSchema }).optional(),
      attachments: z.array(attachmentSchema).optional(),
      sticker_id: z.union([z.number(), z.string()]).optional(),
    })
    .optional(),
  postback: z.looseObject({ mid: idSchema.optional(), title: z.string().optional(), payload: idSchema.optional() }).optional(),
  delivery: z.looseObject({ mids: z.array(idSchema).optional(), watermark: z.coerce.number() }).optional(),
  read: z.looseObject({ watermark: z.coerce.number() }).optional(),
  reaction: z.looseObject({ mid: idSchema, action: z.string().optional(), emoji: z.string().optional(), reaction: z.string().optional() }).optional(),
  message_edit: z.looseObject({ mid: idSchema, text: z.string().optional(), num_edit: z.union([z.number(), z.string()]).optional() }).optional(),
  policy_enforcement: z.looseObject({ action: z.string().optional(), reason: z.string().optional() }).optional(),
});
export type MessagingEvent = z.infer<typeof messagingEventSchema>;

/** One entry of the POST body; its events are read one by one. */
const entrySchema = z.looseObject({
  id: idSchema,
  time: z.number().optional(),
  messaging: z.array(z.unknown()).optional(),
  standby: z.array(z.unknown()).optional(),
});

/** The whole POST body. */
export const messengerWebhookSchema = z.looseObject({ object: z.literal('page'), entry: z.array(z.unknown()) });

/**
 * Events this bot consumes without a turn: the Handover Protocol's (our own console is the human
 * side, so another app's thread control changes nothing here), opt-ins and referrals (nothing to
 * answer until the customer writes), and features this bot does not offer.
 */
const SILENT_EVENTS = new Set([
  'pass_thread_control',
  'take_thread_control',
  'request_thread_control',
  'app_roles',
  'optin',
  'referral',
  'account_linking',
  'messaging_feedback',
  'game_play',
]);

/** A zod error in one line: where and what. */
export function issuesOf(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Maps a verified Messenger webhook body; throws (zod) only when it is not a page webhook at all. */
export function parseMessengerWebhook(body: unknown, serviceUrl: string): ParsedWebhook {
  const parsed = messengerWebhookSchema.parse(body);
  const out: ParsedWebhook = { messages: [], statuses: [], ignored: [], unparsed: [], warnings: [] };
  parsed.entry.forEach((raw, e) => {
    const entry = entrySchema.safeParse(raw);
    if (!entry.success) {
      out.unparsed.push({ where: `entry[${e}]`, reason: issuesOf(entry.error), event: raw });
      return;
    }
    if (entry.data.standby?.length) out.ignored.push(`standby x${entry.data.standby.length} (conversation owned by another app)`);
    (entry.data.messaging ?? []).forEach((rawEvent, i) => {
      const where = `entry[${e}].messaging[${i}]`;
      const ev = messagingEventSchema.safeParse(rawEvent);
      if (!ev.success) out.unparsed.push({ where, reason: issuesOf(ev.error), event: rawEvent });
      else readEvent(ev.data, entry.data.id, serviceUrl, out, where, rawEvent);
    });
  });
  return out;
}

/** The conversation id of the customer an event is from: the PSID, or `user_ref:<ref>` for a plugin guest. */
function customerOf(party: MessagingEvent['sender']): string | undefined {
  if (party?.id) return party.id;
  return party?.user_ref ? USER_REF_PREFIX + party.user_ref : undefined;
}

/** Sorts one parsed event into `out`. */
function readEvent(ev: MessagingEvent, pageId: string, serviceUrl: string, out: ParsedWebhook, where: string, raw: unknown): void {
  const psid = customerOf(ev.sender);
  const kinds = Object.keys(ev).filter((k) => !['sender', 'recipient', 'timestamp'].includes(k));
  if (ev.message?.is_echo) {
    // Our own message coming back (or one a person sent from the Page inbox): a status, never a turn.
    out.statuses.push({ kind: 'message', messageId: ev.message.mid, status: 'sent', conversationId: customerOf(ev.recipient) });
    return;
  }
  if (ev.policy_enforcement) {
    out.warnings.push(`policy_enforcement ${ev.policy_enforcement.action ?? ''}: ${ev.policy_enforcement.reason ?? '(no reason given)'}`);
    return;
  }
  const silent = kinds.find((k) => SILENT_EVENTS.has(k));
  if (silent) {
    out.ignored.push(silent);
    return;
  }
  const customerEvent = ev.message ?? ev.postback ?? ev.reaction ?? ev.message_edit ?? ev.delivery ?? ev.read;
  if (!customerEvent) {
    out.ignored.push(kinds.join(',') || 'empty event');
    return;
  }
  if (!psid) {
    out.unparsed.push({ where, reason: `${kinds.join(',')} without sender.id or sender.user_ref`, event: raw });
    return;
  }
  if (ev.message?.is_deleted) out.messages.push(changeOf(ev, psid, pageId, serviceUrl, { type: ActivityTypes.MessageDelete, of: ev.message.mid, key: 'delete' }));
  else if (ev.message) out.messages.push(messageOf(ev, psid, pageId, serviceUrl));
  else if (ev.postback) out.messages.push(postbackOf(ev, psid, pageId, serviceUrl));
  else if (ev.reaction) out.messages.push(reactionOf(ev, psid, pageId, serviceUrl));
  else if (ev.message_edit) {
    const edit = ev.message_edit;
    out.messages.push(changeOf(ev, psid, pageId, serviceUrl, { type: ActivityTypes.MessageUpdate, of: edit.mid, key: `edit:${edit.num_edit ?? ev.timestamp ?? ''}`, text: edit.text ?? '' }));
  } else if (ev.delivery) {
    const d = ev.delivery;
    if (d.mids?.length) for (const mid of d.mids) out.statuses.push({ kind: 'message', messageId: mid, status: 'delivered', conversationId: psid });
    else out.statuses.push({ kind: 'watermark', conversationId: psid, watermark: d.watermark, status: 'delivered' } satisfies StatusUpdate);
  } else if (ev.read) {
    out.statuses.push({ kind: 'watermark', conversationId: psid, watermark: ev.read.watermark, status: 'read' });
  }
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
    recipient: { id: ev.recipient?.id ?? pageId, name: '', role: 'bot' },
    conversation: { id: psid, isGroup: false, conversationType: 'personal', name: '' },
    channelData: ev,
  };
}

function messageOf(ev: MessagingEvent, psid: string, pageId: string, serviceUrl: string): InboundMessage {
  const m = ev.message!;
  const activity = common(ev, psid, pageId, serviceUrl, m.mid);
  // Files are fetched during the turn; a location becomes text (coordinates and a map link).
  const media = messengerMediaOf(m.mid, m.attachments ?? [], m.sticker_id);
  if (media.attachments.length) activity.attachments = media.attachments;
  // A tapped quick reply the bot sent carries its CardAction value; any other is read as the title shown.
  const text = m.quick_reply ? choiceText(m.quick_reply.payload, m.text) : m.text;
  if (text !== undefined && text.trim() !== '' && m.sticker_id === undefined) {
    activity.text = text;
    if (m.quick_reply) activity.value = { payload: m.quick_reply.payload, title: m.text };
    return { id: m.mid, conversationId: psid, activity, unsupported: false };
  }
  activity.text = media.text ?? '';
  return { id: m.mid, conversationId: psid, activity, unsupported: true };
}

function postbackOf(ev: MessagingEvent, psid: string, pageId: string, serviceUrl: string): InboundMessage {
  const p = ev.postback!;
  // Older postbacks have no mid: make a stable key from what Meta repeats on a retry.
  const id = p.mid ?? `postback:${psid}:${ev.timestamp}:${p.payload ?? ''}`;
  const activity = common(ev, psid, pageId, serviceUrl, id);
  // Menu and Get Started postbacks carry payloads the Page defined: the bot reads the title shown.
  activity.text = choiceText(p.payload, p.title) ?? '';
  activity.value = { payload: p.payload, title: p.title };
  return { id, conversationId: psid, activity, unsupported: activity.text.trim() === '' };
}

/** A customer's reaction to a message: `messageReaction`, added (`react`) or removed (`unreact`). */
function reactionOf(ev: MessagingEvent, psid: string, pageId: string, serviceUrl: string): InboundMessage {
  const r = ev.reaction!;
  const removed = r.action === 'unreact';
  const id = `reaction:${r.mid}:${psid}:${ev.timestamp ?? ''}:${removed ? 'unreact' : 'react'}`;
  const activity = common(ev, psid, pageId, serviceUrl, id);
  activity.type = ActivityTypes.MessageReaction;
  activity.replyToId = r.mid;
  const reaction = [{ type: r.emoji ?? r.reaction ?? 'other' }];
  if (removed) activity.reactionsRemoved = reaction;
  else activity.reactionsAdded = reaction;
  return { id, conversationId: psid, activity, unsupported: false, opensWindow: false };
}

/**
 * An edit (`messageUpdate`, the new text) or a delete (`messageDelete`) of the customer's message
 * `of`: a change of its own, with an id of its own, so the original stays in the transcript too.
 */
function changeOf(ev: MessagingEvent, psid: string, pageId: string, serviceUrl: string, change: { type: string; of: string; key: string; text?: string }): InboundMessage {
  const id = `${change.key}:${change.of}`;
  const activity = common(ev, psid, pageId, serviceUrl, id);
  activity.type = change.type;
  activity.replyToId = change.of;
  if (change.text !== undefined) activity.text = change.text;
  return { id, conversationId: psid, activity, unsupported: false, opensWindow: false };
}
