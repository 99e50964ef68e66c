-- Schedules (PostgreSQL twin of sqlite/0016_schedules.sql): what starts a sync run on
-- its own, claimed like jobs (FOR UPDATE SKIP LOCKED) so that each firing runs once
-- across all instances.
--
-- kind: stock | prices | catalog (of the active supplier system) | system_sync (of
-- system_id). A firing moves next_run_at to the next time the cron expression (in
-- time_zone) names after the moment of the firing, in the transaction that claims it:
-- firings missed while no instance ran are run once, not one by one.
-- Ids are paged with < and >: bytewise (COLLATE "C"), as 0004 explains.
CREATE TABLE schedules (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    system_id     TEXT COLLATE "C" UNIQUE REFERENCES external_systems (id) ON DELETE CASCADE,
    cron          TEXT NOT NULL,
    time_zone     TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    next_run_at   TIMESTAMPTZ,                 -- NULL: to be computed by the scheduler
    last_run_at   TIMESTAMPTZ,                 -- the last firing (or run-now)
    last_run_id   TEXT,                        -- the run it started
    last_outcome  TEXT,                        -- started | skipped | failed | success | partial
    last_detail   TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedules_due ON schedules (enabled, next_run_at);

-- When a stock sync last covered a county (the daily coverage of the configured ones).
CREATE TABLE stock_coverage (
    county_code  TEXT COLLATE "C" PRIMARY KEY,
    covered_at   TIMESTAMPTZ NOT NULL,
    run_id       TEXT NOT NULL
);

-- The defaults the seed documents recommend: stock every 15 minutes, prices hourly (at
-- minute 7, clear of the stock firing at minute 0), the full catalog daily at 03:20.
INSERT INTO schedules (id, name, kind, system_id, cron, time_zone, enabled, created_at, updated_at)
VALUES
    ('sch_stock', 'Stock where customers are', 'stock', NULL, '*/15 * * * *', 'Asia/Shanghai', TRUE, now(), now()),
    ('sch_prices', 'Prices', 'prices', NULL, '7 * * * *', 'Asia/Shanghai', TRUE, now(), now()),
    ('sch_catalog', 'Full catalog', 'catalog', NULL, '20 3 * * *', 'Asia/Shanghai', TRUE, now(), now());
