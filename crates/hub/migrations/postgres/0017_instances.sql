-- Live instances (PostgreSQL twin of sqlite/0017_instances.sql): every `serve` and every
-- `supplyhub sync` registers here and heartbeats, so that they divide the supplier's
-- per-account request budget between them (each takes limit / live instances).
--
-- An instance is live while its heartbeat is younger than the configured expiry.
-- budget_share is the number of live instances whose share it applies now: an instance
-- that joins waits until every other live one applies at least the new count before
-- it spends any budget. A row is deleted when its instance stops; rows of dead
-- instances are deleted a day after their last heartbeat.
CREATE TABLE instances (
    id            TEXT COLLATE "C" PRIMARY KEY,  -- also the owner of its job leases
    role          TEXT NOT NULL,                 -- serve | sync
    host          TEXT NOT NULL,
    pid           BIGINT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    heartbeat_at  TIMESTAMPTZ NOT NULL,
    budget_share  INTEGER NOT NULL
);
CREATE INDEX instances_heartbeat ON instances (heartbeat_at);
