/**
 * The FAQ bot plugin: `FaqBot` (an `ActivityHandler`), the `InsightsStore` it records feedback and
 * unanswered questions in (`knowledgeGaps` reports them to editors), and the sentences it says (`strings`, `t`).
 */
export { FaqBot, SMALLTALK_TAG, HANDOFF_REQUEST_TAG, MISSES_BEFORE_OFFER, MAX_SUGGESTIONS, PENDING_PROMPT_TTL_MS } from './faq-bot.js';
export type { FaqBotOptions, FaqConversationData, FaqUserData, PendingPrompt } from './faq-bot.js';
export { InsightsStore, InsightsConflictError, knowledgeGaps, groupUnanswered, DEFAULT_GAPS_DAYS, DEFAULT_GAPS_LIMIT, MAX_GAPS_DAYS } from './insights.js';
export type { InsightsRecorder, InsightsReader, InsightsStoreOptions, EntryFeedback, UnansweredQuestion, UnansweredGroup, KnowledgeGaps } from './insights.js';
export { strings, t, vocabulary, localeStrings } from './strings.js';
export type { BotStrings, BotStringKey, BotVocabulary, LocaleStrings } from './strings.js';
export { recognizePick, recognizeYesNo } from './choices.js';
export type { Offered, PickResult, YesNo } from './choices.js';
