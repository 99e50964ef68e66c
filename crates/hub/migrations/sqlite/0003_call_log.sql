-- Every HTTP attempt to the supplier is recorded, not only those made for orders: a
-- sync run's calls carry its id, and each row says which attempt of its call it was.
ALTER TABLE external_calls ADD COLUMN sync_run_id TEXT;
ALTER TABLE external_calls ADD COLUMN attempt INTEGER;
CREATE INDEX external_calls_sync_run ON external_calls (sync_run_id, id);
-- Calls that belong to no order are deleted after a retention period, oldest first.
CREATE INDEX external_calls_created ON external_calls (created_at);
