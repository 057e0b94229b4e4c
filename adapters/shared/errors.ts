/**
 * The errors a Meta channel adapter throws. Each says where it happened and what to do, and a
 * platform failure keeps Meta's own code, subcode and trace id so support can look it up.
 */

/**
 * A send was refused because the conversation's reply window is closed (Messenger: 24 hours, or 7 days
 * for a human agent's reply with the HUMAN_AGENT tag; WhatsApp: 24 hours, then only a template).
 * The agent console catches this to say "the customer has to write first" instead of losing the message.
 */
export class ReplyWindowClosedError extends Error {
  override name = 'ReplyWindowClosedError';
  constructor(
    readonly channelId: string,
    readonly conversationId: string,
    /** When the window closed; undefined when the customer never wrote (no window was ever open). */
    readonly closedAt: Date | undefined,
    detail = '',
    /** Meta's error, when it was Meta (not our own clock) that refused the send. */
    readonly graphError?: GraphApiError,
  ) {
    super(
      `${channelId}: the reply window of conversation ${conversationId} ` +
        (closedAt ? `closed at ${closedAt.toISOString()}` : 'was never opened (the customer has not written)') +
        `${detail ? `; ${detail}` : ''} — the customer has to write again before a free-form message can be sent`,
    );
  }
  /** Alias kept for readers who think in botbuilder's `channelId` spelling. */
  get channel(): string {
    return this.channelId;
  }
}

/** A failure answered by the Graph API, with Meta's error fields kept as they came. */
export class GraphApiError extends Error {
  override name = 'GraphApiError';
  constructor(
    /** Where: e.g. `messenger: POST /me/messages`. */
    readonly where: string,
    readonly status: number,
    readonly code: number | undefined,
    readonly subcode: number | undefined,
    readonly graphMessage: string,
    readonly fbtraceId: string | undefined,
    readonly type?: string,
    readonly details?: string,
  ) {
    super(
      `${where} failed with HTTP ${status}` +
        (code !== undefined ? ` (code ${code}${subcode !== undefined ? `, subcode ${subcode}` : ''})` : '') +
        `: ${graphMessage}${details ? ` — ${details}` : ''}` +
        (fbtraceId ? ` [fbtrace_id ${fbtraceId}]` : '') +
        ' — check the access token and the request against Meta\'s error-code reference',
    );
  }
  /** Meta's spelling, for code that logs the raw field. */
  get fbtrace_id(): string | undefined {
    return this.fbtraceId;
  }
}

/** The Graph API could not be reached (network error or timeout) even after every retry. */
export class GraphUnavailableError extends Error {
  override name = 'GraphUnavailableError';
  constructor(readonly where: string, readonly attempts: number, readonly lastError: unknown) {
    super(`${where}: no answer from the Graph API after ${attempts} attempts (${(lastError as Error)?.message ?? String(lastError)}) — check GRAPH_API_URL and the network`);
  }
}

/** Defined by the turn engine (its file backend throws it); re-exported for code that imports it from here. */
export { InboxStorageError } from '../../src/engine/errors.js';
