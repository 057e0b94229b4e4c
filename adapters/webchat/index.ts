/** The web chat channel: a self-hosted Direct Line 3.0 service as a botbuilder adapter. */
export { WebChatAdapter, WebChatConversationNotFoundError, type WebChatAdapterOptions, type DirectLineToken } from './adapter.js';
export { DirectLineTokens, DirectLineSecretError, loadOrCreateDirectLineSecret, SECRET_FILE, type TokenClaims, type TokenProfile } from './tokens.js';
export { DirectLineError, type DirectLineErrorCode, type DirectLineErrorBody } from './errors.js';
export { DEFAULT_ACTIVITY_RATE_LIMITS, activityRateLimitsFor, type ActivityRateLimitOptions } from './post-limits.js';
export { FileConversationStore, type WebChatConversationStore, type WebChatConversation, type ActivityPage } from './store.js';
