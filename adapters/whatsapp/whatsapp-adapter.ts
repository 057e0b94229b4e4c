/**
 * `WhatsAppAdapter`: the WhatsApp Cloud API webhook in, the messages API out, as a botbuilder
 * BotAdapter at `GET/POST /webhooks/whatsapp`.
 * Window: free-form messages up to 24 hours after the customer's last message; after that only an
 * approved template — the configured `whatsapp.templateName` is sent instead, or the send is refused
 * with `ReplyWindowClosedError`. There is no 7-day exception for human agents on WhatsApp.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows
 */
import type { Activity } from 'botbuilder';
import type { WhatsAppConfig } from '../../src/config.js';
import type { GraphApiError } from '../shared/errors.js';
import { MetaChannelAdapter, type MetaAdapterOptions, type ParsedWebhook, type WindowMode } from '../shared/meta-adapter.js';
import { parseWhatsAppWebhook } from './inbound.js';
import { locateWhatsAppMedia } from './media.js';
import type { MediaLocation, PendingMedia } from '../shared/media.js';
import { renderWhatsApp, droppedChoices } from './outbound.js';
import { uploadWhatsAppMedia } from './media-out.js';

/** Customer service window. */
export const WHATSAPP_SERVICE_WINDOW_MS = 24 * 3600 * 1000;
/** "Re-engagement message": more than 24 hours since the customer last wrote. */
export const WHATSAPP_WINDOW_ERROR_CODE = 131047;

/** Constructor options: `Config.whatsapp` plus the shared ones (graphApiUrl, dataDir or journal, clock, logger, ...). */
export interface WhatsAppAdapterOptions extends MetaAdapterOptions {
  whatsapp: WhatsAppConfig;
}

/** The WhatsApp channel; see the module comment. */
export class WhatsAppAdapter extends MetaChannelAdapter {
  readonly channelId = 'whatsapp';
  protected readonly windowRules = { botMs: WHATSAPP_SERVICE_WINDOW_MS, agentMs: WHATSAPP_SERVICE_WINDOW_MS };
  private readonly wa: WhatsAppConfig;

  constructor(options: WhatsAppAdapterOptions) {
    super(options, { appSecret: options.whatsapp.appSecret, verifyToken: options.whatsapp.verifyToken }, 'whatsapp');
    this.wa = options.whatsapp;
    this.graph = this.makeGraphClient(options.whatsapp.accessToken, 'bearer');
  }

  private get messagesPath() {
    return `/${encodeURIComponent(this.wa.phoneNumberId)}/messages`;
  }

  protected parseWebhook(body: unknown): ParsedWebhook {
    return parseWhatsAppWebhook(body, this.base.graphApiUrl, this.wa.phoneNumberId);
  }

  protected override locateMedia(p: PendingMedia): Promise<MediaLocation> {
    return locateWhatsAppMedia(this.graph, p, this.wa);
  }

  protected async acknowledge(_conversationId: string, messageId: string): Promise<void> {
    // Read receipt and typing indicator in one call. https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators
    await this.graph.post(this.messagesPath, { messaging_product: 'whatsapp', status: 'read', message_id: messageId, typing_indicator: { type: 'text' } }, { maxAttempts: 1 });
  }

  protected async sendTyping(conversationId: string): Promise<void> {
    const messageId = this.lastInbound.get(conversationId);
    if (!messageId || (await this.windowMode(conversationId, {})).mode !== 'standard') return;
    await this.acknowledge(conversationId, messageId);
  }

  /** Per conversation: the customer-message time after which the re-engagement template was sent. */
  private readonly templateSentFor = new Map<string, number>();

  protected override async canSendOutsideWindow(_activity: Partial<Activity>, conversationId: string): Promise<boolean> {
    // One template per closed window: after that we wait for the customer instead of repeating it.
    const last = (await this.journal.lastCustomerMessageAt(conversationId)) ?? 0;
    return this.wa.templateName !== undefined && this.templateSentFor.get(conversationId) !== last;
  }

  protected async postMessage(conversationId: string, activity: Partial<Activity>, mode: WindowMode): Promise<string[]> {
    const messages =
      mode === 'closed'
        ? [{ type: 'template', template: { name: this.wa.templateName!, language: { code: this.wa.templateLanguage } } }]
        : renderWhatsApp(activity, await uploadWhatsAppMedia(this.graph, this.wa.phoneNumberId, this.base.media, activity));
    if (mode === 'closed') {
      this.logger.info('reply window closed: sending the configured template instead', { conversation: conversationId, template: this.wa.templateName });
      this.templateSentFor.set(conversationId, (await this.journal.lastCustomerMessageAt(conversationId)) ?? 0);
    }
    const dropped = droppedChoices(activity);
    if (dropped && mode !== 'closed') this.logger.warn('more choices than a WhatsApp list can hold; extra ones dropped', { conversation: conversationId, dropped });
    const ids: string[] = [];
    for (const m of messages) {
      const res = await this.graph.post<{ messages?: { id: string }[] }>(this.messagesPath, { messaging_product: 'whatsapp', recipient_type: 'individual', to: conversationId, ...m });
      const id = res.messages?.[0]?.id;
      if (id) ids.push(id);
    }
    if (mode === 'closed') {
      // The template went out, not this activity's text: say so against the conversation.
      await this.recordUndelivered(conversationId, activity, `the 24-hour window is closed; template "${this.wa.templateName}" was sent instead of this message`);
    }
    return ids;
  }

  protected isWindowError(err: GraphApiError): boolean {
    return err.code === WHATSAPP_WINDOW_ERROR_CODE;
  }
}
