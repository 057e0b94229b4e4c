/**
 * What the operator's monitoring scrapes at `GET /metrics` (Prometheus text format, prom-client):
 * turns and reply times per channel, the bot's decisions, handoffs, the queue, the Graph API's errors
 * and retries, Direct Line streams. Each app has its own `Registry` (several apps in one test process
 * must not share counters); a scrape adds prom-client's default process metrics, collected once per
 * process (they describe the process, and each collector starts an event-loop monitor that never stops).
 *
 * The plugins see only the small hook interfaces below (`TurnMetrics`, `GraphMetrics`, `BotMetrics`),
 * as an optional dependency: a plugin used in another bot without metrics calls nothing.
 *
 * Labels are bounded sets: a channel id outside the known three is `other`, reasons and decisions are
 * our own enums. Never a conversation id or a customer's words (every value is a new series).
 *
 * @example
 *   const metrics = new Metrics({ logger });
 *   metrics.watchQueue(backend.queue, ['webchat', 'whatsapp']);
 *   createServer({ logger, metrics: { metrics, token: config.metricsToken, trustProxy: config.trustProxy } });
 * @see https://prometheus.io/docs/practices/naming/
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'restify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { silentLogger, type Logger } from '../log.js';
import { requestInfo } from '../security/proxy.js';
import type { ConversationRecord, QueueStore } from '../handoff/queue-store.js';

/** Channels that get their own label value; anything else is counted as `other`. */
export const METRIC_CHANNELS = ['webchat', 'messenger', 'whatsapp'] as const;
const HANDOFF_REASONS = new Set(['customer-asked', 'two-misses', 'not-helpful', 'entry-handoff', 'agent-takeover']);
const DECISIONS = new Set(['answer', 'suggest', 'miss']);
const POSTED_TYPES = new Set(['message', 'typing', 'event', 'conversationUpdate']);
/** Owners counted by the queue gauge (a conversation with the bot is not waiting for anyone). */
const QUEUE_OWNERS = ['queued', 'assigned'] as const;

/** A turn from start to done: most take tens of ms; the top buckets catch storage stalls and Graph retries. */
export const TURN_DURATION_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Customer message accepted → the bot's first reply sent: includes waiting for a turn slot and Graph backoff. */
export const REPLY_LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 180];

/** How a turn ended: `replayed` is a turn run again after a crash (it had sent before), `failed` threw or could not be recorded. */
export type TurnOutcome = 'ok' | 'failed' | 'replayed';
/** Graph API failures by kind: `throttled` is 429 or Meta's throttling codes; `network` a timeout or a refused connection. */
export type GraphErrorClass = 'throttled' | '4xx' | '5xx' | 'network';

/** What the turn engine and the web chat adapter report (`TurnEngineOptions.metrics`). */
export interface TurnMetrics {
  /** A turn begins; the returned function ends it with its outcome. */
  turnStarted(channel: string): (outcome: TurnOutcome) => void;
  /** The bot's first reply to a customer message went out, `ms` after the message was accepted. */
  firstReply(channel: string, ms: number): void;
  /** A Direct Line WebSocket opened; the returned function is called once when it closes. */
  streamOpened(channel: string): () => void;
  /** A Direct Line client posted an activity (`type` as posted). */
  activityPosted(channel: string, type: string | undefined): void;
}

/** What `GraphClient` reports, per HTTP attempt. */
export interface GraphMetrics {
  graphRequest(channel: string): void;
  graphError(channel: string, kind: GraphErrorClass): void;
  graphRetry(channel: string): void;
}

/** What a channel adapter reports (`TurnEngineOptions.metrics`): its turns, and the Meta channels their Graph API calls. */
export type ChannelMetrics = TurnMetrics & GraphMetrics;

/** What `FaqBot` reports once per message turn: the decision noted during it, if any. */
export interface BotMetrics {
  botDecision(channel: string | undefined, decision: string | undefined): void;
}

let processRegistry: Registry | undefined;
/** prom-client's default metrics (CPU, memory, event loop, GC) on a registry of their own, made once. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

const channelLabel = (channel: string | undefined): string => ((METRIC_CHANNELS as readonly string[]).includes(channel ?? '') ? channel! : 'other');
const within = (value: string | undefined, known: Set<string>): string => (value && known.has(value) ? value : 'other');

/** The metrics of one app, on its own registry. */
export class Metrics implements TurnMetrics, GraphMetrics, BotMetrics {
  readonly registry = new Registry();
  private readonly logger: Logger;
  private readonly turns: Counter<'channel' | 'outcome'>;
  private readonly turnSeconds: Histogram<'channel'>;
  private readonly replySeconds: Histogram<'channel'>;
  private readonly decisions: Counter<'channel' | 'decision'>;
  private readonly handoffs: Counter<'channel' | 'reason'>;
  private readonly claims: Counter<'channel'>;
  private readonly resolves: Counter<'channel'>;
  private readonly graphRequests: Counter<'channel'>;
  private readonly graphErrors: Counter<'channel' | 'class'>;
  private readonly graphRetries: Counter<'channel'>;
  private readonly streams: Gauge<'channel'>;
  private readonly posted: Counter<'channel' | 'type'>;
  private readonly backlogs = new Map<string, () => number>();

