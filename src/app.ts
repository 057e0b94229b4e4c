/**
 * The composition of the ready server: config → storage → knowledge → adapters → bot → server.
 * `main.ts` builds it from the environment; end-to-end tests and benchmarks build it with their own
 * config (port 0, temp folders, a fake Graph API).
 */
import type { AddressInfo } from 'node:net';
import { ConversationState, UserState, type Activity, type BotAdapter, type TurnContext } from 'botbuilder';
import type restify from 'restify';
import type { Config } from './config.js';
import { systemClock, type Clock } from './clock.js';
import { createLogger, type Logger } from './log.js';
import { LISTEN_BACKLOG, createServer } from './server.js';
import { TurnSafeTranscriptLogger } from './storage/index.js';
import { ensurePrivateDir, tightenPrivateModesOnce } from './storage/files.js';
import { openBackend, type AppTranscriptStore, type Backend } from './backend.js';
import { KnowledgeBase } from './knowledge/knowledge-base.js';
import { QuestionRecorder } from './knowledge/questions-store.js';
import { ReloadDiffs } from './knowledge/reload-diff.js';
import { FaqBot } from './bot/faq-bot.js';
import { InsightsStore } from './bot/insights.js';
import { CsatSurvey } from './bot/csat.js';
import { t } from './bot/strings.js';
import { HandoffHub, type ChannelAdapter } from './handoff/hub.js';
import { HandoffMiddleware } from './handoff/middleware.js';
import { BusinessHours } from './handoff/business-hours.js';
import { warmUpSummary } from './handoff/summary.js';
import type { AgentAccountStore } from './agent/accounts.js';
import { mountAgentApi } from './agent/api.js';
import { mountDemoPage } from './web/demo-page.js';
import { AnalyticsRecorder, analyticsReporter } from './analytics/index.js';
import { Metrics } from './ops/metrics.js';
import { TurnEngineAdapter } from './engine/turn-engine.js';
import { WebChatAdapter, activityRateLimitsFor, loadOrCreateDirectLineSecret } from '../adapters/webchat/index.js';
import { MessengerAdapter } from '../adapters/messenger/index.js';
import { WhatsAppAdapter } from '../adapters/whatsapp/index.js';
import type { FetchLike, RetryOptions } from '../adapters/shared/graph-client.js';
import type { MountableAdapter } from './engine/channel.js';

export interface AppOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
  /** Graph API client for the Meta channels (tests and benchmarks may inject one). */
  fetch?: FetchLike;
  /** Backoff waits of the Meta channels (tests inject one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  /** Graph API retry policy of the Meta channels (fault tests shorten it; default GraphClient's). */
  retry?: RetryOptions;
  /** Watch the knowledge folder (default true). */
  watchKnowledge?: boolean;
}

/** The running pieces, for main.ts, tests and benchmarks. */
export interface App {
  server: restify.Server;
  knowledge: KnowledgeBase;
  hub: HandoffHub;
  accounts: AgentAccountStore;
  transcripts: AppTranscriptStore;
  /** Files in DATA_DIR or PostgreSQL (DATABASE_URL), with this process's instance id. */
  backend: Backend;
  adapters: Record<string, ChannelAdapter & MountableAdapter>;
  /** Starts listening; returns the base URL (port 0 picks a free port). */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting requests, then closes adapters, the hub, watchers, files and the database. */
  close(): Promise<void>;
}

