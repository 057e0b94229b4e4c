/**
 * Every sentence the FAQ bot says, and the words it listens for, in one place per locale — so a
 * translator touches one file and the bot code never holds a customer-facing sentence.
 *
 * Add a locale by adding an object of the same shape to `strings` (TypeScript checks it is complete);
 * `t()` falls back from `pt-BR` to `pt` to `en`.
 *
 * @example t(activity.locale, 'didYouMean', { list: '1. Pay by card' })
 */
import type { HandoffStrings } from '../handoff/strings.js';
import type { DetailKind } from '../knowledge/types.js';

/** The bot's sentences; `{name}` placeholders are filled by `t()`. Markdown is allowed (the bot sends markdown). */
export interface BotStrings {
  /** First greeting of a conversation. */
  welcome: string;
  /** Greeting for a customer this bot has already talked to (UserState remembers them). */
  welcomeBack: string;
  /** Before the numbered close matches; `{list}` is the numbered list. */
  didYouMean: string;
  /** Same with a single close match; `{list}` is that one numbered line. */
  didYouMeanOne: string;
  /** Title of the suggested action that declines every suggestion. */
  noneOfTheseAction: string;
  /** After an answer. */
  didThisHelp: string;
  yesAction: string;
  noAction: string;
  /** "Yes" to did-this-help. */
  gladItHelped: string;
  /** "No" to did-this-help: offer a person. */
  sorryOfferHuman: string;
  /** The customer declined every suggestion: ask for other words. */
  rephrase: string;
  /**
   * First question in a row that nothing in the knowledge comes close to (the weather, a joke): say
   * plainly what the assistant can help with, and that a person is there.
   */
  outOfScope: string;
  outOfScopeNoTopics: string;
  /**
   * The customer sent the detail an answer asked for (`asks_for`); a person takes it from here (the
   * handoff notice follows). `{detail}` is from `detailNames`, `{value}` what the customer sent.
   */
  detailTaken: string;
  /** Same for an answer that asked for a free-text detail (`asks_for: text`): not echoed back. */
  detailTakenText: string;
  /** Second miss in a row: offer a person. */
  stillNoAnswerOfferHuman: string;
  /** The customer declined the offer of a person. */
  offerDeclined: string;
  /** Handoff wanted, but no handoff plugin runs on this bot (or it failed). */
  humanUnavailable: string;
  /** Media, location, stickers… on a channel where the bot only reads text. */
  unsupportedMessage: string;
  /** A file, sticker or location the customer sent is kept for a person to see (the bot cannot read it). */
  mediaKept: string;
  /** A file the customer sent could not be received (download failed, too large). */
  mediaNotKept: string;
  /** A turn failed (the adapter's onTurnError); nothing the customer did wrong. */
  turnError: string;
}

/** Words the bot recognises (with botbuilder's choice recognition, never regexes). */
export interface BotVocabulary {
  /** Culture code for @microsoft/recognizers-text (numbers, ordinals, yes/no). */
  culture: string;
  /** Ways to decline every suggestion ("none of these"): counts as a miss. */
  noneOfThese: string[];
  /**
   * Words that carry no meaning when a customer picks a suggestion or answers yes/no
   * ("the second **one**", "**yes thanks**"): ignored when deciding whether a reply is a pick or a new question.
   */
  fillerWords: string[];
  /**
   * Words a question starts with. A reply to an answer that asked for a detail ("Tell me the date and
   * amount") is read as a new question only when it starts with one of these (or ends with "?") and the
   * knowledge answers it with another entry: "charged £12 on 14 Nov for a data add-on" is the detail.
   */
  questionWords: string[];
}

/**
 * The satisfaction survey after a person resolved a conversation (src/bot/csat.ts). The rating is
 * offered as choices (`ratingActions`, best first, each title starting with its number so a tap
 * reads as the rating) and understood when typed: a number ("4", "five") or one of `ratingWords`.
 */
export interface CsatStrings {
  /** The question; `{agent}` is the name of the agent who resolved the chat. */
  ask: string;
  /** Same without an agent's name. */
  askNoAgent: string;
  /** Choice titles for ratings 5, 4, 3, 2, 1 (WhatsApp list rows: at most 24 characters). */
  ratingActions: [string, string, string, string, string];
  /** After the rating: one optional prompt for a comment. */
  askComment: string;
  /** After the comment (or a bare "no" to it). */
  thanks: string;
  /** Words that mean a rating, by rating ("great" → 5); a longer phrase wins over a word inside it ("not good" → 2). */
  ratingWords: Record<1 | 2 | 3 | 4 | 5, string[]>;
  /** Words that go with a rating in any wording ("4 **stars**", "**give** it a 5"), besides the bot's filler words. */
  ratingFillerWords: string[];
}