  constructor(options: { logger?: Logger } = {}) {
    this.logger = options.logger ?? silentLogger;
    const registers = [this.registry];
    processMetrics(); // from the first app on, so the event-loop and GC figures cover the process's whole life
    this.turns = new Counter({ name: 'switchboard_turns_total', help: 'Inbound turns run, by channel and outcome (ok, failed, replayed after a crash).', labelNames: ['channel', 'outcome'], registers });
    this.turnSeconds = new Histogram({ name: 'switchboard_turn_duration_seconds', help: 'Time one inbound turn takes, from its start to its record being written.', labelNames: ['channel'], buckets: TURN_DURATION_BUCKETS_S, registers });
    this.replySeconds = new Histogram({ name: 'switchboard_reply_latency_seconds', help: "Customer message accepted to the bot's first reply sent.", labelNames: ['channel'], buckets: REPLY_LATENCY_BUCKETS_S, registers });
    this.decisions = new Counter({ name: 'switchboard_bot_decisions_total', help: 'What the bot did with a customer message: answer, suggest or miss.', labelNames: ['channel', 'decision'], registers });
    this.handoffs = new Counter({ name: 'switchboard_handoffs_total', help: 'Conversations handed to a person, by reason.', labelNames: ['channel', 'reason'], registers });
    this.claims = new Counter({ name: 'switchboard_claims_total', help: 'Conversations an agent took.', labelNames: ['channel'], registers });
    this.resolves = new Counter({ name: 'switchboard_resolves_total', help: 'Conversations an agent resolved (back to the bot).', labelNames: ['channel'], registers });
    this.graphRequests = new Counter({ name: 'switchboard_graph_requests_total', help: 'Graph API HTTP attempts (each retry is one more).', labelNames: ['channel'], registers });
    this.graphErrors = new Counter({ name: 'switchboard_graph_errors_total', help: 'Graph API attempts that failed, by class: throttled, 4xx, 5xx, network.', labelNames: ['channel', 'class'], registers });
    this.graphRetries = new Counter({ name: 'switchboard_graph_retries_total', help: 'Graph API attempts made again after a transient failure.', labelNames: ['channel'], registers });
    this.streams = new Gauge({ name: 'switchboard_directline_streams_open', help: 'Direct Line WebSocket streams open on this instance.', labelNames: ['channel'], registers });
    this.posted = new Counter({ name: 'switchboard_directline_activities_posted_total', help: 'Activities Direct Line clients posted, by type.', labelNames: ['channel', 'type'], registers });
    const backlogs = this.backlogs;
    new Gauge({
      name: 'switchboard_inbox_backlog',
      help: 'Customer messages this instance accepted and has not run yet.',
      labelNames: ['channel'],
      registers,
      collect() {
        for (const [channel, read] of backlogs) this.set({ channel }, read());
      },
    });
  }

  /** The exposition text of a scrape: this app's metrics and the process's. */
  scrape(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }

  /** The counters a channel shows as 0 before anything happened (a dashboard then has a series to plot). */
  channels(channels: string[]): void {
    for (const channel of channels.map(channelLabel)) {
      for (const outcome of ['ok', 'failed', 'replayed']) this.turns.inc({ channel, outcome }, 0);
      this.claims.inc({ channel }, 0);
      this.resolves.inc({ channel }, 0);
    }
  }

  turnStarted(channel: string): (outcome: TurnOutcome) => void {
    const label = channelLabel(channel);
    const end = this.turnSeconds.startTimer({ channel: label });
    return (outcome) => {
      end();
      this.turns.inc({ channel: label, outcome });
    };
  }

  firstReply(channel: string, ms: number): void {
    this.replySeconds.observe({ channel: channelLabel(channel) }, Math.max(0, ms) / 1000);
  }

  streamOpened(channel: string): () => void {
    const labels = { channel: channelLabel(channel) };
    this.streams.inc(labels);
    let open = true;
    return () => {
      if (open) this.streams.dec(labels);
      open = false;
    };
  }

  activityPosted(channel: string, type: string | undefined): void {
    this.posted.inc({ channel: channelLabel(channel), type: within(type, POSTED_TYPES) });
  }

