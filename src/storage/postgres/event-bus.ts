/**
 * Live events between instances over PostgreSQL LISTEN/NOTIFY, so an agent console on one instance
 * hears the queue entry made on another and a web chat socket held by one instance receives the reply
 * posted on another.
 *
 * One dedicated connection per process (not from the pool: a pooled connection is handed to other
 * queries and its LISTEN would be lost) listens on one channel; every topic travels inside the payload,
 * because channel names are SQL identifiers and topics are arbitrary strings. `publish` delivers to
 * this process's subscribers at once and NOTIFYs the others, marked with this instance's id so the
 * sender does not hear its own message twice. A payload larger than NOTIFY allows goes through the
 * `bus_messages` table (migration 0008) and the NOTIFY carries its row id.
 *
 * When the connection drops (PostgreSQL restarted, the backend killed), the bus reconnects with
 * backoff and LISTENs again; meanwhile `publish` still delivers locally, logs that the other instances
 * missed it, and `connected` (and the `events` health check) says so. Messages published while a
 * listener was disconnected are not replayed: the stores hold the truth (see src/engine/bus.ts).
 *
 * @example
 *   const db = await Database.open(config.databaseUrl, { logger });
 *   const bus = await PgEventBus.open(db, { logger: logger.child('events') });
 *   const hub = new HandoffHub({ store, bus, ... });
 *   // shutdown: await hub.close(); await bus.close(); await db.close();
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { LocalEventBus, type BusHandler, type EventBus } from '../../engine/bus.js';
import type { HealthCheck } from '../../server.js';
import { silentLogger, type Logger } from '../../log.js';
import { isUnavailable, toDatabaseError, type Database } from './database.js';

/** The one LISTEN channel every instance of Switchboard shares (topics are inside the payload). */
export const BUS_CHANNEL = 'switchboard_events';

/**
 * Largest NOTIFY payload sent as is, in bytes. PostgreSQL refuses payloads of 8000 bytes or more
 * (https://www.postgresql.org/docs/current/sql-notify.html); anything larger goes through `bus_messages`.
 */
export const MAX_NOTIFY_BYTES = 7900;

/** What travels in a NOTIFY: origin instance, topic, and the payload itself or the id of its `bus_messages` row. */
interface Envelope {
  o: string;
  t: string;
  p?: unknown;
  r?: string;
}

export interface PgEventBusOptions {
  /** Names this process in every message (default: a random UUID); messages with our own id are not delivered twice. */
  instanceId?: string;
  logger?: Logger;
  /** First reconnect delay (default 200 ms); doubles on each failed attempt up to `reconnectMaxMs`. */
  reconnectMinMs?: number;
  /** Longest reconnect delay (default 10 s). */
  reconnectMaxMs?: number;
  /** How long rows of large messages are kept for slow readers before they are deleted (default 5 min). */
  retainMs?: number;
}

/** An `EventBus` across every instance connected to one PostgreSQL database. */
export class PgEventBus implements EventBus {
  readonly instanceId: string;
  private readonly logger: Logger;
  private readonly local: LocalEventBus;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly retainMs: number;
  private client?: pg.Client;
  private pid?: number;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  private attempts = 0;
  private disconnectedAt?: Date;
  /** Messages other instances missed since the connection dropped (logged once reconnected). */
  private missed = 0;
  /** Remote messages are delivered in the order they were notified, even when one must be read from the table first. */
  private inbound: Promise<void> = Promise.resolve();
  /** Publications waiting for the listening connection, sent one at a time in order. */
  private outbound: Promise<void> = Promise.resolve();
  private lastPrune = 0;

