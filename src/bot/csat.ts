/**
 * The satisfaction survey (CSAT) after a person resolved a conversation: the customer is asked once
 * for a 1–5 rating in their channel's own form — the bot's usual suggested actions, which Web Chat
 * shows as buttons, Messenger as quick replies and WhatsApp as a list (five choices are more than its
 * three reply buttons) — then may add one comment. Results go to the `CsatStore`.
 *
 * The rules:
 * - **Once per resolution.** `CsatStore.recordAsked` is first-wins per `(conversationId, resolvedAt)`:
 *   a resolve run again after a crash, or a second instance, finds it asked and sends nothing.
 * - **Only where the bot may write.** On Messenger and WhatsApp a bot message needs the customer's
 *   last message to be under 24 hours old; past that the survey is skipped, not attempted.
 * - **Never mid-question.** The survey goes out right after the "resolved" notice, unless the bot has
 *   already taken a message of this customer since the conversation came back (they wrote before the
 *   survey went out, and may have a prompt of the bot open): then it is skipped for this resolution,
 *   recorded as resolved without `askedAt`.
 * - **Ignoring it costs nothing.** A reply that is not a rating (a new question, "thanks") is handled
 *   by the bot as usual and ends the survey; so does a question instead of the comment. An unanswered
 *   survey expires after `CSAT_SURVEY_TTL_MS`.
 *
 * A typed rating is understood with @microsoft/recognizers-text-number ("4", "five", "4 stars",
 * "4/5") or the locale's rating words ("great", "terrible", "ok"), on bounded input: a reply longer
 * than `MAX_RATING_WORDS` words is never a rating, and the recognizers see at most `MAX_RATING_CHARS`.
 *
 * @example
 *   const csat = new CsatSurvey({ store: backend.csat, conversationState, knowledge });
 *   hub.onResolved((record, continueWith) => csat.afterResolve(record, continueWith));
 *   new FaqBot({ ..., csat });
 */
import { ActionTypes, MessageFactory, type CardAction, type ConversationState, type StatePropertyAccessor, type TurnContext } from 'botbuilder';
import { defaultTokenizer, findChoices, type Token } from 'botbuilder-dialogs';
import { recognizeNumber } from '@microsoft/recognizers-text-number';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import type { ReplyWindow } from '../engine/channel.js';
import type { ConversationRecord } from '../handoff/queue-store.js';
import { HANDOFF_REQUESTER, type HandoffRequester } from '../handoff/types.js';
import type { KnowledgeSearcher } from '../knowledge/types.js';
import { readsAsQuestion, recognizeYesNo } from './choices.js';
import { isCsatRating, type CsatRating, type CsatRecord, type CsatResolution, type CsatStore } from './csat-store.js';
import { csatStrings, vocabulary } from './strings.js';

/** How long an unanswered survey (or its comment prompt) waits: after this, a "5" is a new question again. */
export const CSAT_SURVEY_TTL_MS = 24 * 60 * 60 * 1000;
/** A reply with more words than this is a comment or a question, never a rating (and is not run through the recognizers). */
export const MAX_RATING_WORDS = 8;
/** At most this many characters of a reply reach the recognizers (one "word" may be very long). */
export const MAX_RATING_CHARS = 120;
/** Meaningful words besides the rating that still let a reply count as one ("4 **stars**", "**agent** was great"). */
export const MAX_EXTRA_WORDS_FOR_RATING = 2;
/** Entries tagged so are small talk ("thanks"): a comment, not a new question. */
const SMALLTALK_TAG = 'smalltalk';

/** The survey's state in the conversation's ConversationState (property `csat`), saved with the bot's. */
export interface CsatConversationData {
  /** Handoff count as of the turn that ended the latest survey: until another handoff, no store read is needed. */
  closedAt?: number;
  /** `resolvedAt` of the resolution whose survey has ended (answered, ignored, skipped or expired). */
  closedFor?: string;
  /** `resolvedAt` of the resolution whose comment prompt is open. */
  commentFor?: string;
}

/** The survey's dependencies. */
export interface CsatSurveyOptions {
  store: CsatStore;
  /** The bot's ConversationState (the survey keeps its property next to the bot's, saved by the bot's turn). */
  conversationState: ConversationState;
  /** Tells a new question from a comment: a reply the knowledge answers (not small talk) is a question. */
  knowledge?: KnowledgeSearcher;
  clock?: Clock;
  logger?: Logger;
  /** Default `CSAT_SURVEY_TTL_MS`. */
  ttlMs?: number;
  /**
   * The conversation's reply window (the hub's `replyWindow`): a survey is a bot message, which Meta
   * refuses once the customer's last message is over 24 hours old, so then it is not sent at all.
   */
  replyWindow?: (record: ConversationRecord) => Promise<ReplyWindow | undefined>;
}

