/**
 * What every Switchboard channel adapter has in common with the server: it is a botbuilder
 * `BotAdapter` that mounts its own HTTP routes and runs the bot logic for each inbound activity.
 */
import type { Server } from 'restify';
import { ActivityTypes, INVOKE_RESPONSE_KEY, type Activity, type TurnContext } from 'botbuilder';

/** The bot's turn handler, as passed to botbuilder's `adapter.process(..., logic)`. */
export type BotLogic = (context: TurnContext) => Promise<void>;

/** An adapter that serves its channel's routes on the Switchboard server. */
export interface MountableAdapter {
  /** The botbuilder `channelId` of the activities it produces: `webchat`, `messenger`, `whatsapp`. */
  readonly channelId: string;
  /** Adds the channel's routes to `server`; every inbound activity runs `logic` through the adapter's middleware. */
  mount(server: Server, logic: BotLogic): void;
  /** Stops timers, sockets and open files. */
  close?(): Promise<void>;
}

/**
 * The reply window of one conversation on a platform that has one (Messenger, WhatsApp); the agent
 * console shows it as a countdown, and a send outside it fails with `ReplyWindowClosedError`.
 */
export interface ReplyWindow {
  channelId: string;
  lastCustomerMessageAt?: Date;
  /** Until when automated (bot) messages may be sent. */
  botClosesAt?: Date;
  /** Until when a human agent's reply may be sent (Messenger HUMAN_AGENT: 7 days; WhatsApp: same as bot). */
  agentClosesAt?: Date;
}

/**
 * Marks an outgoing activity as written by a human agent (`activity.channelData.switchboard`), so the
 * handoff middleware lets it through while a human owns the conversation and Messenger may send it
 * with the HUMAN_AGENT tag.
 */
export interface AgentMark {
  agentId: string;
  agentName: string;
}
export function agentMarkOf(activity: { channelData?: any }): AgentMark | undefined {
  return activity.channelData?.switchboard?.agent;
}

/**
 * The activities a bot sends that no channel delivers, handled as botbuilder's own adapters do:
 * `delay` waits (`value` ms, default 1 s), `invokeResponse` is kept in turnState for the HTTP answer,
 * `trace` is for the Emulator only. Returns true when `activity` was one of them (its id is then '').
 */
export async function handleAdapterOnlyActivity(context: TurnContext, activity: Partial<Activity>, sleep: (ms: number) => Promise<void>): Promise<boolean> {
  switch (activity.type) {
    case 'delay':
      await sleep(typeof activity.value === 'number' ? activity.value : 1000);
      return true;
    case ActivityTypes.InvokeResponse:
      context.turnState.set(INVOKE_RESPONSE_KEY, activity);
      return true;
    case ActivityTypes.Trace:
      return true;
    default:
      return false;
  }
}
