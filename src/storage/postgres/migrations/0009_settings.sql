-- Values every instance must share and that are generated once: the Direct Line signing secret when
-- DIRECTLINE_SECRET is unset (a token minted by one instance must verify on every other).
CREATE TABLE settings (
  name text PRIMARY KEY,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
