-- Web chat (Direct Line) conversations and their ordered activity logs, for PgConversationStore.
-- A Direct Line watermark is a position in a conversation's log; next_position hands out positions,
-- and the row lock taken to bump it serialises appends to one conversation across instances.
CREATE TABLE webchat_conversations (
  id             text        PRIMARY KEY,
  record         text,                                -- JSON of the WebChatConversation; NULL while only the log exists
  next_position  bigint      NOT NULL DEFAULT 0,      -- entries in the log (the watermark after the last one)
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webchat_activities (
  conversation_id  text   NOT NULL REFERENCES webchat_conversations (id) ON DELETE CASCADE,
  position         bigint NOT NULL,
  activity         text   NOT NULL,                   -- JSON (text, not jsonb: jsonb refuses \u0000 in strings)
  PRIMARY KEY (conversation_id, position)
);
