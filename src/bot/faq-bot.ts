/**
 * `FaqBot`: the conversation a customer has with the knowledge base — answer, suggest close matches,
 * ask whether it helped, take the detail an answer asked for (`asks_for`) to a person, say what it can
 * help with when a question is out of its scope, and offer a person when the bot cannot help. It is a plain
 * botbuilder `ActivityHandler`, so it runs on any adapter; a person is requested through the
 * `HandoffRequester` that HandoffMiddleware puts in `turnState` (without it, the bot says no person
 * is available on this channel).
 *
 * @example
 *   const bot = new FaqBot({ knowledge, conversationState, userState, insights: new InsightsStore(storage) });
 *   adapter.mount(server, (context) => bot.run(context));
 */
import {
  ActionTypes,
  ActivityHandler,
  ActivityTypes,
  MessageFactory,
  TextFormatTypes,
  type CardAction,
  type ConversationState,
  type StatePropertyAccessor,
  type TurnContext,
  type UserState,
} from 'botbuilder';
import { systemClock, type Clock } from '../clock.js';
import { silentLogger, type Logger } from '../log.js';
import { HANDOFF_REQUESTER, type HandoffRequest, type HandoffRequester } from '../handoff/types.js';
import type { DetailKind, KnowledgeEntry, KnowledgeSearcher, SearchContext } from '../knowledge/types.js';
import { readsAsQuestion, recognizeDetail, recognizePick, recognizeYesNo, type Offered } from './choices.js';
import type { InsightsRecorder } from './insights.js';
import { keepMiss, keptText } from './limits.js';
import { boundQuestion } from '../handoff/limits.js';
import type { CsatSurvey } from './csat.js';
import { noteDecision, notedDecision, type AnalyticsRecorder } from '../analytics/recorder.js';
import type { BotMetrics } from '../ops/metrics.js';
import type { QuestionRecorder } from '../knowledge/questions-store.js';
import { SMALLTALK_TAG } from '../knowledge/tags.js';
import { detailName, t, type BotStringKey } from './strings.js';

/** Entries tagged so get no "Did this help?" (greetings, thanks); defined with the knowledge format. */
export { SMALLTALK_TAG };
/** Entries tagged so are the "talk to a person" phrases of the knowledge folder: handoff reason `customer-asked`. */
export const HANDOFF_REQUEST_TAG = 'handoff-request';
/** How many of the knowledge's topics (its folders) the bot names when a question is out of scope. */
export const OUT_OF_SCOPE_TOPICS = 6;

const topicsCache = new WeakMap<readonly KnowledgeEntry[], string[]>();

/**
 * What the knowledge is about, in its own words: the folders its entries are kept in (the first part of
 * an id such as `billing/pay-bill`; small talk and the handoff phrases left out), most entries first.
 * Derived from the folder, so replacing the sample changes it too.
 */
export function knowledgeTopics(entries: readonly KnowledgeEntry[] | undefined, max = OUT_OF_SCOPE_TOPICS): string[] {
  if (!entries?.length) return [];
  let topics = topicsCache.get(entries);
  if (!topics) {
    const counts = new Map<string, number>();
    for (const e of entries) {
      const slash = e.id.indexOf('/');
      if (slash <= 0 || e.tags?.some((tag) => tag === SMALLTALK_TAG || tag === HANDOFF_REQUEST_TAG)) continue;
      const topic = e.id.slice(0, slash).replace(/[-_]+/g, ' ');
      counts.set(topic, (counts.get(topic) ?? 0) + 1);
    }
    topics = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([tag]) => tag);
    topicsCache.set(entries, topics);
  }
  return topics.slice(0, max);
}

/** Misses in a row after which the bot offers a person instead of asking to rephrase again. */
export const MISSES_BEFORE_OFFER = 2;
/** How long the bot's question (suggestions, did-this-help, offer of a person) waits for its reply. */
export const PENDING_PROMPT_TTL_MS = 30 * 60 * 1000;
/** At most this many close matches are offered. */
export const MAX_SUGGESTIONS = 3;

/** An answer that asked the customer for a detail (`asks_for`): the entry and the kind of detail. */
export interface AskedDetail {
  entryId: string;
  kind: DetailKind;
}

/** The question the bot's last message left open, if any. */
export type PendingPrompt =
  | { kind: 'suggestions'; query: string; offered: Offered[] }
  | { kind: 'feedback'; entryId: string; query: string; asked?: AskedDetail }
  | { kind: 'offer-human'; reason: 'two-misses' | 'not-helpful'; question?: string; asked?: AskedDetail };

