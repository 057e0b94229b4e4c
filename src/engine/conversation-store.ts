/**
 * The contract of web chat's conversation store (Direct Line conversations and their ordered activity
 * logs), shared by the web chat adapter and its two backends: `FileConversationStore`
 * (adapters/webchat/store.ts) and `PgConversationStore` (src/storage/postgres/webchat-store.ts).
 */
import type { Activity } from 'botbuilder';

/** One web chat conversation. */
export interface WebChatConversation {
  id: string;
  /** The user the conversation's tokens speak for. */
  userId: string;
  createdAt: string;
  /** Set once the bot has been told the conversation started (conversationUpdate); never sent twice. */
  startedAt?: string;
  locale?: string;
}

/** A page of the activity log: `activities` from the asked watermark, and the watermark after them. */
export interface ActivityPage {
  activities: Partial<Activity>[];
  watermark: number;
}

/**
 * Storage for web chat conversations. Watermarks are positions in the log: `read(id, w)` returns the
 * entries from position `w`, and `append` returns the position after the new entry.
 * With several instances, sockets learn of new entries through the `EventBus` (src/engine/bus.ts).
 */
export interface WebChatConversationStore {
  getConversation(id: string): Promise<WebChatConversation | undefined>;
  saveConversation(conversation: WebChatConversation): Promise<void>;
  /** Appends one activity; `build(position)` makes it, so its id can carry its position. Serialised per conversation. */
  append(id: string, build: (position: number) => Partial<Activity>): Promise<{ activity: Partial<Activity>; watermark: number }>;
  /** Up to `limit` activities from position `watermark`. */
  read(id: string, watermark: number, limit: number): Promise<ActivityPage>;
  close(): Promise<void>;
}
