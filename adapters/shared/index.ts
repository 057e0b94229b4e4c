/** What the Meta channel adapters share: the base adapter, signature check, errors, text helpers, Graph client. */
export * from './meta-adapter.js';
export * from './errors.js';
export * from './verify.js';
export * from './text.js';
export * from './graph-client.js';
export type { InboxItem, MessageStatus, SendFailure } from '../../src/engine/inbox.js';
