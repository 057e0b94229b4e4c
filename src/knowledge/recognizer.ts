/**
 * `KnowledgeRecognizer`: the knowledge search as a botbuilder-dialogs `Recognizer`, so a team with
 * its own bot (adaptive dialogs, a `RecognizerSet`, or plain `ActivityHandler` code) can plug the
 * knowledge folder in like LUIS or CLU. Intents are entry ids scored by calibrated confidence.
 */
import type { Activity, RecognizerResult } from 'botbuilder-core';
import type { TurnContext } from 'botbuilder-core';
import { DialogContext, Recognizer } from 'botbuilder-dialogs';
import type { Decision, KnowledgeSearcher, SearchContext, SearchMatch } from './types.js';
import { decideFrom } from './search.js';

/** The intent name that carries "nothing fits", scored 1 − the top confidence. */
export const NONE_INTENT = 'None';

/** A `RecognizerResult` that also carries the ranked matches and the bot's decision. */
export interface KnowledgeRecognizerResult extends RecognizerResult {
  /** Entry id → `{ score: confidence }` for every ranked match, plus `None`. */
  intents: Record<string, { score: number }>;
  /** Ranked matches, best first, already filtered by the activity's channel and locale. */
  matches: SearchMatch[];
  /** answer | suggest | none, with the default thresholds. */
  decision: Decision;
}

/** Options of `KnowledgeRecognizer`. */
export interface KnowledgeRecognizerOptions {
  /** Recognizer id (botbuilder uses it in telemetry and recognizer sets). */
  id?: string;
  /** How many matches to rank (default 5). */
  limit?: number;
}

/**
 * Recognizes knowledge entries in a message. Constructed over a `KnowledgeSearcher` — usually the
 * hot-reloading `KnowledgeBase` — so every turn searches whichever index is current.
 *
 * @example
 * const recognizer = new KnowledgeRecognizer(knowledgeBase);
 * const result = await recognizer.recognize(turnContext);          // plain bot code
 * if (result.decision.kind === 'answer') await turnContext.sendActivity(result.decision.match.entry.answer);
 */
export class KnowledgeRecognizer extends Recognizer {
  private readonly limit: number;

  constructor(
    private readonly searcher: KnowledgeSearcher,
    options: KnowledgeRecognizerOptions = {},
  ) {
    super();
    if (options.id) this.id = options.id;
    this.limit = options.limit ?? 5;
  }

  /**
   * Call with a `TurnContext` outside dialogs, or as botbuilder-dialogs does, with a `DialogContext` and
   * the activity. Channel comes from `activity.channelId`, locale from `activity.locale`.
   */
  override async recognize(
    context: TurnContext | DialogContext,
    activity?: Partial<Activity>,
    telemetryProperties?: Record<string, string>,
    telemetryMetrics?: Record<string, number>,
  ): Promise<KnowledgeRecognizerResult> {
    const dialogContext = context instanceof DialogContext ? context : undefined;
    const turn = dialogContext ? dialogContext.context : (context as TurnContext);
    const act = activity ?? turn.activity;
    const result = this.recognizeText(act.text ?? '', { channel: act.channelId, locale: act.locale });
    if (dialogContext) {
      this.trackRecognizerResult(
        dialogContext,
        'KnowledgeRecognizerResult',
        this.fillRecognizerResultTelemetryProperties(result, telemetryProperties ?? {}, dialogContext),
        telemetryMetrics,
      );
    }
    return result;
  }

  /** The same result for a bare text, for callers without a turn (CLIs, the agent console). */
  recognizeText(text: string, context: SearchContext = {}): KnowledgeRecognizerResult {
    const matches = text.trim() ? this.searcher.search(text, { ...context, limit: this.limit }) : [];
    const decision = decideFrom(matches);
    const intents: Record<string, { score: number }> = {};
    for (const m of matches) intents[m.entry.id] = { score: m.confidence };
    intents[NONE_INTENT] = { score: 1 - (matches[0]?.confidence ?? 0) };
    return { text, intents, entities: {}, matches, decision };
  }
}