/** Per-conversation state (ConversationState property `faqBot`). */
export interface FaqConversationData {
  welcomed?: boolean;
  pending?: PendingPrompt;
  /** ISO time the pending prompt was sent. */
  pendingAt?: string;
  /** Follow-ups offered with the last answer: a tap answers that entry directly. */
  followUps?: Offered[];
  /** Unanswered questions in a row; a hit resets them. */
  misses?: string[];
  /** Entries the customer said did not help, or whose suggestions they declined. */
  rejectedEntryIds?: string[];
  /** `HandoffRequester.handoffCount` on the bot's last turn: a higher count means a person has had the conversation since. */
  handoffsSeen?: number;
}

/** Per-customer state (UserState property `faqBotUser`): lets a returning customer get a shorter greeting. */
export interface FaqUserData {
  firstSeenAt?: string;
  conversations?: number;
}

export interface FaqBotOptions {
  knowledge: KnowledgeSearcher;
  conversationState: ConversationState;
  userState: UserState;
  /** Where feedback and unanswered questions go (`InsightsStore`). */
  insights: InsightsRecorder;
  /** The satisfaction survey after a person resolved the conversation; none: no survey. */
  csat?: Pick<CsatSurvey, 'onMessage'>;
  /** Where each turn's decision (answer, suggest, miss) and reply time go; none: not recorded. */
  analytics?: Pick<AnalyticsRecorder, 'botTurn'>;
  /** Counts each message turn's decision by channel (`Metrics`); none: not counted. */
  metrics?: BotMetrics;
  /** Where each new question and its decision go, for `kb diff` (in the background); none: not saved. */
  questions?: Pick<QuestionRecorder, 'record'>;
  clock?: Clock;
  logger?: Logger;
}

/** The FAQ bot; one instance serves every channel. */
export class FaqBot extends ActivityHandler {
  private readonly knowledge: KnowledgeSearcher;
  private readonly conversationState: ConversationState;
  private readonly userState: UserState;
  private readonly insights: InsightsRecorder;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly conversationData: StatePropertyAccessor<FaqConversationData>;
  private readonly userData: StatePropertyAccessor<FaqUserData>;

  constructor(private readonly options: FaqBotOptions) {
    super();
    this.knowledge = options.knowledge;
    this.conversationState = options.conversationState;
    this.userState = options.userState;
    this.insights = options.insights;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.conversationData = this.conversationState.createProperty<FaqConversationData>('faqBot');
    this.userData = this.userState.createProperty<FaqUserData>('faqBotUser');

    // Web chat announces a new conversation; Messenger and WhatsApp do not (see onMessage).
    this.onMembersAdded(async (context, next) => {
      const others = (context.activity.membersAdded ?? []).filter((m) => m.id !== context.activity.recipient?.id);
      if (others.length > 0) {
        const data = await this.conversationData.get(context, {});
        await this.welcomeOnce(context, data);
      }
      await next();
    });

    this.onMessage(async (context, next) => {
      await this.handleMessage(context);
      await next();
    });
  }

  /** Runs the turn, then saves conversation and user state (also when the turn failed half-way). */
  override async run(context: TurnContext): Promise<void> {
    const recorded = context.activity.type === ActivityTypes.Message ? this.options.analytics?.botTurn(context) : undefined;
    try {
      await super.run(context);
    } finally {
      await this.conversationState.saveChanges(context, false);
      await this.userState.saveChanges(context, false);
      recorded?.();
      if (context.activity.type === ActivityTypes.Message) this.options.metrics?.botDecision(context.activity.channelId, notedDecision(context));
    }
  }

  private async handleMessage(context: TurnContext): Promise<void> {
    const data = await this.conversationData.get(context, {});
    this.forgetPromptsAfterHuman(context, data);
    const locale = context.activity.locale;
    const text = context.activity.text?.trim();
    // A first message the knowledge greets back ("hi" → the hello entry) needs no second greeting.
    const greetedByKnowledge = !data.welcomed && !!text && this.isSmalltalkAnswer(text, context);
    await this.welcomeOnce(context, data, greetedByKnowledge);

    if (!text || context.activity.channelData?.unsupported) {
      // Media, a location, a sticker: nothing to search for. The pending prompt stays open.
      await this.say(context, 'unsupportedMessage');
      return;
    }

    // A rating or comment for the survey after a resolution (a new question ends the survey and goes on).
    if (await this.options.csat?.onMessage(context, text)) return;

    const pending = data.pending;
    data.pending = undefined;
    // A reply long after the prompt (the next day, after an agent's chat) is a new question: "2" then picks nothing.
    const fresh = pending && (!data.pendingAt || this.clock.now().getTime() - Date.parse(data.pendingAt) <= PENDING_PROMPT_TTL_MS);
    if (pending && fresh && (await this.handlePending(context, data, pending, text))) return;

    const followUp = data.followUps?.find((f) => f.title.toLowerCase() === text.toLowerCase());
    const entry = followUp && this.knowledge.get(followUp.value, this.searchContext(context));
    if (entry) return this.answer(context, data, entry, text);
    await this.ask(context, data, text, locale);
  }

