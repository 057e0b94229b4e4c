-- Transcripts (botbuilder `TranscriptStore`): every activity in and out, per conversation.

-- One row per conversation: its creation time (first activity logged) for listing, oldest first.
CREATE TABLE transcript_conversations (
  channel_id      text        NOT NULL,
  conversation_id text        NOT NULL,
  created         timestamptz NOT NULL,
  seq             bigint      GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (channel_id, conversation_id)
);
CREATE INDEX transcript_conversations_by_created ON transcript_conversations (channel_id, created, seq);

-- The activities. `seq` is the insertion order: the tiebreak between equal timestamps.
-- `writer` names the process that logged the row, so a turn re-run by another process after a crash
-- is not logged twice (see PgTranscriptStore.logActivity).
CREATE TABLE transcript_activities (
  seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel_id      text        NOT NULL,
  conversation_id text        NOT NULL,
  activity_type   text        NOT NULL,
  activity_id     text,
  ts              timestamptz NOT NULL,
  writer          text        NOT NULL,
  activity        json        NOT NULL
);
CREATE INDEX transcript_activities_in_order ON transcript_activities (channel_id, conversation_id, ts, seq);
CREATE INDEX transcript_activities_by_id ON transcript_activities (channel_id, conversation_id, activity_id);

-- The conversations of each customer (the user side of the conversation), for the agent console's history.
CREATE TABLE transcript_customers (
  channel_id      text        NOT NULL,
  customer_id     text        NOT NULL,
  conversation_id text        NOT NULL,
  created         timestamptz NOT NULL,
  PRIMARY KEY (channel_id, customer_id, conversation_id)
);
CREATE INDEX transcript_customers_by_conversation ON transcript_customers (channel_id, conversation_id);
