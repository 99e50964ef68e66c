-- A sync run started for an external system carries its id; one such run at a time
-- may be pending or processing per system (a second start is refused, naming the
-- running one).
ALTER TABLE sync_runs ADD COLUMN system_id TEXT;
CREATE UNIQUE INDEX sync_runs_one_active_per_system ON sync_runs (system_id)
    WHERE system_id IS NOT NULL AND status IN ('pending', 'processing');
CREATE INDEX sync_runs_system ON sync_runs (system_id, id);
