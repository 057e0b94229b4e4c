/**
 * The shape of the sentences the handoff plugin says to customers. The texts live with the bot's
 * other sentences (src/bot/strings.ts, handoff section); a team with its own bot passes its own
 * `HandoffStrings` to `HandoffHub`.
 */
import { localeStrings } from '../bot/strings.js';

export interface HandoffStrings {
  /** Opening of the one handoff message: the agent sees everything, nothing to repeat. */
  queued: string;
  /** Position and wait; `{position}`, `{minutes}`. */
  position: string;
  /** Position when no estimate is possible yet. */
  positionNoEstimate: string;
  /** Outside business hours; `{hours}`. */
  closed: string;
  /** Within hours but no agent signed in. */
  noAgentOnline: string;
  /** How to cancel while waiting. */
  howToCancel: string;
  /** Already waiting (asked again). */
  alreadyQueued: string;
  /** The customer cancelled while waiting. */
  cancelled: string;
  /** An agent took the conversation; `{agent}`. */
  agentJoined: string;
  /** Resolved: the bot answers again. */
  resolved: string;
  /** Another agent took over by transfer; `{agent}`, `{team}` (the team they answer for). */
  transferredToAgent: string;
  /** Same, for an agent in no particular team; `{agent}`. */
  transferredToAgentNoTeam: string;
  /** Sent back to a team's queue by transfer; `{team}`. */
  transferredToQueue: string;
  /** Sent back to the general queue by transfer. */
  transferredToQueueNoTeam: string;
  /** The chat header's status line while an agent holds the conversation (Web Chat demo page); `{agent}`. */
  agentStatus: string;
  /** Words that cancel a waiting handoff (matched with botbuilder's choice recognition, not regexes). */
  cancelPhrases: string[];
}

/** The English sentences, from the bot's strings file (src/bot/strings.ts, handoff section). */
export const defaultHandoffStrings: HandoffStrings = localeStrings('en').handoff;

/** The handoff sentences for a botbuilder `activity.locale`, English when unknown. */
export function handoffStrings(locale?: string): HandoffStrings {
  return localeStrings(locale).handoff;
}

/** Fills `{name}` placeholders. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}
