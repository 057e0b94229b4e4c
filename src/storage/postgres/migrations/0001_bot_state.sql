-- Bot state (botbuilder `Storage`: conversation, user and private state, insights), one row per key.
-- The key is the key's UTF-8 bytes: any string works, NUL characters included (a text column refuses those).
-- The item is `json`, not `jsonb`: it keeps any string the bot stores, "\u0000" included, and is never queried inside.
-- Every access is by primary key, so a write costs the same with 100 or 10 million keys stored.
CREATE TABLE bot_state (
  key        bytea       PRIMARY KEY,
  item       json        NOT NULL,
  etag       text        NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
