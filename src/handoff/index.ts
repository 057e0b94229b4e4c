/**
 * The handoff plugin: `HandoffMiddleware` (botbuilder `Middleware`), the `HandoffHub` queue it talks
 * to, and the `QueueStore` interface with its embedded file implementation.
 *
 * @example
 *   const hub = new HandoffHub({ store: await FileQueueStore.open(dataDir), transcripts, adapters, knowledge });
 *   adapter.use(new TurnSafeTranscriptLogger(transcripts));
 *   adapter.use(new HandoffMiddleware(hub));
 */
export { HandoffMiddleware, isCancelRequest, CANCEL_MIN_COVERAGE } from './middleware.js';
export {
  HandoffHub,
  handoffNotice,
  isHandoffNotice,
  queueOrder,
  ChannelUnavailableError,
  DEFAULT_PRIORITIES,
  DEFAULT_AGENT_CAPACITY,
  NON_TEAM_TAGS,
  type AgentRef,
  type ChannelAdapter,
  type DeliveryFailure,
  type HandoffHubOptions,
  type HandoffOutcome,
  type HubEvent,
} from './hub.js';
export { FileQueueStore, MemoryQueueStore } from './file-queue-store.js';
export { PgQueueStore } from './pg-queue-store.js';
export { AgentPresence } from './presence.js';
export {
  ConflictError,
  ConversationNotFoundError,
  VersionConflictError,
  type ConversationRecord,
  type ConversationNote,
  type HandoffSummary,
  type QueueQuery,
  type QueueStore,
} from './queue-store.js';
export { BusinessHours, BusinessHoursError } from './business-hours.js';
export { summarize, warmUpSummary, customerMessages, type SummaryMessage, type SummaryOptions } from './summary.js';
export { defaultHandoffStrings, handoffStrings, type HandoffStrings } from './strings.js';
export { HANDOFF_REQUESTER, type HandoffRequester, type HandoffRequest, type HandoffReason, type Owner } from './types.js';
