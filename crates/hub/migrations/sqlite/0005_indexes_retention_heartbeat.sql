-- Indexes for the queries the code runs, a key for an order's jobs, and the heartbeat
-- of sync runs (SQLite twin of postgres/0005_indexes_retention_heartbeat.sql).

-- Callbacks find their order by the supplier's number (order_ids_by_retail_order_no).
CREATE INDEX orders_retail_order_no ON orders (retail_order_no);
-- An order's callback events (order_events), and their retention.
CREATE INDEX supplier_events_order ON supplier_events (order_id, applied_at);
CREATE INDEX supplier_events_applied ON supplier_events (applied_at);
-- A county's stock levels (load_stock_levels_in_county); the primary key starts with
-- the product.
CREATE INDEX stock_levels_county ON stock_levels (county_code);
-- The products of one source (load_products_of_source: local vs supplier).
CREATE INDEX products_source ON products (source);

-- An order's jobs were found by a LIKE '%:id%' scan of dedupe_key; the order is now a
-- column of its own, filled from the payload of the jobs already queued.
ALTER TABLE jobs ADD COLUMN order_id TEXT;
UPDATE jobs SET order_id = json_extract(payload, '$.order_id');
CREATE INDEX jobs_order ON jobs (order_id, id);

-- Retention: each history is pruned oldest first.
CREATE INDEX supplier_callbacks_received ON supplier_callbacks (received_at);
CREATE INDEX inventory_log_created ON inventory_log (created_at);
CREATE INDEX job_attempts_finished ON job_attempts (finished_at);
CREATE INDEX sync_failures_occurred ON sync_failures (occurred_at);

-- A running sync run touches heartbeat_at every 30 s; a run left processing whose
-- heartbeat stopped belongs to a process that died, and is marked failed (abandoned).
ALTER TABLE sync_runs ADD COLUMN heartbeat_at INTEGER;
UPDATE sync_runs SET heartbeat_at = COALESCE(started_at, created_at);
