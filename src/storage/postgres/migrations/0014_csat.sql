-- Customer satisfaction after a person resolved a conversation: one row per resolution, for
-- PgCsatStore (src/bot/csat-store.ts holds the rules). Each column is set once ("first one wins"),
-- so a replayed resolve or two instances never ask twice or count a rating twice.
CREATE TABLE csat (
  conversation_id  text        NOT NULL,
  resolved_at      timestamptz NOT NULL,
  channel_id       text        NOT NULL,
  agent            text,                                 -- display name of the agent who resolved it
  asked_at         timestamptz,                          -- NULL: the survey was not sent
  rating           smallint    CHECK (rating BETWEEN 1 AND 5),
  answered_at      timestamptz,
  comment          text,
  PRIMARY KEY (conversation_id, resolved_at)
);

-- The analytics read resolutions by period.
CREATE INDEX csat_resolved_at ON csat (resolved_at);
