/**
 * `HandoffMiddleware` decides, for every turn, who owns the conversation: while the bot does, the
 * turn goes on to the bot with a `HandoffRequester` in `turnState`; while a human does (queued or
 * assigned), the customer's message goes live to the agent hub and the bot never runs — and any
 * activity the bot still tries to send (a turn already in flight when an agent took over) is dropped
 * by the send filter. Only agent-written activities (`agentMarkOf`) and the plugin's own notices pass.
 *
 * Register it after the transcript logger (`TurnSafeTranscriptLogger`), so every customer message is in the
 * transcript the agent reads:
 *
 * @example
 *   adapter.use(new TurnSafeTranscriptLogger(transcripts));
 *   adapter.use(new HandoffMiddleware(hub));
 */
import { ActivityTypes, type Activity, type Middleware, type TurnContext } from 'botbuilder';
import { findChoices } from 'botbuilder-dialogs';
import { agentMarkOf } from '../engine/channel.js';
import { handoffNotice, isHandoffNotice, type HandoffHub } from './hub.js';
import { HANDOFF_REQUESTER, type HandoffRequester, type Owner } from './types.js';

/** Share of the customer's words a cancel phrase must cover: "never mind" cancels, "cancel my order 123" goes to the agent. */
export const CANCEL_MIN_COVERAGE = 0.5;

/**
 * Whether a waiting customer's message withdraws the request, recognised with botbuilder's choice
 * recognition (`findChoices`) over the configured phrases.
 */
export function isCancelRequest(text: string | undefined, phrases: string[]): boolean {
  if (!text?.trim()) return false;
  const found = findChoices(text, [{ value: 'cancel', synonyms: phrases }], { allowPartialMatches: false });
  if (found.length === 0) return false;
  const words = text.trim().split(/\s+/).length;
  const matched = found.reduce((n, f) => n + f.text.trim().split(/\s+/).length, 0);
  return matched / words >= CANCEL_MIN_COVERAGE;
}

const human = (o: Owner | undefined) => o === 'queued' || o === 'assigned';

/** The Middleware plugin; one instance serves every adapter of the server. */
export class HandoffMiddleware implements Middleware {
  constructor(readonly hub: HandoffHub) {}

  async onTurn(context: TurnContext, next: () => Promise<void>): Promise<void> {
    const activity = context.activity;
    const conversationId = activity.conversation?.id;
    if (!conversationId) return next();
    const isMessage = activity.type === ActivityTypes.Message;
    // Messages create the queue record (so agents can also take over live bot conversations).
    const record = isMessage ? await this.hub.touch(context) : await this.hub.get(conversationId);
    let owner: Owner = record?.owner ?? 'bot';

    const requester: HandoffRequester = {
      requestHandoff: async (ctx, request) => {
        const outcome = await this.hub.requestHandoff(ctx, request);
        owner = outcome.record.owner;
        // One message: the agent sees everything, position and wait (or closed / nobody online), how to cancel.
        await ctx.sendActivity(handoffNotice(this.hub.describeOutcome(outcome, ctx.activity.locale)));
      },
      ownerOf: async (ctx) => (await this.hub.get(ctx.activity.conversation.id))?.owner ?? 'bot',
      handoffCount: record?.handoffs ?? 0,
    };
    context.turnState.set(HANDOFF_REQUESTER, requester);

    // While a human owns the conversation the bot never sends: drop everything but agent replies and
    // our notices. Filtering in place keeps them out of the transcript as well (the logger shares the array).
    context.onSendActivities(async (_ctx, activities, nextSend) => {
      if (human(owner) || human(this.hub.knownOwner(conversationId))) {
        for (let i = activities.length - 1; i >= 0; i--) {
          const a = activities[i] as Partial<Activity>;
          if (!agentMarkOf(a) && !isHandoffNotice(a)) activities.splice(i, 1);
        }
        if (activities.length === 0) return [];
      }
      return nextSend();
    });

    if (isMessage && human(owner)) {
      const strings = this.hub.stringsFor(activity.locale);
      if (owner === 'queued' && isCancelRequest(activity.text, strings.cancelPhrases)) {
        try {
          await this.hub.cancel(conversationId);
          owner = 'bot';
          await context.sendActivity(handoffNotice(strings.cancelled));
          return;
        } catch {
          owner = (await this.hub.get(conversationId))?.owner ?? owner; // claimed meanwhile: the agent gets the message
        }
      }
      this.hub.customerMessage(conversationId, activity);
      // A human owns this conversation: the bot must not see or answer the message, so the turn
      // deliberately ends here without calling next(). TranscriptLoggerMiddleware, registered before
      // us, has already recorded it for the agent.
      return;
    }
    await next();
  }
}
