-- Files customers and agents exchange (PgMediaStore, src/media/pg-store.ts). The bytes live in the row
-- as bytea: every file is at most MAX_MEDIA_BYTES (25 MB) and passes through memory whole anyway, and
-- PostgreSQL moves large values out of line (TOAST), so listing records never reads the bytes. One
-- table keeps erasure a single DELETE and the bytes inside the same backups and transactions as the
-- transcript; large objects or an object store would add a second thing to clean up and secure.
CREATE TABLE media (
  id               text        PRIMARY KEY,
  seq              bigserial   NOT NULL,            -- the order files were stored in (list is oldest first)
  conversation_id  text        NOT NULL,
  channel_id       text        NOT NULL,
  content_type     text        NOT NULL,
  name             text,
  size             integer     NOT NULL,
  sha256           text        NOT NULL,
  source           text,
  created_at       timestamptz NOT NULL,
  bytes            bytea       NOT NULL
);

CREATE INDEX media_conversation ON media (conversation_id, seq);
-- One file per source in a conversation: a turn replayed after a crash downloads again but stores once.
CREATE UNIQUE INDEX media_conversation_source ON media (conversation_id, source) WHERE source IS NOT NULL;