  graphRequest(channel: string): void {
    this.graphRequests.inc({ channel: channelLabel(channel) });
  }

  graphError(channel: string, kind: GraphErrorClass): void {
    this.graphErrors.inc({ channel: channelLabel(channel), class: kind });
  }

  graphRetry(channel: string): void {
    this.graphRetries.inc({ channel: channelLabel(channel) });
  }

  botDecision(channel: string | undefined, decision: string | undefined): void {
    if (decision) this.decisions.inc({ channel: channelLabel(channel), decision: within(decision, DECISIONS) });
  }

  /** The hub's own conversation changes (`HandoffHubOptions.observe`): each change is counted once, by the instance that made it. */
  readonly hubChange = (change: string, r: ConversationRecord): void => {
    const channel = channelLabel(r.channelId);
    if (change === 'queued') this.handoffs.inc({ channel, reason: within(r.reason ?? 'customer-asked', HANDOFF_REASONS) });
    if (change === 'claimed') {
      // An agent taking over a live bot conversation never passes through the queue: its handoff is the claim.
      if (r.reason === 'agent-takeover' && r.queuedAt === r.assignedAt) this.handoffs.inc({ channel, reason: 'agent-takeover' });
      this.claims.inc({ channel });
    }
    if (change === 'resolved') this.resolves.inc({ channel });
  };

  /**
   * Counts the queue at scrape time (`QueueStore.countOpen`: a count, never the records). When the
   * store cannot answer (the database is down) the gauge is left out of that scrape rather than
   * showing 0, and `/healthz` says why.
   */
  watchQueue(queue: Pick<QueueStore, 'countOpen'>, channels: string[]): void {
    const logger = this.logger;
    new Gauge({
      name: 'switchboard_queue_conversations',
      help: 'Conversations waiting for an agent (queued) or with one (assigned), across all instances.',
      labelNames: ['channel', 'owner'],
      registers: [this.registry],
      async collect() {
        this.reset();
        try {
          const counts = await queue.countOpen();
          for (const channel of channels.map(channelLabel)) for (const owner of QUEUE_OWNERS) this.set({ channel, owner }, 0);
          for (const c of counts) if ((QUEUE_OWNERS as readonly string[]).includes(c.owner)) this.inc({ channel: channelLabel(c.channelId), owner: c.owner }, c.count);
        } catch (err) {
          logger.warn('metrics: could not count the queue', { error: (err as Error).message });
        }
      },
    });
  }

  /** Reads a channel's inbox backlog (`TurnEngineAdapter.backlog`) at scrape time. */
  watchBacklog(channel: string, read: () => number): void {
    this.backlogs.set(channelLabel(channel), read);
  }
}

/** How `/metrics` is guarded (`ServerOptions.metrics`). */
export interface MetricsRouteOptions {
  metrics: Metrics;
  /** Config.metricsToken: when set, `Authorization: Bearer <token>` is required; unset, only loopback requests are answered. */
  token?: string;
  /** Config.trustProxy: with 0, a request carrying forwarding headers came through a proxy and is not treated as local. */
  trustProxy: number;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Whether the request comes from this machine. Behind trusted proxies (`TRUST_PROXY` > 0) the client
 * address is the one they forwarded, so a public request through the proxy is not local. With
 * `TRUST_PROXY=0` the peer is believed, except that a request carrying forwarding headers was relayed
 * by a proxy on this host and may come from anywhere.
 */
export function isLocalRequest(req: IncomingMessage, trustProxy: number): boolean {
  if (!LOOPBACK.test(requestInfo(req).address)) return false;
  return trustProxy > 0 || !FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined);
}

/** The `GET /metrics` handler: the registry in Prometheus text format, behind the token or the loopback rule. */
export function metricsHandler(options: MetricsRouteOptions) {
  const expected = options.token ? digest(options.token) : undefined;
  return async (req: Request, res: Response) => {
    if (expected) {
      const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      // Compared as digests: equal lengths for timingSafeEqual, and no timing hint of the token's length.
      if (!given || !timingSafeEqual(digest(given), expected)) {
        res.setHeader('www-authenticate', 'Bearer realm="metrics"');
        return res.json(401, { code: 'Unauthorized', message: '/metrics: send Authorization: Bearer <METRICS_TOKEN>' });
      }
    } else if (!isLocalRequest(req, options.trustProxy)) {
      return res.json(403, { code: 'Forbidden', message: '/metrics answers only requests from this machine; set METRICS_TOKEN to scrape it from elsewhere' });
    }
    const body = await options.metrics.scrape();
    res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
    res.end(body);
  };
}
