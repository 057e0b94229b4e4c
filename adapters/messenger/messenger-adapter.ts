/**
 * `MessengerAdapter`: the Messenger Platform webhook in, the Send API out, as a botbuilder BotAdapter
 * at `GET/POST /webhooks/messenger`.
 * Windows: standard messages up to 24 hours after the customer's last message; a human agent's reply
 * (activity marked with `channelData.switchboard.agent`) up to 7 days with the HUMAN_AGENT tag.
 * @see https://developers.facebook.com/docs/messenger-platform/policy/policy-overview#24hours_window
 * @see https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags
 */
import type { Activity } from 'botbuilder';
import type { MessengerConfig } from '../../src/config.js';
import type { GraphApiError } from '../shared/errors.js';
import { MetaChannelAdapter, type MetaAdapterOptions, type ParsedWebhook, type WindowMode } from '../shared/meta-adapter.js';
import { parseMessengerWebhook } from './inbound.js';
import { messengerFiles, sendMessengerFile } from './media-out.js';
import { MESSENGER_HUMAN_AGENT_TAG, USER_REF_PREFIX, messengerRecipient, renderMessenger } from './outbound.js';

/** Standard messaging window. */
export const MESSENGER_STANDARD_WINDOW_MS = 24 * 3600 * 1000;
/** HUMAN_AGENT tag window. */
export const MESSENGER_HUMAN_AGENT_WINDOW_MS = 7 * 24 * 3600 * 1000;
/**
 * How long a fetched profile name is used before the User Profile API is asked again: names change
 * rarely, and every lookup counts against the Page's rate limit.
 * @see https://developers.facebook.com/docs/graph-api/overview/rate-limiting
 */
export const MESSENGER_PROFILE_TTL_MS = 24 * 3600 * 1000;
/** How long a profile that could not be read (no permission, an error) is not asked for again. */
export const MESSENGER_PROFILE_MISS_TTL_MS = 3600 * 1000;
/** Profiles kept in memory; past this the least recently used is dropped (the journal still has it). */
export const MESSENGER_PROFILE_CACHE_SIZE = 10_000;
/** Send API error for a message outside the allowed window (code 10, subcode 2018278). */
export const MESSENGER_WINDOW_ERROR = { code: 10, subcode: 2018278 } as const;

/** Constructor options: `Config.messenger` plus the shared ones (graphApiUrl, dataDir or journal, clock, logger, ...). */
export interface MessengerAdapterOptions extends MetaAdapterOptions {
  messenger: MessengerConfig;
  /** Look up the customer's name with the User Profile API (default true). */
  fetchProfiles?: boolean;
  /** How long a fetched name is used (default `MESSENGER_PROFILE_TTL_MS`); the fetch time is kept in the journal. */
  profileTtlMs?: number;
  /** Profiles kept in memory (default `MESSENGER_PROFILE_CACHE_SIZE`). */
  profileCacheSize?: number;
}

/** The Messenger channel; see the module comment. */
export class MessengerAdapter extends MetaChannelAdapter {
  readonly channelId = 'messenger';
  protected readonly windowRules = { botMs: MESSENGER_STANDARD_WINDOW_MS, agentMs: MESSENGER_HUMAN_AGENT_WINDOW_MS };
  private readonly fetchProfiles: boolean;
  private readonly profileTtlMs: number;
  private readonly profileCacheSize: number;
  /**
   * Recent profiles by PSID, least recently used first: a name with its fetch time, or a lookup that
   * failed (`miss`, with the older name if there was one), so neither is asked for on every message.
   */
  private readonly profiles = new Map<string, { name?: string; at: number; miss?: boolean }>();

  constructor(options: MessengerAdapterOptions) {
    super(options, { appSecret: options.messenger.appSecret, verifyToken: options.messenger.verifyToken }, 'messenger');
    this.graph = this.makeGraphClient(options.messenger.pageAccessToken, 'query');
    this.fetchProfiles = options.fetchProfiles ?? true;
    this.profileTtlMs = options.profileTtlMs ?? MESSENGER_PROFILE_TTL_MS;
    this.profileCacheSize = Math.max(1, options.profileCacheSize ?? MESSENGER_PROFILE_CACHE_SIZE);
  }

  protected parseWebhook(body: unknown): ParsedWebhook {
    return parseMessengerWebhook(body, this.base.graphApiUrl);
  }