  /**
   * A conversation back from a person (resolved, or cancelled after an agent took over) starts afresh:
   * the bot's old "Did this help?" or suggestion list must not capture the customer's next message.
   * HandoffMiddleware tells how many times the conversation has gone to a person; the bot remembers
   * the count it last saw in its own ConversationState, so neither side reaches into the other's state.
   */
  private forgetPromptsAfterHuman(context: TurnContext, data: FaqConversationData): void {
    const count = (context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester | undefined)?.handoffCount;
    if (count === undefined) return;
    if (count > (data.handoffsSeen ?? 0)) {
      data.pending = undefined;
      data.pendingAt = undefined;
      data.followUps = undefined;
      data.misses = [];
      data.rejectedEntryIds = [];
    }
    data.handoffsSeen = count;
  }

  /** The reply to the bot's last prompt; false when it is not a reply but a new question. */
  private async handlePending(context: TurnContext, data: FaqConversationData, pending: PendingPrompt, text: string): Promise<boolean> {
    const locale = context.activity.locale;
    switch (pending.kind) {
      case 'suggestions': {
        const pick = recognizePick(text, pending.offered, locale);
        if (pick.kind === 'none-of-these') {
          data.rejectedEntryIds = union(data.rejectedEntryIds, pending.offered.map((o) => o.value));
          await this.miss(context, data, pending.query);
          return true;
        }
        if (pick.kind === 'picked') {
          // A part of a title is a weak signal: a reply the knowledge answers with another entry is a new question.
          if (pick.by === 'part-of-title') {
            const decision = this.knowledge.decide(text, this.searchContext(context));
            if (decision.kind === 'answer' && !pending.offered.some((o) => o.value === decision.match.entry.id)) return false;
          }
          const entry = this.knowledge.get(pick.value, this.searchContext(context));
          if (!entry) return false; // withdrawn since it was offered (hot reload, end of an offer)
          await this.answer(context, data, entry, pending.query);
          return true;
        }
        return false;
      }
      case 'feedback': {
        if (pending.asked && (await this.takeDetail(context, data, pending.asked, pending.query, text))) return true;
        const helpful = this.yesNo(context, text);
        if (helpful === undefined) return false;
        await this.insights.recordFeedback(pending.entryId, helpful);
        if (helpful) {
          await this.say(context, 'gladItHelped');
        } else {
          data.rejectedEntryIds = union(data.rejectedEntryIds, [pending.entryId]);
          data.pending = { kind: 'offer-human', reason: 'not-helpful', question: pending.query, ...(pending.asked ? { asked: pending.asked } : {}) };
          data.pendingAt = this.clock.now().toISOString();
          await this.sendYesNo(context, 'sorryOfferHuman');
        }
        return true;
      }
      case 'offer-human': {
        if (pending.asked && (await this.takeDetail(context, data, pending.asked, pending.question ?? '', text))) return true;
        const accepted = this.yesNo(context, text);
        if (accepted === undefined) return false;
        if (accepted) {
          await this.requestHandoff(context, data, { reason: pending.reason, question: pending.question });
        } else {
          data.misses = [];
          await this.say(context, 'offerDeclined');
        }
        return true;
      }
    }
  }

  /**
   * The detail an answer asked for (`asks_for`), sent as the reply: a person takes it from here, with
   * the customer's question and the detail as the handoff's question. False when the reply holds no
   * such detail, is a yes/no or small talk (for free text), or reads as a question that the knowledge
   * answers with another entry ("how do I pay my bill?" after the no-signal answer).
   */
  private async takeDetail(context: TurnContext, data: FaqConversationData, asked: AskedDetail, query: string, text: string): Promise<boolean> {
    const locale = context.activity.locale;
    const value = recognizeDetail(text, asked.kind, locale);
    if (value === undefined) return false;
    if (asked.kind === 'text' && recognizeYesNo(text, locale)) return false;
    const decision = this.knowledge.decide(text, this.searchContext(context));
    if (decision.kind === 'answer' && decision.match.entry.id !== asked.entryId) {
      if (decision.match.entry.tags.includes(SMALLTALK_TAG) || readsAsQuestion(text, locale)) return false;
    }
    if (context.turnState.get(HANDOFF_REQUESTER)) {
      const thanks = asked.kind === 'text' ? t(locale, 'detailTakenText') : t(locale, 'detailTaken', { detail: detailName(locale, asked.kind), value });
      await context.sendActivity(markdown(thanks));
    }
    data.followUps = undefined;
    await this.requestHandoff(context, data, { reason: 'entry-handoff', entryId: asked.entryId, question: [query, text].filter(Boolean).join('\n') });
    return true;
  }

