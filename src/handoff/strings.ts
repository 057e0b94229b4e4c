/**
 * The shape of the sentences the handoff plugin says to customers. The English defaults live with the
 * bot's other sentences (src/bot/strings.ts, handoff section) when that file provides them; a team
 * with its own bot passes its own `HandoffStrings` to `HandoffHub`.
 */
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
  /** Words that cancel a waiting handoff (matched with botbuilder's choice recognition, not regexes). */
  cancelPhrases: string[];
}

/** English defaults (also used when the bot's strings file has no handoff section). */
export const defaultHandoffStrings: HandoffStrings = {
  queued: "I've asked a person from our team to take over. They can see this whole conversation, so there's no need to repeat anything.",
  position: "You're number {position} in the queue; the wait is about {minutes} minutes.",
  positionNoEstimate: "You're number {position} in the queue.",
  closed: "Our team works {hours} and is away right now. Write anything you'd like to add here and we'll reply as soon as we're back.",
  noAgentOnline: "No one from our team is online right now. Write anything you'd like to add here and we'll reply as soon as someone is available.",
  howToCancel: 'Type "cancel" if you no longer need a person.',
  alreadyQueued: "You're already waiting for a person; they can see this whole conversation.",
  cancelled: "OK, I've cancelled the request for a person. I'm here if you have another question.",
  agentJoined: '{agent} from our team has joined and can see the whole conversation.',
  resolved: "{agent} has closed this chat. I'm the assistant again — ask me anything, or ask for a person at any time.",
  cancelPhrases: ['cancel', 'never mind', 'nevermind', 'forget it', "don't need a person", 'no longer needed', 'stop waiting'],
};

/** Fills `{name}` placeholders. */
export function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}
