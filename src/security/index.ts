/** Security plumbing shared by the server and the mount functions: headers and rate limits. */
export * from './headers.js';
export * from './rate-limit.js';
export * from './json-depth.js';
export * from './restify-log.js';
export * from './connections.js';
