/**
 * Live events between the parts of a server and, with PostgreSQL, between instances: the agent
 * console's queue and message events, agent presence, and web chat activities for sockets another
 * instance holds. One interface, two implementations: `LocalEventBus` (one process) and `PgEventBus`
 * (LISTEN/NOTIFY, src/storage/postgres/event-bus.ts).
 *
 * Delivery is at most once and only to instances connected at the time: a bus says "look again",
 * the stores hold the truth (a reconnecting client reads what it missed from them).
 */
import { EventEmitter } from 'node:events';

/** A handler for one topic; a throw is logged by the bus and does not reach other handlers. */
export type BusHandler = (payload: any) => void;

export interface EventBus {
  /** Delivers `payload` (JSON-serialisable) to every subscriber of `topic` on every instance, this one included. */
  publish(topic: string, payload: unknown): Promise<void>;
  /** Listens to `topic`; returns the function that stops listening. */
  subscribe(topic: string, handler: BusHandler): () => void;
  close(): Promise<void>;
}

/** The bus of a single process: subscribers are called synchronously, in the order they subscribed. */
export class LocalEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  constructor(private readonly onError: (topic: string, err: unknown) => void = () => undefined) {}

  async publish(topic: string, payload: unknown): Promise<void> {
    this.deliver(topic, payload);
  }

  /** Calls this process's subscribers now (PgEventBus uses it for its own and for remote messages). */
  deliver(topic: string, payload: unknown): void {
    for (const handler of this.emitter.listeners(topic) as BusHandler[]) {
      try {
        handler(payload);
      } catch (err) {
        this.onError(topic, err);
      }
    }
  }

  subscribe(topic: string, handler: BusHandler): () => void {
    this.emitter.on(topic, handler);
    return () => this.emitter.off(topic, handler);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
