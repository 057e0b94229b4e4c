-- Live events too large for one NOTIFY (PostgreSQL's payload limit is just under 8000 bytes): the
-- publisher stores the message here and NOTIFYs its id; listeners read it by id. Rows are only needed
-- for the moment it takes the other instances to read them; PgEventBus deletes rows older than a few
-- minutes.
CREATE TABLE bus_messages (
  id         bigserial   PRIMARY KEY,
  origin     text        NOT NULL,
  topic      text        NOT NULL,
  payload    json        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bus_messages_created_at ON bus_messages (created_at);
