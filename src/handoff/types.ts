/**
 * The contract between the bot and the handoff plugin. The bot never talks to the queue directly: it
 * asks for a handoff through the `HandoffRequester` found in `turnState` under `HANDOFF_REQUESTER`.
 */
import type { TurnContext } from 'botbuilder';

/** Conversation owner, as in DESIGN.md: bot → queued → assigned → bot again when resolved. */
export type Owner = 'bot' | 'queued' | 'assigned';

export type HandoffReason =
  | 'customer-asked' // the customer asked for a person
  | 'two-misses' // two unanswered questions in a row, and the customer accepted the offer
  | 'not-helpful' // "no" to "did this help?", and the customer accepted the offer
  | 'entry-handoff' // the matched entry is marked `handoff: true`
  | 'agent-takeover'; // an agent took over a live bot conversation from the console

export interface HandoffRequest {
  reason: HandoffReason;
  /** The customer's question the bot could not answer (or that led here). */
  question?: string;
  /** Ids of knowledge entries the customer rejected ("no" to did-this-help, or suggestions declined). */
  rejectedEntryIds?: string[];
  /** The knowledge entry involved, for `entry-handoff` (its tags route to a team). */
  entryId?: string;
}

/** turnState key under which HandoffMiddleware puts the requester for this turn. */
export const HANDOFF_REQUESTER = Symbol.for('switchboard.handoffRequester');

export interface HandoffRequester {
  /** Queues the conversation for a human; the middleware tells the customer what happens next. */
  requestHandoff(context: TurnContext, request: HandoffRequest): Promise<void>;
  /** The current owner of this turn's conversation. */
  ownerOf(context: TurnContext): Promise<Owner>;
  /**
   * How many times this conversation has gone to a person (handoffs plus agent takeovers), as of the
   * start of this turn. A bot that remembers the count of its previous turn knows from a higher one that
   * the conversation has come back from a person, so its old prompt ("Did this help?", a list of
   * suggestions) must not capture the customer's next message. Optional: older requesters omit it.
   */
  handoffCount?: number;
}
