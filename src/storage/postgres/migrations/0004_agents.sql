-- Agent accounts and console sessions (PgAgentAccounts, PgAgentSessions).
-- password_stamp is a new random value whenever the password is set; a session keeps the stamp it was
-- opened with, and its check joins the account, so removing an agent or changing a password ends
-- their sessions on every instance at the next request.
CREATE TABLE agents (
  id text PRIMARY KEY,
  name text NOT NULL,
  teams text[] NOT NULL DEFAULT '{}',
  capacity integer NOT NULL CHECK (capacity >= 1),
  password_hash text NOT NULL,
  password_stamp text NOT NULL,
  password_changed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- token_hash is the SHA-256 (hex) of the bearer token; the token itself is never stored. No foreign
-- key: a removed agent's sessions stay until they expire so that their check can say why they ended.
CREATE TABLE agent_sessions (
  token_hash text PRIMARY KEY,
  agent_id text NOT NULL,
  password_stamp text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX agent_sessions_expires_at ON agent_sessions (expires_at);