/** Everything one locale provides. */
export interface LocaleStrings {
  bot: BotStrings;
  vocabulary: BotVocabulary;
  /** What each `asks_for` detail is called in `detailTaken` ("your **postcode**"). */
  detailNames: Record<DetailKind, string>;
  // ---------------------------------------------------------------------------------------------
  // HANDOFF SECTION — reserved for the handoff plugin (src/handoff/strings.ts `HandoffStrings`).
  // The handoff engineer adds `handoff: HandoffStrings` here and the English texts below.
  // ---------------------------------------------------------------------------------------------
  /** What the handoff plugin says to customers (queue position, agent joined, resolved, cancel words). */
  handoff: HandoffStrings;
  /** The satisfaction survey after a resolution. */
  csat: CsatStrings;
}

const en: LocaleStrings = {
  bot: {
    welcome: "Hi! I'm the help assistant. Ask me a question in your own words — and you can ask for a person at any time.",
    welcomeBack: "Welcome back! What can I help you with today?",
    didYouMean: 'I am not sure I understood. Did you mean one of these?\n\n{list}\n\nTap one, type its number, or ask in other words.',
    didYouMeanOne: 'I am not sure I understood. Did you mean this?\n\n{list}\n\nTap it, or ask in other words.',
    noneOfTheseAction: 'None of these',
    didThisHelp: 'Did this help?',
    yesAction: 'Yes',
    noAction: 'No',
    gladItHelped: 'Glad I could help! Ask me anything else.',
    sorryOfferHuman: "Sorry about that. Would you like to talk to a person?",
    rephrase: "Sorry, I couldn't find an answer to that. Could you say it in other words?",
    outOfScope: "Sorry, that's not something I can help with. I can answer questions about {topics} — ask me about one of those, or ask for a person.",
    outOfScopeNoTopics: "Sorry, that's not something I can help with. Ask me something else, or ask for a person.",
    detailTaken: 'Thanks — I\'ll pass your {detail} (**{value}**) to our team.',
    detailTakenText: "Thanks — I'll pass that to our team.",
    stillNoAnswerOfferHuman: "I still can't find an answer. Would you like to talk to a person?",
    offerDeclined: 'No problem. Ask me anything else.',
    humanUnavailable: "I'm sorry, a person isn't available on this channel. You can keep asking me, though.",
    unsupportedMessage: 'Sorry, I can only read text messages here. Please type your question.',
    mediaKept: "I can't look at files or locations myself, but I've kept what you sent — if you'd like a person to see it, say \"talk to a person\".",
    mediaNotKept: "I couldn't receive that file — please send it again, or say \"talk to a person\".",
    turnError: 'Sorry, something went wrong on my side. Please try again in a moment.',
  },
  vocabulary: {
    culture: 'en-us',
    noneOfThese: ['none of these', 'none of them', 'none', 'neither', 'something else', 'not these', 'neither of them', 'none of those'],
    fillerWords: [
      'the', 'a', 'an', 'one', 'ones', 'that', 'this', 'it', 'its', 'number', 'no', 'option', 'choice', 'please', 'pls',
      'i', 'me', 'my', 'you', 'your', 'we', 'our', 'want', 'would', 'like', 'mean', 'meant', 'take', 'pick', 'choose',
      'about', 'on', 'in', 'of', 'for', 'to', 'with', 'by', 'and', 'or', 'is', 'are', 'was', 'did', 'do', 'does',
      'can', 'could', 'how', 'what', 'when', 'where', 'which', 'who', 'why', 'get', 'thanks', 'thank', 'thx', 'ok', 'okay',
      'really', 'very', 'much', 'help', 'helped', 'helpful', 'not', 'at', 'all', 'indeed', 'sure', 'yes', 'nope', 'yeah',
    ],
    questionWords: [
      'how', 'what', 'whats', 'when', 'where', 'wheres', 'why', 'who', 'which', 'can', 'could', 'do', 'does', 'did', 'is',
      'are', 'will', 'would', 'should', 'may', 'have', 'has',
    ],
  },
  detailNames: { postcode: 'postcode', phone: 'phone number', email: 'email address', number: 'number', text: 'details' },
  // HANDOFF SECTION (English) — see src/handoff/strings.ts for what each sentence is for.
  handoff: {
    queued: "I've passed this chat to our team. They can see this whole conversation, so there's no need to repeat anything.",
    position: "You're number {position} in the queue; the wait is about {minutes} minutes.",
    positionNoEstimate: "You're number {position} in the queue.",
    closed: "Our team works {hours} and is away right now. Write anything you'd like to add here and we'll reply as soon as we're back.",
    noAgentOnline: "No one from our team is online right now. Write anything you'd like to add here and we'll reply as soon as someone is available.",
    howToCancel: 'Type "cancel" if you no longer need a person.',
    alreadyQueued: "You're already waiting for a person; they can see this whole conversation.",
    cancelled: "OK, I've cancelled the request for a person. I'm here if you have another question.",
    agentJoined: '{agent} from our team has joined and can see the whole conversation.',
    resolved: "{agent} has closed this chat. I'm the assistant again — ask me anything, or ask for a person at any time.",
    transferredToAgent: '{agent} from our {team} team is taking over and can see the whole conversation.',
    transferredToAgentNoTeam: '{agent} from our team is taking over and can see the whole conversation.',
    transferredToQueue: "You're back in the queue for our {team} team. They'll see the whole conversation, so there's no need to repeat anything.",
    transferredToQueueNoTeam: "You're back in the queue for a person from our team. They'll see the whole conversation, so there's no need to repeat anything.",
    agentStatus: '{agent} from our team',
    cancelPhrases: ['cancel', 'never mind', 'nevermind', 'forget it', "don't need a person", 'no longer needed', 'stop waiting'],
  },
  csat: {
    ask: 'How did {agent} do? Please rate this chat from 1 (very poor) to 5 (very good).',
    askNoAgent: 'How did we do? Please rate this chat from 1 (very poor) to 5 (very good).',
    ratingActions: ['5 – Very good', '4 – Good', '3 – OK', '2 – Poor', '1 – Very poor'],
    askComment: "Thanks! Anything you'd like to add? (optional)",
    thanks: 'Thank you for your feedback!',
    ratingWords: {
      5: ['very good', 'great', 'excellent', 'amazing', 'perfect', 'awesome', 'fantastic', 'brilliant', 'superb', 'outstanding', 'loved it'],
      4: ['good', 'nice', 'pretty good', 'helpful', 'quite good'],
      3: ['ok', 'okay', 'fine', 'average', 'so so', 'so-so', 'alright', 'not bad', 'meh'],
      2: ['poor', 'bad', 'not good', 'not great', 'unhelpful', 'disappointing', 'not helpful'],
      1: ['very poor', 'very bad', 'terrible', 'awful', 'horrible', 'useless', 'worst', 'dreadful', 'appalling'],
    },
    ratingFillerWords: ['star', 'stars', 'rating', 'rate', 'give', 'out', 'of', 'points', 'was', 'were', 'be', 'so', 'service', 'chat'],
  },
};

