-- The delivery side of a channel with reply windows and receipts (Messenger, WhatsApp), for
-- PgChannelJournal. Times are milliseconds since the epoch (bigint), as the platforms' watermarks are.

-- The customer's last message per conversation (the reply window), moved by inbox accepts.
CREATE TABLE delivery_windows (
  channel       text   NOT NULL,
  conversation  text   NOT NULL,
  at            bigint NOT NULL,
  PRIMARY KEY (channel, conversation)
);

-- Outbound messages and where each stands (sent < delivered < read < failed; never backwards).
-- The most recent 50 per conversation are kept: older ones are deleted as new ones are recorded.
CREATE TABLE delivery_outbound (
  channel       text      NOT NULL,
  mid           text      NOT NULL,
  seq           bigserial NOT NULL,
  conversation  text      NOT NULL,
  at            bigint    NOT NULL,                   -- send time (ms), compared with Messenger's watermarks
  status        text      NOT NULL DEFAULT 'sent' CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
  PRIMARY KEY (channel, mid)
);
CREATE INDEX delivery_outbound_conversation ON delivery_outbound (channel, conversation, seq);

-- Sends that finally failed (the most recent 50 per conversation), for the agent console.
CREATE TABLE delivery_failures (
  seq           bigserial PRIMARY KEY,
  channel       text      NOT NULL,
  conversation  text      NOT NULL,
  failure       text      NOT NULL                    -- JSON of the SendFailure
);
CREATE INDEX delivery_failures_conversation ON delivery_failures (channel, conversation, seq);

-- Customers' profile names.
CREATE TABLE delivery_profiles (
  channel       text NOT NULL,
  conversation  text NOT NULL,
  name          text NOT NULL,
  PRIMARY KEY (channel, conversation)
);

-- Signed bodies the channel could not read, for a person to look at (the most recent 200 per channel).
CREATE TABLE delivery_unparsed (
  seq       bigserial   PRIMARY KEY,
  channel   text        NOT NULL,
  at        bigint      NOT NULL,
  reason    text        NOT NULL,
  body      bytea       NOT NULL,                     -- the raw bytes as they came (UTF-8); bytea keeps even a NUL
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_unparsed_channel ON delivery_unparsed (channel, seq);
