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
import { MESSENGER_HUMAN_AGENT_TAG, renderMessenger } from './outbound.js';

/** Standard messaging window. */
export const MESSENGER_STANDARD_WINDOW_MS = 24 * 3600 * 1000;
/** HUMAN_AGENT tag window. */
export const MESSENGER_HUMAN_AGENT_WINDOW_MS = 7 * 24 * 3600 * 1000;
/** Send API error for a message outside the allowed window (code 10, subcode 2018278). */
export const MESSENGER_WINDOW_ERROR = { code: 10, subcode: 2018278 } as const;

/** Constructor options: `Config.messenger` plus the shared ones (graphApiUrl, dataDir or journal, clock, logger, ...). */
export interface MessengerAdapterOptions extends MetaAdapterOptions {
  messenger: MessengerConfig;
  /** Look up the customer's name with the User Profile API (default true). */
  fetchProfiles?: boolean;
}

/** The Messenger channel; see the module comment. */
export class MessengerAdapter extends MetaChannelAdapter {
  readonly channelId = 'messenger';
  protected readonly windowRules = { botMs: MESSENGER_STANDARD_WINDOW_MS, agentMs: MESSENGER_HUMAN_AGENT_WINDOW_MS };
  private readonly fetchProfiles: boolean;
  /** PSIDs whose profile could not be read, so the lookup is not repeated for every message. */
  private readonly profileMisses = new Set<string>();

  constructor(options: MessengerAdapterOptions) {
    super(options, { appSecret: options.messenger.appSecret, verifyToken: options.messenger.verifyToken }, 'messenger');
    this.graph = this.makeGraphClient(options.messenger.pageAccessToken, 'query');
    this.fetchProfiles = options.fetchProfiles ?? true;
  }

  protected parseWebhook(body: unknown): ParsedWebhook {
    return parseMessengerWebhook(body, this.base.graphApiUrl);
  }

  protected override async enrich(activity: Partial<Activity>): Promise<void> {
    const psid = activity.from?.id;
    if (!psid) return;
    let name = await this.journal.profileName(psid);
    if (!name && this.fetchProfiles && !this.profileMisses.has(psid)) {
      // https://developers.facebook.com/docs/messenger-platform/identity/user-profile
      try {
        const p = await this.graph.get<{ first_name?: string; last_name?: string; name?: string }>(`/${encodeURIComponent(psid)}`, { fields: 'first_name,last_name' }, { maxAttempts: 1 });
        name = p.name ?? [p.first_name, p.last_name].filter(Boolean).join(' ');
      } catch (err) {
        this.profileMisses.add(psid);
        throw err;
      }
      if (name) await this.journal.recordProfile(psid, name);
    }
    if (name) {
      activity.from = { ...activity.from!, name };
      activity.conversation = { ...activity.conversation!, name };
    }
  }

  protected async acknowledge(conversationId: string): Promise<void> {
    // sender_action goes in a request of its own. https://developers.facebook.com/docs/messenger-platform/send-messages/sender-actions
    // typing_on follows only when the bot sends a `typing` activity (botbuilder's ShowTypingMiddleware).
    await this.graph.post('/me/messages', { recipient: { id: conversationId }, sender_action: 'mark_seen' }, { maxAttempts: 1 });
  }

  protected async sendTyping(conversationId: string): Promise<void> {
    if ((await this.windowMode(conversationId, {})).mode !== 'standard') return;
    await this.graph.post('/me/messages', { recipient: { id: conversationId }, sender_action: 'typing_on' }, { maxAttempts: 1 });
  }

  protected async postMessage(conversationId: string, activity: Partial<Activity>, mode: WindowMode): Promise<string[]> {
    const ids: string[] = [];
    for (const message of renderMessenger(activity)) {
      const body =
        mode === 'human_agent'
          ? { recipient: { id: conversationId }, messaging_type: 'MESSAGE_TAG', tag: MESSENGER_HUMAN_AGENT_TAG, message }
          : { recipient: { id: conversationId }, messaging_type: 'RESPONSE', message };
      const res = await this.graph.post<{ recipient_id?: string; message_id?: string }>('/me/messages', body);
      if (res.message_id) ids.push(res.message_id);
    }
    return ids;
  }

  protected isWindowError(err: GraphApiError): boolean {
    return err.code === MESSENGER_WINDOW_ERROR.code && err.subcode === MESSENGER_WINDOW_ERROR.subcode;
  }
}
