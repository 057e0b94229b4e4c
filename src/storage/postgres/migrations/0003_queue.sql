-- The handoff queue (QueueStore): one row per conversation. The whole record is kept as jsonb; the
-- columns beside it are what `list` filters on, kept in step with the record by PgQueueStore.save.
-- `version` is the optimistic lock: a save is `UPDATE ... WHERE id = $1 AND version = $2`, so of
-- several instances claiming the same conversation exactly one row update wins.
CREATE TABLE handoff_conversations (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  channel_id text NOT NULL,
  customer_id text NOT NULL,
  owner text NOT NULL CHECK (owner IN ('bot', 'queued', 'assigned')),
  resolved_at text,
  version integer NOT NULL CHECK (version > 0),
  record jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The queue, the assigned list and "resolved" (owner 'bot' with resolved_at) are read by owner.
CREATE INDEX handoff_conversations_owner ON handoff_conversations (owner, seq);
-- A customer's other conversations on a channel (the agent's full transcript).
CREATE INDEX handoff_conversations_customer ON handoff_conversations (channel_id, customer_id);