/** All locales; keys are lower-case language tags. */
export const strings: Record<string, LocaleStrings> = { en };

/** The locale pack for a botbuilder `activity.locale` (`en-US` → `en`), English when unknown. */
export function localeStrings(locale?: string): LocaleStrings {
  const tag = (locale ?? 'en').toLowerCase().replace('_', '-');
  return strings[tag] ?? strings[tag.split('-')[0]!] ?? en;
}

/** Keys of the bot's sentences. */
export type BotStringKey = keyof BotStrings;

/**
 * One of the bot's sentences in the customer's locale, with `{name}` placeholders filled;
 * unknown placeholders are left as written so a missing parameter shows up in tests.
 */
export function t(locale: string | undefined, key: BotStringKey, params: Record<string, string | number> = {}): string {
  const template = localeStrings(locale).bot[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The words the bot listens for in the customer's locale. */
export function vocabulary(locale?: string): BotVocabulary {
  return localeStrings(locale).vocabulary;
}

/** The satisfaction survey's sentences and words in the customer's locale. */
export function csatStrings(locale?: string): CsatStrings {
  return localeStrings(locale).csat;
}

/** The name of an `asks_for` detail in the customer's locale ("phone number"). */
export function detailName(locale: string | undefined, kind: DetailKind): string {
  return localeStrings(locale).detailNames[kind];
}
