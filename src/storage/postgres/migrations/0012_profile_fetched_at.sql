-- When each customer's profile name was fetched (ms since the epoch), so the Messenger adapter's
-- profile cache lifetime holds across restarts and instances. Names kept before this column existed
-- get 0: they count as expired and are fetched again once.
ALTER TABLE delivery_profiles ADD COLUMN fetched_at bigint NOT NULL DEFAULT 0;
