-- Analytics facts (src/analytics): one row per event, its id the dedupe key, so a turn replayed after a
-- crash, or an event several instances saw, is counted once.
CREATE TABLE analytics_facts (
  id text PRIMARY KEY,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  channel_id text NOT NULL,
  conversation_id text NOT NULL,
  fact jsonb NOT NULL
);
CREATE INDEX analytics_facts_at ON analytics_facts (at);

-- One row per conversation and UTC day, updated in place by the facts of that day: whether the day
-- is contained (bot turns, no handoff) follows from it.
CREATE TABLE analytics_conversation_days (
  day date NOT NULL,
  channel_id text NOT NULL,
  conversation_id text NOT NULL,
  customer_id text NOT NULL,
  turns integer NOT NULL DEFAULT 0,
  handoffs integer NOT NULL DEFAULT 0,
  PRIMARY KEY (day, channel_id, conversation_id)
);

-- A customer counts once per day and channel (the day's `customer` counter) ...
CREATE TABLE analytics_customer_days (
  day date NOT NULL,
  channel_id text NOT NULL,
  customer_id text NOT NULL,
  PRIMARY KEY (day, channel_id, customer_id)
);
-- ... and once per period: a report's period ends today, so the customers of the last N days are those
-- whose latest day is within them, counted from this index alone.
CREATE TABLE analytics_customers (
  channel_id text NOT NULL,
  customer_id text NOT NULL,
  last_day date NOT NULL,
  PRIMARY KEY (channel_id, customer_id)
);
CREATE INDEX analytics_customers_last_day ON analytics_customers (channel_id, last_day);

-- Counters per UTC day and channel, all a report reads besides the customers: conversations, contained,
-- customers, decisions, handoffs by reason, answers by entry, and duration histograms (reply, wait,
-- handle; key = the bucket, total_ms = the exact sum for averages).
CREATE TABLE analytics_day_counts (
  day date NOT NULL,
  channel_id text NOT NULL,
  metric text NOT NULL,
  key text NOT NULL,
  n bigint NOT NULL,
  total_ms bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, channel_id, metric, key)
);