  /**
   * Yes/no from a tap or free text. A bare "yes"/"nope" is always the answer to the bot's question;
   * with more words, a reply the knowledge answers is a new question ("no, how do I pay by card?").
   */
  private yesNo(context: TurnContext, text: string): boolean | undefined {
    const found = recognizeYesNo(text, context.activity.locale);
    if (!found) return undefined;
    if (found.alone) return found.value;
    const decision = this.knowledge.decide(text, this.searchContext(context));
    if (decision.kind === 'answer' && !decision.match.entry.tags.includes(SMALLTALK_TAG)) return undefined;
    return found.value;
  }

  /** A new question. */
  private async ask(context: TurnContext, data: FaqConversationData, text: string, locale: string | undefined): Promise<void> {
    const where = this.searchContext(context);
    const decision = this.knowledge.decide(text, where);
    this.options.questions?.record(text, decision, where);
    if (decision.kind === 'answer') return this.answer(context, data, decision.match.entry, text);
    // Small talk is answered or not at all: "Did you mean: Who are you?" to a question about the weather helps nobody.
    const close = decision.kind === 'suggest' ? decision.matches.filter((m) => !m.entry.tags.includes(SMALLTALK_TAG)) : [];
    if (close.length > 0) {
      noteDecision(context, 'suggest');
      const offered = close.slice(0, MAX_SUGGESTIONS).map((m) => ({ value: m.entry.id, title: m.entry.question }));
      const list = offered.map((o, i) => `${i + 1}. ${o.title}`).join('\n');
      const actions = [...offered.map((o) => imBack(o.title)), imBack(t(locale, 'noneOfTheseAction'))];
      data.pending = { kind: 'suggestions', query: keptText(text), offered };
      data.pendingAt = this.clock.now().toISOString();
      data.followUps = undefined;
      await context.sendActivity(markdown(t(locale, offered.length === 1 ? 'didYouMeanOne' : 'didYouMean', { list }), actions));
      return;
    }
    await this.miss(context, data, text, 'outOfScope');
  }

  /** Sends an entry's answer, then either hands off, asks "Did this help?", or (small talk) nothing. */
  private async answer(context: TurnContext, data: FaqConversationData, entry: KnowledgeEntry, query: string): Promise<void> {
    noteDecision(context, 'answer', entry.id);
    const unanswered = data.misses ?? [];
    data.misses = [];

    if (entry.handoff) {
      data.followUps = undefined;
      await context.sendActivity(markdown(entry.answer));
      const askedForPerson = entry.tags.includes(HANDOFF_REQUEST_TAG);
      // "my order 558812 never arrived, I want a real person": the agent needs the message itself, after any earlier misses.
      const question = askedForPerson ? [...unanswered, query].join('\n') : query;
      await this.requestHandoff(context, data, askedForPerson ? { reason: 'customer-asked', question } : { reason: 'entry-handoff', entryId: entry.id, question });
      return;
    }

    const where = this.searchContext(context);
    const followUps = entry.followUps
      .map((id) => this.knowledge.get(id, where))
      .filter((e): e is KnowledgeEntry => !!e)
      .map((e) => ({ value: e.id, title: e.question }));
    data.followUps = followUps.length > 0 ? followUps : undefined;
    const followUpActions = followUps.map((f) => imBack(f.title));

    if (entry.tags.includes(SMALLTALK_TAG)) {
      // No question follows: the follow-ups ride on the answer.
      await context.sendActivity(markdown(entry.answer, followUpActions));
      return;
    }
    // The follow-ups go once, after Yes/No on "Did this help?": web chat and Messenger show only the
    // last message's buttons, and on WhatsApp each message with choices is an interactive list of its own.
    await context.sendActivity(markdown(entry.answer));
    data.pending = { kind: 'feedback', entryId: entry.id, query: keptText(query), ...(entry.asksFor ? { asked: { entryId: entry.id, kind: entry.asksFor } } : {}) };
    data.pendingAt = this.clock.now().toISOString();
    await this.sendYesNo(context, 'didThisHelp', followUpActions);
  }

