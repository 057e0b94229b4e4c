/**
 * The hub's live events on an event bus, so every agent console hears what happens on any instance:
 * queue entries, claims, transfers, resolves, notes, customer and agent messages. Each event is
 * published once with the id of the hub that made it; the hub hears the others' events through
 * `onRemote` (to keep its caches right) and every event reaches this instance's listeners once.
 *
 * Presence is not published as an event: each instance derives it from the presence heartbeats
 * (presence.ts) and tells only its own listeners, so a console hears one presence event per change.
 */
import type { Activity } from 'botbuilder';
import { z } from 'zod';
import type { EventBus } from '../engine/bus.js';
import type { Logger } from '../log.js';
import type { ConversationRecord } from './queue-store.js';

/** What the console hears, live. */
export type HubEvent =
  | {
      type: 'conversation';
      change: 'seen' | 'queued' | 'summarized' | 'claimed' | 'transferred' | 'resolved' | 'cancelled' | 'noted';
      conversation: ConversationRecord;
    }
  | { type: 'message'; conversationId: string; activity: Partial<Activity> }
  /** The customer is typing (web chat), for the console's "Customer is typing…"; never stored. */
  | { type: 'typing'; conversationId: string; from: 'customer' }
  | { type: 'presence'; agentsOnline: string[] };

/** The bus topic of the hub's conversation and message events. */
export const HUB_EVENTS_TOPIC = 'handoff.events';

/**
 * The envelope as it arrives from any instance. Only its shape is checked: the instances share one
 * database and one version of this code, and the console renders the record as the store holds it.
 */
const HubEventMessage = z.object({
  origin: z.string(),
  event: z.union([
    z.looseObject({
      type: z.literal('conversation'),
      change: z.string(),
      conversation: z.looseObject({ id: z.string(), owner: z.string(), version: z.number() }),
    }),
    z.looseObject({ type: z.literal('message'), conversationId: z.string(), activity: z.looseObject({}) }),
    z.looseObject({ type: z.literal('typing'), conversationId: z.string(), from: z.literal('customer') }),
  ]),
});

/** Publishes hub events on the bus and hands every event, from any instance, to this instance's listeners. */
export class HubEventStream {
  private readonly listeners = new Set<(e: HubEvent) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly bus: EventBus,
    /** This hub's id: events it published are not "remote". */
    private readonly origin: string,
    private readonly logger: Logger,
    /** Called before the listeners for each event another instance made. */
    private readonly onRemote: (e: HubEvent) => void,
  ) {
    this.unsubscribe = bus.subscribe(HUB_EVENTS_TOPIC, (raw: unknown) => this.received(raw));
  }

  /** Sends a conversation or message event to every instance, this one included (synchronously, for this one). */
  publish(e: Exclude<HubEvent, { type: 'presence' }>): void {
    this.bus
      .publish(HUB_EVENTS_TOPIC, { origin: this.origin, event: e })
      .catch((err) => this.logger.warn('hub event not published', { type: e.type, error: (err as Error).message }));
  }

  /** Hands an event to this instance's listeners only. */
  deliver(e: HubEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.logger.warn('hub listener failed', { error: (err as Error).message });
      }
    }
  }

  subscribe(listener: (e: HubEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private received(raw: unknown): void {
    const parsed = HubEventMessage.safeParse(raw);
    if (!parsed.success) return this.logger.warn('hub events: ignored a malformed message', { error: parsed.error.message });
    // Our own events arrive as the very object we published (the bus delivers locally without copying).
    const event = (raw as { event: HubEvent }).event;
    if (parsed.data.origin !== this.origin) {
      try {
        this.onRemote(event);
      } catch (err) {
        this.logger.warn('hub: a remote event could not be applied', { error: (err as Error).message });
      }
    }
    this.deliver(event);
  }
}
