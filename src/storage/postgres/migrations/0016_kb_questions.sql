-- The questions customers asked, deduplicated on their normalised text, for PgQuestionsStore
-- (src/knowledge/questions-store.ts holds the rules): `npm run kb -- diff` and the console's
-- after-reload diff replay them against a changed knowledge folder. Customer data: see deleteOlderThan.
CREATE TABLE kb_questions (
  key          text        PRIMARY KEY,           -- questionKey(text)
  text         text        NOT NULL,              -- as last asked, cut to MAX_QUESTION_CHARS
  channel      text        NOT NULL,              -- channel and locale it was last asked on
  locale       text,
  channels     text[]      NOT NULL,
  kind         text        NOT NULL CHECK (kind IN ('answer', 'suggest', 'miss')),
  entry_ids    text[]      NOT NULL,
  confidence   real        NOT NULL,
  count        integer     NOT NULL,
  first_at     timestamptz NOT NULL,
  last_at      timestamptz NOT NULL
);

-- `list` (most asked first) and the cap read in this order; erasure by age reads last_at.
CREATE INDEX kb_questions_importance ON kb_questions (count DESC, last_at DESC);
CREATE INDEX kb_questions_last_at ON kb_questions (last_at);