/** Runs `logic` in a proactive turn on the customer's channel (the hub's `continueWith`). */
export type ContinueWith = (logic: (context: TurnContext) => Promise<void>) => Promise<void>;

/** The survey: sent after a resolution (`afterResolve`), answered in the bot's turns (`onMessage`). */
export class CsatSurvey {
  private readonly store: CsatStore;
  private readonly state: StatePropertyAccessor<CsatConversationData>;
  private readonly knowledge?: KnowledgeSearcher;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly ttlMs: number;
  private readonly replyWindow?: CsatSurveyOptions['replyWindow'];

  constructor(options: CsatSurveyOptions) {
    this.store = options.store;
    this.state = options.conversationState.createProperty<CsatConversationData>('csat');
    this.knowledge = options.knowledge;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.ttlMs = options.ttlMs ?? CSAT_SURVEY_TTL_MS;
    this.replyWindow = options.replyWindow;
  }

  /**
   * Sends the survey of a resolution just made (after the hub told the customer), unless it was sent
   * already or the customer has written since (see the rules above). Never throws: a survey that
   * cannot go out must not fail the agent's resolve.
   */
  async afterResolve(record: ConversationRecord, continueWith: ContinueWith): Promise<void> {
    if (!record.resolvedAt) return;
    const resolution: CsatResolution = { conversationId: record.id, channelId: record.channelId, ...(record.agentName ? { agent: record.agentName } : {}), resolvedAt: record.resolvedAt };
    try {
      const closesAt = (await this.replyWindow?.(record))?.botClosesAt;
      if (closesAt && closesAt.getTime() <= this.clock.now().getTime()) {
        await this.store.recordResolved(resolution);
        this.logger.info('csat survey skipped: the reply window is closed', { conversationId: record.id, channelId: record.channelId });
        return;
      }
      await continueWith(async (context) => {
        // Read only: the bot's own turns write this state, and a save here could conflict with one.
        const state = await this.state.get(context, {});
        if ((state.closedAt ?? -1) >= record.handoffs) {
          await this.store.recordResolved(resolution);
          this.logger.info('csat survey skipped: the customer wrote first', { conversationId: record.id });
          return;
        }
        if (!(await this.store.recordAsked(resolution, this.clock.now().toISOString()))) return; // asked before (a replay)
        await context.sendActivity(surveyActivity(context.activity.locale, resolution.agent));
      });
    } catch (err) {
      this.logger.warn('csat survey not sent', { conversationId: record.id, channelId: record.channelId, error: (err as Error).message });
    }
  }

  /**
   * A customer message in a bot turn: true when it answered the survey (a rating or the comment) and
   * the bot must do nothing more; false when the bot should handle it as usual.
   */
  async onMessage(context: TurnContext, text: string): Promise<boolean> {
    const handoffs = (context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester | undefined)?.handoffCount ?? 0;
    if (handoffs === 0) return false; // never with a person: no survey can be open
    const state = await this.state.get(context, {});
    if ((state.closedAt ?? -1) >= handoffs) return false;
    const record = await this.store.latest(context.activity.conversation.id);
    const close = () => {
      state.closedAt = handoffs;
      state.closedFor = record?.resolvedAt;
      delete state.commentFor;
    };
    if (!record || record.resolvedAt === state.closedFor || !record.askedAt) {
      close(); // nothing open; a survey not sent yet will now be skipped (the customer wrote first)
      return false;
    }
    const now = this.clock.now().getTime();
    const locale = context.activity.locale;
    if (record.rating === undefined) {
      const rating = now - Date.parse(record.askedAt) <= this.ttlMs ? recognizeRating(text, locale) : undefined;
      if (rating === undefined) {
        close();
        return false;
      }
      await this.store.recordRating(record.conversationId, record.resolvedAt, rating, this.clock.now().toISOString());
      state.commentFor = record.resolvedAt;
      await context.sendActivity(MessageFactory.text(csatStrings(locale).askComment));
      return true;
    }
    const commentOpen = state.commentFor === record.resolvedAt && record.comment === undefined && now - Date.parse(record.answeredAt ?? record.askedAt) <= this.ttlMs;
    close();
    if (!commentOpen) return false;
    const yesNo = recognizeYesNo(text, locale);
    const declined = yesNo?.alone && !yesNo.value; // a bare "no": nothing to add
    if (!declined) {
      if (this.isQuestion(context, text)) return false;
      await this.store.recordComment(record.conversationId, record.resolvedAt, text);
    }
    await context.sendActivity(MessageFactory.text(csatStrings(locale).thanks));
    return true;
  }