export async function buildApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  // Only this user may read DATA_DIR; files left 0644 / folders 0755 by older versions are tightened.
  await ensurePrivateDir(config.dataDir);
  const tightened = await tightenPrivateModesOnce(config.dataDir);
  if (tightened) logger.info('made DATA_DIR private (files 0600, folders 0700)', { dir: config.dataDir, changed: tightened });

  const backend = await openBackend(config, { clock, logger });
  const { storage, transcripts, bus } = backend;
  const knowledge = await KnowledgeBase.open(config.knowledgeDir, { clock, logger: logger.child('knowledge'), watch: options.watchKnowledge ?? true, snapshotDir: config.dataDir });

  const adapters: Record<string, ChannelAdapter & MountableAdapter> = {};
  const metrics = new Metrics({ logger: logger.child('metrics') }); // GET /metrics; this app's own registry
  // A message is finished only once its turn's transcript is on disk (else it runs again after a restart).
  const settle = (a: Partial<Activity>) => transcripts.whenWritten(a.channelId ?? '', a.conversation?.id ?? '');
  // Every instance must sign and verify with the same secret: a configured one (checked), or one generated
  // once and kept in the database (PostgreSQL) or in DATA_DIR (files).
  const directLineSecret =
    !config.directLineSecret && backend.sharedDirectLineSecret ? await backend.sharedDirectLineSecret() : await loadOrCreateDirectLineSecret(config.dataDir, config.directLineSecret);
  const webchat = new WebChatAdapter({
    secret: directLineSecret,
    dataDir: config.dataDir,
    store: backend.webchatStore,
    inbox: backend.journal('webchat'),
    bus,
    publicUrl: config.publicUrl,
    activityRateLimit: activityRateLimitsFor(config.directLinePostsPerMinute),
    media: backend.media,
    clock,
    logger: logger.child('webchat'),
    settle,
    leaseTtlMs: config.turnLeaseMs,
    maxConcurrentTurns: config.maxConcurrentTurns,
    metrics,
  });
  adapters[webchat.channelId] = webchat;
  const meta = {
    graphApiUrl: config.graphApiUrl,
    dataDir: config.dataDir,
    clock,
    fetch: options.fetch,
    sleep: options.sleep,
    retry: options.retry,
    settle,
    leaseTtlMs: config.turnLeaseMs,
    maxConcurrentTurns: config.maxConcurrentTurns,
    metrics,
    unsupportedText: t('en', 'unsupportedMessage'),
    media: backend.media,
    mediaText: { kept: t('en', 'mediaKept'), notKept: t('en', 'mediaNotKept') },
  };
  if (config.messenger) {
    const messenger = new MessengerAdapter({ ...meta, messenger: config.messenger, journal: backend.journal('messenger'), logger: logger.child('messenger') });
    adapters[messenger.channelId] = messenger;
  }
  if (config.whatsapp) {
    const whatsapp = new WhatsAppAdapter({ ...meta, whatsapp: config.whatsapp, journal: backend.journal('whatsapp'), logger: logger.child('whatsapp') });
    adapters[whatsapp.channelId] = whatsapp;
  }

  const businessHours = new BusinessHours(config.businessHours, config.businessTimeZone);
  warmUpSummary(); // the recognizers' models, built now rather than in the first customer's handoff (~0.6 s)
  const analytics = new AnalyticsRecorder(backend.analytics, { clock, logger: logger.child('analytics') });
  const hub = new HandoffHub({
    observe: (change, record) => {
      analytics.hubChange(change, record);
      metrics.hubChange(change, record);
    },
    store: backend.queue,
    bus,
    transcripts,
    adapters,
    knowledge,
    businessHours,
    clock,
    logger: logger.child('handoff'),
  });

  const insights = new InsightsStore(storage, { clock, logger: logger.child('insights') });
  // The survey keeps its state next to the bot's, in the same ConversationState, saved by the bot's turn.
  const conversationState = new ConversationState(storage);
  const csat = new CsatSurvey({ store: backend.csat, conversationState, knowledge, clock, logger: logger.child('csat'), replyWindow: (r) => hub.replyWindow(r) });
  hub.onResolved((record, continueWith) => csat.afterResolve(record, continueWith));
  // Customers' questions, saved for `kb diff` and replayed after each reload ("this edit changed N answers").
  const questions = new QuestionRecorder(backend.questions, { logger: logger.child('questions') });
  const knowledgeChanges = new ReloadDiffs(knowledge, backend.questions, { logger: logger.child('knowledge') });
  const bot = new FaqBot({
    knowledge,
    conversationState,
    userState: new UserState(storage),
    insights,
    csat,
    analytics,
    metrics,
    questions,
    clock,
    logger: logger.child('bot'),
  });

  metrics.channels(Object.keys(adapters));
  metrics.watchQueue(backend.queue, Object.keys(adapters));
  const server = createServer({ logger, trustProxy: config.trustProxy, connections: config.connections, health: [knowledge.healthCheck(), ...backend.health], metrics: { metrics, token: config.metricsToken } });
  const requests = trackRequests(server.server);
  const logic = (context: TurnContext) => bot.run(context);
  const handoff = new HandoffMiddleware(hub);
  for (const adapter of Object.values(adapters)) {
    // Order matters: everything said is logged first, then the handoff middleware decides who answers.
    adapter.use(new TurnSafeTranscriptLogger(transcripts)); // a turn that throws is recorded too
    adapter.use(handoff);
    adapter.onTurnError = turnErrorHandler(adapter, logger);
    adapter.mount(server, logic);
    if (adapter instanceof TurnEngineAdapter) metrics.watchBacklog(adapter.channelId, () => adapter.backlog);
  }
  mountDemoPage(server, { tokens: webchat, peopleHours: businessHours.describe(), logger: logger.child('web') });
  const { accounts, sessions } = backend.agents;
  const agentApi = mountAgentApi(server, { hub, accounts, sessions, knowledge, insights, csat: backend.csat, media: backend.media, knowledgeChanges, clock, logger: logger.child('agent'), analytics: analyticsReporter(analytics, { csat: backend.csat, insights, knowledge, clock }) });

  let closed = false;
  return {
    server,
    knowledge,
    hub,
    accounts,
    transcripts,
    backend,
    adapters,
    listen: (port = config.port, host = config.host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, LISTEN_BACKLOG, () => {
          const address = server.address() as AddressInfo;
          const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve(`http://${shown}:${address.port}`);
        });
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      // Stop accepting, end what browsers hold open (consoles' event streams, idle keep-alive
      // connections), let requests in progress answer, then close the channels: web chat closes its
      // WebSockets, and every adapter lets the turns it accepted finish before its inbox closes.
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      agentApi.close();
      await requests.drain(SHUTDOWN_REQUEST_GRACE_MS);
      for (const adapter of Object.values(adapters)) await adapter.close?.();
      server.server.closeAllConnections();
      await stopped;
      await hub.close();
      await analytics.flush();
      await backend.analytics.close();
      await backend.agents.sessions.close?.();
      await knowledge.close();
      knowledgeChanges.close();
      await questions.flush();
      await backend.close();
    },
  };
}

