/**
 * `TurnSafeTranscriptLogger`: botbuilder's `TranscriptLoggerMiddleware`, but a turn that throws is
 * still recorded.
 *
 * botbuilder's middleware writes a turn's transcript only when the rest of the turn returns: when the
 * bot throws, the customer's message, the replies already sent and the apology `onTurnError` sends
 * afterwards are all dropped — yet the channel has accepted the message. This subclass runs the
 * adapter's `onTurnError` inside the logged turn, so everything said is written; an error with no
 * handler (or one the handler throws) is re-thrown after the transcript is written.
 *
 * @example
 *   adapter.use(new TurnSafeTranscriptLogger(new LowdbTranscriptStore({ dir: './data' })));
 *   adapter.onTurnError = async (context, error) => { await context.sendActivity('Sorry, something went wrong.'); };
 */
import { TranscriptLoggerMiddleware, type TurnContext } from 'botbuilder';

export class TurnSafeTranscriptLogger extends TranscriptLoggerMiddleware {
  override async onTurn(context: TurnContext, next: () => Promise<void>): Promise<void> {
    let failure: { error: unknown } | undefined;
    await super.onTurn(context, async () => {
      try {
        await next();
      } catch (error) {
        const handler = context.adapter.onTurnError;
        if (!handler) {
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
