/**
 * What the console's conversation view adds to the hub's `slim` activities: a customer's reactions,
 * edits and deletes (so the agent reads "Customer reacted 👍"), and where the messages sent to the
 * customer stand on Messenger and WhatsApp (`delivered`, `read`), by the platform message id the
 * transcript keeps as the activity id.
 */
import { ActivityTypes, type Activity } from 'botbuilder';
import { slim, type HandoffHub } from '../handoff/hub.js';
import type { ConversationRecord } from '../handoff/queue-store.js';
import type { MessageStatus } from '../engine/inbox.js';

/** Activities that change an earlier message: they name it in `replyToId`. */
const CHANGES = new Set<string>([ActivityTypes.MessageReaction, ActivityTypes.MessageUpdate, ActivityTypes.MessageDelete]);

/** One transcript activity as the console gets it. */
export function consoleActivity(a: Partial<Activity>): Partial<Activity> {
  const view = slim(a);
  if (!a.type || !CHANGES.has(a.type)) return view;
  return { ...view, replyToId: a.replyToId, reactionsAdded: a.reactionsAdded, reactionsRemoved: a.reactionsRemoved };
}

/** A channel that keeps the statuses of what it sent (the Meta adapters' `outboundMessages`). */
interface WithOutbound {
  outboundMessages?(conversationId: string): Promise<{ mid: string; status: MessageStatus }[]>;
}

/** The statuses of the recent messages sent in this conversation, by platform message id; empty where the channel has none. */
export async function deliveryStatusOf(hub: HandoffHub, record: Pick<ConversationRecord, 'id' | 'channelId'>): Promise<Record<string, MessageStatus>> {
  const adapter = hub.adapters[record.channelId] as WithOutbound | undefined;
  try {
    return Object.fromEntries(((await adapter?.outboundMessages?.(record.id)) ?? []).map((o) => [o.mid, o.status]));
  } catch {
    return {}; // the statuses are a hint for the agent; the conversation shows without them
  }
}