  /**
   * A question the bot could not answer: recorded, then `first` (what the bot can help with for a
   * question nothing came close to, "in other words" after declined suggestions), or on the second
   * miss in a row an offer of a person.
   */
  private async miss(context: TurnContext, data: FaqConversationData, query: string, first: 'rephrase' | 'outOfScope' = 'rephrase'): Promise<void> {
    noteDecision(context, 'miss');
    data.followUps = undefined;
    data.misses = keepMiss(data.misses, query);
    try {
      await this.insights.recordUnanswered({
        query,
        channel: context.activity.channelId,
        locale: context.activity.locale,
        conversationId: context.activity.conversation?.id,
        at: this.clock.now().toISOString(),
      });
    } catch (err) {
      // Losing an insight must not cost the customer an answer.
      this.logger.warn('could not record an unanswered question', { error: String(err) });
    }
    if (data.misses.length >= MISSES_BEFORE_OFFER) {
      data.pending = { kind: 'offer-human', reason: 'two-misses', question: data.misses.join('\n') };
      data.pendingAt = this.clock.now().toISOString();
      await this.sendYesNo(context, 'stillNoAnswerOfferHuman');
    } else if (first === 'outOfScope') {
      const locale = context.activity.locale;
      const topics = knowledgeTopics(this.knowledge.entries).map((topic) => `**${topic}**`);
      const list = new Intl.ListFormat(locale ?? 'en', { type: 'conjunction' }).format(topics);
      await context.sendActivity(markdown(topics.length ? t(locale, 'outOfScope', { topics: list }) : t(locale, 'outOfScopeNoTopics')));
    } else {
      await this.say(context, first);
    }
  }

  /** Asks HandoffMiddleware for a person; it tells the customer what happens next. */
  private async requestHandoff(context: TurnContext, data: FaqConversationData, request: HandoffRequest): Promise<void> {
    const requester = context.turnState.get(HANDOFF_REQUESTER) as HandoffRequester | undefined;
    const full: HandoffRequest = { ...request };
    if (data.rejectedEntryIds?.length) full.rejectedEntryIds = [...data.rejectedEntryIds];
    if (full.question === undefined) delete full.question;
    else full.question = boundQuestion(full.question);
    if (!requester) {
      await this.say(context, 'humanUnavailable');
      return;
    }
    try {
      await requester.requestHandoff(context, full);
      // The conversation starts afresh when it comes back to the bot.
      data.misses = [];
      data.rejectedEntryIds = [];
      data.pending = undefined;
      data.followUps = undefined;
    } catch (err) {
      this.logger.error('handoff request failed', { error: String(err), reason: request.reason });
      await this.say(context, 'humanUnavailable');
    }
  }

  private async welcomeOnce(context: TurnContext, data: FaqConversationData, silently = false): Promise<void> {
    if (data.welcomed) return;
    data.welcomed = true;
    const user = await this.userData.get(context, {});
    const returning = (user.conversations ?? 0) > 0;
    user.firstSeenAt ??= this.clock.now().toISOString();
    user.conversations = (user.conversations ?? 0) + 1;
    if (!silently) await this.say(context, returning ? 'welcomeBack' : 'welcome');
  }

  private isSmalltalkAnswer(text: string, context: TurnContext): boolean {
    const decision = this.knowledge.decide(text, this.searchContext(context));
    return decision.kind === 'answer' && decision.match.entry.tags.includes(SMALLTALK_TAG);
  }

  private async say(context: TurnContext, key: BotStringKey): Promise<void> {
    await context.sendActivity(markdown(t(context.activity.locale, key)));
  }

  private async sendYesNo(context: TurnContext, key: BotStringKey, extra: CardAction[] = []): Promise<void> {
    const locale = context.activity.locale;
    await context.sendActivity(markdown(t(locale, key), [imBack(t(locale, 'yesAction')), imBack(t(locale, 'noAction')), ...extra]));
  }

  private searchContext(context: TurnContext): SearchContext {
    return { channel: context.activity.channelId, locale: context.activity.locale, now: this.clock.now() };
  }
}

function imBack(title: string): CardAction {
  return { type: ActionTypes.ImBack, title, value: title };
}

function markdown(text: string, actions: CardAction[] = []) {
  const activity = actions.length > 0 ? MessageFactory.suggestedActions(actions, text) : MessageFactory.text(text);
  activity.type = ActivityTypes.Message;
  activity.textFormat = TextFormatTypes.Markdown;
  return activity;
}

function union(a: string[] | undefined, b: string[]): string[] {
  return [...new Set([...(a ?? []), ...b])];
}
