/**
 * `TurnSafeTranscriptLogger`: botbuilder's `TranscriptLoggerMiddleware`, but a turn that throws is
 * still recorded.
 *
 * botbuilder's middleware writes a turn's transcript only when the rest of the turn returns: when the
 * bot throws, the customer's message, the replies already sent and the apology `onTurnError` sends
 * afterwards are all dropped — yet the channel has accepted the message. This subclass runs the
 * adapter's `onTurnError` inside the logged turn, so everything said is written. An error with no
 * handler, one the handler throws, and one in a proactive turn (`continueConversation`, e.g. an agent's
 * reply refused because the platform's reply window closed — its caller must learn of it) is re-thrown
 * after the transcript is written.
 *
 * @example
 *   adapter.use(new TurnSafeTranscriptLogger(new LowdbTranscriptStore({ dir: './data' })));
 *   adapter.onTurnError = async (context, error) => { await context.sendActivity('Sorry, something went wrong.'); };
 */
import { ActivityEventNames, ActivityTypes, TranscriptLoggerMiddleware, type Activity, type TurnContext } from 'botbuilder';

/** A proactive turn (`continueConversation`): its caller, not `onTurnError`, handles what fails in it. */
function isProactive(activity: Activity): boolean {
  return activity.type === ActivityTypes.Event && activity.name === ActivityEventNames.ContinueConversation;
}

export class TurnSafeTranscriptLogger extends TranscriptLoggerMiddleware {
  override async onTurn(context: TurnContext, next: () => Promise<void>): Promise<void> {
    let failure: { error: unknown } | undefined;
    await super.onTurn(context, async () => {
      try {
        await next();
      } catch (error) {
        const handler = context.adapter.onTurnError;
        if (!handler || isProactive(context.activity)) {
          failure = { error };
          return;
        }
        try {
          await handler(context, error as Error);
        } catch (handlerError) {
          failure = { error: handlerError };
        }
      }
    });
    if (failure) throw failure.error;
  }
}