/** How long a shutdown waits for requests in progress to be answered before it closes their connections. */
export const SHUTDOWN_REQUEST_GRACE_MS = 1_000;

/**
 * Counts the HTTP requests in progress (not upgraded ones: a WebSocket's owner closes it), so a shutdown
 * can let them be answered. `drain` closes idle keep-alive connections (a browser keeps them for
 * minutes) as responses finish, waits up to `graceMs` for the rest, then closes what is left.
 */
function trackRequests(http: import('node:http').Server) {
  let inFlight = 0;
  http.on('request', (_req, res: import('node:http').ServerResponse) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  return {
    async drain(graceMs: number): Promise<void> {
      const deadline = Date.now() + graceMs;
      http.closeIdleConnections();
      while (inFlight > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        http.closeIdleConnections(); // only those idle right now: again as responses finish
      }
      http.closeAllConnections();
    },
  };
}

/** Logs a failed turn (without the customer's text) and tells the customer something went wrong. */
function turnErrorHandler(adapter: BotAdapter, logger: Logger) {
  return async (context: TurnContext, error: Error) => {
    logger.error('turn failed', {
      channel: context.activity.channelId,
      conversation: context.activity.conversation?.id,
      error: error.message,
    });
    try {
      await context.sendActivity(t(context.activity.locale ?? 'en', 'turnError'));
    } catch {
      // The channel itself failed (e.g. a closed reply window); already recorded by the adapter.
    }
    void adapter;
  };
}