  protected override async enrich(activity: Partial<Activity>): Promise<void> {
    const psid = activity.from?.id;
    // A Customer Chat Plugin guest (user_ref) has no profile to look up.
    if (!psid || psid.startsWith(USER_REF_PREFIX)) return;
    const name = await this.profileName(psid);
    if (name) {
      activity.from = { ...activity.from!, name };
      activity.conversation = { ...activity.conversation!, name };
    }
  }

  /**
   * The customer's name: from memory, else from the journal (another instance's or an earlier run's
   * fetch), else from the User Profile API once the kept one is older than the lifetime.
   * @see https://developers.facebook.com/docs/messenger-platform/identity/user-profile
   */
  private async profileName(psid: string): Promise<string | undefined> {
    const now = this.clock.now().getTime();
    const fresh = (e: { at: number; miss?: boolean }) => now - e.at < (e.miss ? Math.min(MESSENGER_PROFILE_MISS_TTL_MS, this.profileTtlMs) : this.profileTtlMs);
    const cached = this.profiles.get(psid);
    if (cached && fresh(cached)) {
      this.remember(psid, cached);
      return cached.name;
    }
    const stored = await this.journal.profile(psid);
    if (stored && fresh(stored)) {
      this.remember(psid, stored);
      return stored.name;
    }
    if (!this.fetchProfiles) return stored?.name;
    let name: string | undefined;
    try {
      const p = await this.graph.get<{ first_name?: string; last_name?: string; name?: string }>(`/${encodeURIComponent(psid)}`, { fields: 'first_name,last_name' }, { maxAttempts: 1 });
      name = (p.name ?? [p.first_name, p.last_name].filter(Boolean).join(' ')) || undefined;
    } catch (err) {
      this.logger.debug('profile lookup failed', { error: (err as Error).message });
    }
    if (!name) {
      // Keep showing the name fetched earlier, if any; ask again after the shorter lifetime of a miss.
      this.remember(psid, { name: stored?.name, at: now, miss: true });
      return stored?.name;
    }
    this.remember(psid, { name, at: now });
    await this.journal.recordProfile(psid, name, now);
    return name;
  }

  private remember(psid: string, entry: { name?: string; at: number; miss?: boolean }): void {
    this.profiles.delete(psid);
    this.profiles.set(psid, entry);
    while (this.profiles.size > this.profileCacheSize) this.profiles.delete(this.profiles.keys().next().value!);
  }

  protected async acknowledge(conversationId: string): Promise<void> {
    // sender_action goes in a request of its own. https://developers.facebook.com/docs/messenger-platform/send-messages/sender-actions
    // typing_on follows only when the bot sends a `typing` activity (botbuilder's ShowTypingMiddleware).
    await this.graph.post('/me/messages', { recipient: messengerRecipient(conversationId), sender_action: 'mark_seen' }, { maxAttempts: 1 });
  }

  protected async sendTyping(conversationId: string): Promise<void> {
    if ((await this.windowMode(conversationId, {})).mode !== 'standard') return;
    await this.graph.post('/me/messages', { recipient: messengerRecipient(conversationId), sender_action: 'typing_on' }, { maxAttempts: 1 });
  }

  protected async postMessage(conversationId: string, activity: Partial<Activity>, mode: WindowMode): Promise<string[]> {
    const ids: string[] = [];
    const files = await messengerFiles(this.base.media, activity); // all checked before anything is sent
    const envelope =
      mode === 'human_agent'
        ? { recipient: messengerRecipient(conversationId), messaging_type: 'MESSAGE_TAG', tag: MESSENGER_HUMAN_AGENT_TAG }
        : { recipient: messengerRecipient(conversationId), messaging_type: 'RESPONSE' };
    for (const file of files) {
      const id = await sendMessengerFile(this.graph, envelope, file);
      if (id) ids.push(id);
    }
    for (const message of renderMessenger(activity)) {
      const res = await this.graph.post<{ recipient_id?: string; message_id?: string }>('/me/messages', { ...envelope, message });
      if (res.message_id) ids.push(res.message_id);
    }
    return ids;
  }

  protected isWindowError(err: GraphApiError): boolean {
    return err.code === MESSENGER_WINDOW_ERROR.code && err.subcode === MESSENGER_WINDOW_ERROR.subcode;
  }
}