  /** The latest resolution's survey of a conversation, for the agent console. */
  latest(conversationId: string): Promise<CsatRecord | undefined> {
    return this.store.latest(conversationId);
  }

  private isQuestion(context: TurnContext, text: string): boolean {
    if (readsAsQuestion(text, context.activity.locale)) return true;
    const decision = this.knowledge?.decide(text, { channel: context.activity.channelId, locale: context.activity.locale, now: this.clock.now() });
    return decision?.kind === 'answer' && !decision.match.entry.tags.includes(SMALLTALK_TAG);
  }
}

/** The survey message: the question with the ratings as suggested actions, best first. */
export function surveyActivity(locale: string | undefined, agent?: string) {
  const s = csatStrings(locale);
  const actions: CardAction[] = s.ratingActions.map((title) => ({ type: ActionTypes.ImBack, title, value: title }));
  const text = agent ? s.ask.replace('{agent}', agent) : s.askNoAgent;
  const activity = MessageFactory.suggestedActions(actions, text);
  activity.channelData = { switchboard: { csat: 'ask' } };
  return activity;
}

/** A number written as a fraction of the scale ("4/5", "4 out of 5"), as the number model returns its text. */
const OUT_OF_FIVE = /^([1-5])\s*(?:\/|out of)\s*5$/i;

/**
 * The rating a reply gives, if it is one: a single number from 1 to 5 ("4", "five", "4 stars",
 * "4/5", a tapped "5 – Very good") or one of the locale's rating words ("great", "not good"), with at
 * most `MAX_EXTRA_WORDS_FOR_RATING` other meaningful words and not reading as a question.
 * @example recognizeRating('five') // 5
 * @example recognizeRating('terrible') // 1
 * @example recognizeRating('how do I pay by card?') // undefined
 */
export function recognizeRating(text: string, locale?: string): CsatRating | undefined {
  const reply = text.trim();
  if (!reply || reply.split(/\s+/).length > MAX_RATING_WORDS) return undefined;
  const bounded = reply.slice(0, MAX_RATING_CHARS);
  if (readsAsQuestion(bounded, locale)) return undefined;
  const spans: { start: number; end: number }[] = [];
  let rating: CsatRating | undefined;

  const numbers = recognizeNumber(bounded, vocabulary(locale).culture).map((r) => {
    const fraction = OUT_OF_FIVE.exec(r.text.trim());
    return { value: fraction ? Number(fraction[1]) : Number(r.resolution?.value), start: r.start, end: r.end };
  });
  if (numbers.length > 0) {
    const values = new Set(numbers.map((n) => n.value));
    const [only] = values;
    if (values.size !== 1 || !isCsatRating(only)) return undefined; // "10", "3.5", "4 or 5": not one rating on the scale
    rating = only;
    spans.push(...numbers);
  }

  const words = csatStrings(locale).ratingWords;
  const choices = ([5, 4, 3, 2, 1] as const).map((value) => ({ value: String(value), synonyms: words[value] }));
  const found = findChoices(bounded, choices, { allowPartialMatches: false, noValue: true, locale: vocabulary(locale).culture });
  const byWord = new Set(found.map((f) => Number(f.resolution.value)));
  if (byWord.size > 1) return undefined; // "good but slow, bad follow-up": no single rating
  if (rating === undefined) {
    const [word] = byWord;
    if (!isCsatRating(word)) return undefined;
    rating = word;
  }
  spans.push(...found);
  return extraWords(bounded, spans, locale) <= MAX_EXTRA_WORDS_FOR_RATING ? rating : undefined;
}

/** Meaningful words (not the locale's filler words) of `text` outside every span. */
function extraWords(text: string, spans: { start: number; end: number }[], locale?: string): number {
  const filler = new Set([...vocabulary(locale).fillerWords, ...csatStrings(locale).ratingFillerWords]);
  const outside = (tok: Token) => spans.every((s) => tok.end < s.start || tok.start > s.end);
  return defaultTokenizer(text, locale).filter((tok) => !filler.has(tok.normalized) && outside(tok)).length;
}
