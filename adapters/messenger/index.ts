/** Messenger channel: the adapter, its payload mapping and its limits. */
export * from './messenger-adapter.js';
export * from './inbound.js';
export * from './outbound.js';
