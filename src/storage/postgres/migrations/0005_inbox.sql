-- The durable inbox of every channel (PgChannelJournal): each accepted inbound activity, keyed by the
-- provider's id within its channel, so a repeated webhook or Direct Line POST is recognised; run in
-- accept order (seq) per conversation, by whichever instance holds the conversation's lease.
-- Times the engine supplies are milliseconds since the epoch (bigint), as in the file backend.
CREATE TABLE inbox_items (
  channel       text        NOT NULL,
  id            text        NOT NULL,                 -- Meta mid / wamid, Direct Line clientActivityID or activity id
  seq           bigserial   NOT NULL,                 -- accept order
  conversation  text        NOT NULL,
  at            bigint      NOT NULL,                 -- when it was accepted (ms)
  activity_id   text,                                 -- the id the channel answered with (a repeated POST answers it again)
  activity      text        NOT NULL,                 -- JSON of the activity (text, not jsonb: jsonb refuses \u0000 in strings)
  opens_window  boolean     NOT NULL,
  done_at       timestamptz,                          -- set once its turn ran; the row stays for dedupe until pruned
  PRIMARY KEY (channel, id)
);
-- Only the items still to run: what nextPending and pendingConversations read. Small however much history there is.
CREATE INDEX inbox_items_pending ON inbox_items (channel, conversation, seq) WHERE done_at IS NULL;
-- prune() removes done items older than the dedupe retention; accept times grow with the table, so BRIN is enough and costs almost nothing to keep.
CREATE INDEX inbox_items_at ON inbox_items USING brin (at);

-- Who may run a conversation's turns: one row per (channel, conversation) while an instance holds or
-- held it. Expiry is in ms; an instance that dies leaves its rows to run out.
CREATE TABLE inbox_leases (
  channel       text   NOT NULL,
  conversation  text   NOT NULL,
  owner         text   NOT NULL,
  expires_at    bigint NOT NULL,
  PRIMARY KEY (channel, conversation)
);

-- What a turn already sent, per inbound item, so a re-run after a crash does not send it again.
-- Deleted when the item is done.
CREATE TABLE inbox_turn_sends (
  channel   text    NOT NULL,
  inbound   text    NOT NULL,
  n         integer NOT NULL,                         -- ordinal of the activity among the turn's sends
  h         text    NOT NULL,                         -- hash of what it says
  ids       text[]  NOT NULL,                         -- platform ids of what went out
  at        bigint  NOT NULL,
  activity  text,                                     -- JSON summary of the activity
  PRIMARY KEY (channel, inbound, n)
);
