-- The audit log of operators' changes (PostgreSQL twin of sqlite/0009_audit_log.sql).
-- Ids are paged with < and >: bytewise (COLLATE "C"), as 0004 explains.
CREATE TABLE audit_log (
    id TEXT COLLATE "C" PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    role TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    -- JSON, secrets masked.
    before_state JSONB,
    after_state JSONB
);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
