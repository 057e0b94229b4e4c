/**
 * The agent side of handoff: the HTTP API and console page (`mountAgentApi`), and agent accounts
 * with scrypt-hashed passwords and expiring sessions.
 *
 * @example
 *   const { accounts, sessions } = await openAgentDirectory({ dataDir, db }); // db: a Database, or undefined for files
 *   mountAgentApi(server, { hub, accounts, sessions, knowledge });
 */
export { mountAgentApi, type AgentApiOptions, type ConversationView, type WatchedKnowledge } from './api.js';
export { AgentAccounts, FileAgentAccounts, AgentAccountError, type AgentAccount, type AgentAccountStore, type PublicAgent } from './accounts.js';
export { AgentSessions, FileAgentSessions, DEFAULT_SESSION_TTL_MS, type AgentSession, type AgentSessionStore, type SessionCheck } from './sessions.js';
export { PgAgentAccounts, PgAgentSessions } from './pg-agents.js';
export { openAgentDirectory, type AgentDirectory, type AgentDirectoryOptions } from './directory.js';
