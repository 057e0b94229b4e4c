/** Files exchanged in conversations: the store interface, its two backends and the limits. */
export * from './store.js';
export { FileMediaStore } from './file-store.js';
export { PgMediaStore } from './pg-store.js';