  private constructor(
    private readonly db: Database,
    options: PgEventBusOptions,
  ) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
    this.reconnectMinMs = options.reconnectMinMs ?? 200;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 10_000;
    this.retainMs = options.retainMs ?? 5 * 60_000;
    this.local = new LocalEventBus((topic, err) => this.logger.error('event handler failed', { topic, error: (err as Error).message }));
  }

  /** Opens the listening connection; throws `DatabaseUnavailableError` when PostgreSQL cannot be reached. */
  static async open(db: Database, options: PgEventBusOptions = {}): Promise<PgEventBus> {
    const bus = new PgEventBus(db, options);
    await bus.listen();
    bus.prune();
    return bus;
  }

  /** Whether the other instances hear what this one publishes right now. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /** The server process id of the listening connection (what `pg_terminate_backend` takes), while connected. */
  get backendPid(): number | undefined {
    return this.client ? this.pid : undefined;
  }

  /**
   * Delivers to this process's subscribers synchronously, then NOTIFYs the other instances. Never
   * rejects: a failure to reach them is logged and shows in `connected` and the health check.
   */
  async publish(topic: string, payload: unknown): Promise<void> {
    this.local.deliver(topic, payload);
    if (this.closed) return;
    let text: string;
    let large: string | undefined;
    try {
      // Serialised now: what the other instances receive is the payload as it was when published.
      text = JSON.stringify({ o: this.instanceId, t: topic, p: payload } satisfies Envelope);
      if (Buffer.byteLength(text) > MAX_NOTIFY_BYTES) large = JSON.stringify(payload ?? null);
    } catch (err) {
      this.logger.error('event not published: its payload is not JSON', { topic, error: (err as Error).message });
      return;
    }
    // One NOTIFY at a time, in order, on the listening connection (pg queues no concurrent queries for us).
    const sent = this.outbound.then(() => this.send(topic, text, large));
    this.outbound = sent;
    return sent;
  }

  private async send(topic: string, text: string, large: string | undefined): Promise<void> {
    const client = this.client;
    if (!client) return this.lost(topic, 'not connected to PostgreSQL; reconnecting');
    try {
      if (large === undefined) {
        await client.query('SELECT pg_notify($1, $2)', [BUS_CHANNEL, text]);
      } else {
        await client.query(
          `WITH m AS (INSERT INTO bus_messages (origin, topic, payload) VALUES ($1, $2, $3::json) RETURNING id)
           SELECT pg_notify($4, json_build_object('o', $1::text, 't', $2::text, 'r', m.id::text)::text) FROM m`,
          [this.instanceId, topic, large, BUS_CHANNEL],
        );
        this.prune();
      }
    } catch (err) {
      this.lost(topic, (err as Error).message);
      if (isUnavailable(err) || /timeout/i.test((err as Error).message)) this.dropped(client, err); // a stuck connection is replaced too
    }
  }

  subscribe(topic: string, handler: BusHandler): () => void {
    return this.local.subscribe(topic, handler);
  }

  /** `/healthz` check named `events`: whether this instance hears and reaches the others. */
  healthCheck(): HealthCheck {
    return {
      name: 'events',
      check: () =>
        this.connected
          ? { ok: true, backend: 'postgresql', instanceId: this.instanceId }
          : {
              ok: false,
              backend: 'postgresql',
              instanceId: this.instanceId,
              error: 'not listening; reconnecting',
              disconnectedAt: this.disconnectedAt?.toISOString(),
              missed: this.missed,
            },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await this.outbound; // what was published before close still goes out (e.g. the hub's "leaving")
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    await this.inbound;
    await this.local.close();
  }

  // ---- the listening connection --------------------------------------------------------------

  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.db.url,
      application_name: 'switchboard-events',
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      query_timeout: 10_000,
    });
    client.on('notification', (msg) => this.received(msg));
    client.on('error', (err) => this.dropped(client, err));
    client.on('end', () => this.dropped(client, new Error('the connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${BUS_CHANNEL}`);
      this.pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw toDatabaseError(err, 'PgEventBus.listen');
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.attempts = 0;
    if (this.disconnectedAt) {
      this.logger.info('event bus reconnected', { instanceId: this.instanceId, downMs: Date.now() - this.disconnectedAt.getTime(), missed: this.missed });
      this.disconnectedAt = undefined;
      this.missed = 0;
    }
  }

  /** The connection is gone (or failing): forget it and try again with backoff. */
  private dropped(client: pg.Client, err: unknown): void {
    if (client !== this.client) return; // an old connection's late error, or one that never finished opening
    this.client = undefined;
    this.disconnectedAt = new Date();
    client.end().catch(() => undefined);
    if (this.closed) return;
    this.logger.warn('event bus disconnected; other instances will not hear this one until it reconnects', {
      instanceId: this.instanceId,
      error: (err as Error).message,
    });
    this.reconnect();
  }

  private reconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const base = Math.min(this.reconnectMaxMs, this.reconnectMinMs * 2 ** this.attempts++);
    const delay = base / 2 + Math.random() * (base / 2); // jitter, so restarted instances do not reconnect in step
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.listen().catch((err) => {
        this.logger.debug('event bus reconnect failed', { error: (err as Error).message, attempt: this.attempts });
        this.reconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private lost(topic: string, why: string): void {
    if (this.missed++ === 0) this.logger.warn('event not delivered to other instances', { topic, error: why });
  }

  // ---- receiving -----------------------------------------------------------------------------

  private received(msg: pg.Notification): void {
    if (msg.channel !== BUS_CHANNEL || !msg.payload) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(msg.payload) as Envelope;
    } catch {
      this.logger.warn('event bus: ignored a notification that is not JSON', { channel: msg.channel });
      return;
    }
    if (envelope.o === this.instanceId || typeof envelope.t !== 'string') return; // ours: delivered when published
    this.inbound = this.inbound.then(async () => {
      if (this.closed) return;
      if (envelope.r === undefined) return this.local.deliver(envelope.t, envelope.p);
      try {
        const { rows } = await this.db.query<{ payload: unknown }>('SELECT payload FROM bus_messages WHERE id = $1', [envelope.r], 'PgEventBus.receive');
        if (rows[0]) this.local.deliver(envelope.t, rows[0].payload);
        else this.logger.warn('event bus: a large message was deleted before it was read', { topic: envelope.t, id: envelope.r });
      } catch (err) {
        this.logger.warn('event bus: could not read a large message', { topic: envelope.t, id: envelope.r, error: (err as Error).message });
      }
    });
  }

  /** Deletes rows every instance has had time to read (at most once a minute). */
  private prune(): void {
    const now = Date.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    this.db
      .query(`DELETE FROM bus_messages WHERE created_at < now() - $1 * interval '1 millisecond'`, [this.retainMs], 'PgEventBus.prune')
      .catch((err) => this.logger.warn('event bus: old messages not pruned', { error: (err as Error).message }));
  }
}
