/**
 * The agent side of handoff: the HTTP API and console page (`mountAgentApi`), and agent accounts
 * with scrypt-hashed passwords and expiring sessions.
 *
 * @example
 *   mountAgentApi(server, { hub, accounts: await AgentAccounts.open(dataDir), knowledge });
 */
export { mountAgentApi, type AgentApiOptions, type ConversationView, type WatchedKnowledge } from './api.js';
export { AgentAccounts, AgentSessions, AgentAccountError, type AgentAccount, type PublicAgent } from './accounts.js';
