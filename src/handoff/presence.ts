/**
 * Which agents are online, the same on every instance: each instance counts the consoles connected to
 * it, publishes that on the event bus when it changes and as a heartbeat, and keeps what the others
 * published. An instance that stops sending heartbeats (killed, cut off) stops counting once its last
 * one is older than the expiry; one that shuts down properly says so and stops counting at once.
 * The wait estimates and "no agent is online" depend on this count, so it must not include ghosts.
 */
import { z } from 'zod';
import type { EventBus } from '../engine/bus.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';

/** The bus topic of presence messages. */
export const PRESENCE_TOPIC = 'handoff.presence';
/** How often an instance with agents connected repeats its state. */
export const PRESENCE_HEARTBEAT_MS = 10_000;
/** How long another instance's state counts after its last heartbeat (three heartbeats: one lost NOTIFY is not enough to drop it). */
export const PRESENCE_EXPIRY_MS = 30_000;

/** What instances tell each other: their agents (with console counts), that they leave, or a newcomer's "who is online?". */
const PresenceMessage = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('state'), instance: z.string(), agents: z.record(z.string(), z.number().int().positive()) }),
  z.object({ kind: z.literal('leave'), instance: z.string() }),
  z.object({ kind: z.literal('query'), instance: z.string() }),
]);
type PresenceMessage = z.infer<typeof PresenceMessage>;

export interface AgentPresenceOptions {
  bus: EventBus;
  /** This instance's id in presence messages (unique per hub). */
  instanceId: string;
  clock: Clock;
  logger: Logger;
  /** Called with the agents online everywhere whenever that set changes. */
  onChange(agentsOnline: string[]): void;
  heartbeatMs?: number;
  expiryMs?: number;
}

/** Agents online across instances: local console counts plus every live instance's last heartbeat. */
export class AgentPresence {
  private readonly local = new Map<string, number>();
  private readonly remote = new Map<string, { agents: Record<string, number>; seenAt: number }>();
  private readonly expiryMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private reported: string[] = [];
  private closed = false;

  constructor(private readonly options: AgentPresenceOptions) {
    this.expiryMs = options.expiryMs ?? PRESENCE_EXPIRY_MS;
    this.unsubscribe = options.bus.subscribe(PRESENCE_TOPIC, (m: unknown) => this.received(m));
    this.timer = setInterval(() => this.tick(), options.heartbeatMs ?? PRESENCE_HEARTBEAT_MS);
    this.timer.unref();
    this.send({ kind: 'query', instance: options.instanceId }); // the others answer with their state: a new instance counts them at once
  }

  /** Marks an agent online while a console is connected; returns the release function (idempotent). */
  connect(agentId: string): () => void {
    this.local.set(agentId, (this.local.get(agentId) ?? 0) + 1);
    this.announce();
    this.changed();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.local.get(agentId) ?? 1) - 1;
      if (n <= 0) this.local.delete(agentId);
      else this.local.set(agentId, n);
      if (!this.closed) this.announce();
      this.changed();
    };
  }

  /** Agent ids online on any live instance: this instance's first, in the order they connected. */
  online(): string[] {
    const ids = new Set(this.local.keys());
    const oldest = this.options.clock.now().getTime() - this.expiryMs;
    for (const r of this.remote.values()) if (r.seenAt > oldest) for (const id of Object.keys(r.agents)) ids.add(id);
    return [...ids];
  }

  /** Stops the heartbeat and tells the other instances to stop counting this one's agents. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.send({ kind: 'leave', instance: this.options.instanceId });
    this.unsubscribe();
  }

  private tick(): void {
    if (this.local.size > 0) this.announce();
    const oldest = this.options.clock.now().getTime() - this.expiryMs;
    for (const [instance, r] of this.remote) {
      if (r.seenAt > oldest) continue;
      this.remote.delete(instance);
      this.options.logger.info('agents of an instance that stopped sending heartbeats no longer count', { instance, agents: Object.keys(r.agents) });
    }
    this.changed();
  }

  private announce(): void {
    this.send({ kind: 'state', instance: this.options.instanceId, agents: Object.fromEntries(this.local) });
  }

  private send(message: PresenceMessage): void {
    this.options.bus.publish(PRESENCE_TOPIC, message).catch((err) => this.options.logger.warn('presence not published', { error: (err as Error).message }));
  }

  private received(raw: unknown): void {
    const parsed = PresenceMessage.safeParse(raw);
    if (!parsed.success) return this.options.logger.warn('presence: ignored a malformed message', { error: parsed.error.message });
    const m = parsed.data;
    if (m.instance === this.options.instanceId || this.closed) return;
    if (m.kind === 'query') {
      if (this.local.size > 0) this.announce();
      return;
    }
    if (m.kind === 'leave' || Object.keys(m.agents).length === 0) this.remote.delete(m.instance);
    else this.remote.set(m.instance, { agents: m.agents, seenAt: this.options.clock.now().getTime() });
    this.changed();
  }

  /** Reports the union when it differs from the last one reported. */
  private changed(): void {
    const now = this.online();
    const before = new Set(this.reported);
    if (now.length === before.size && now.every((id) => before.has(id))) return;
    this.reported = now;
    this.options.onChange(now);
  }
}
