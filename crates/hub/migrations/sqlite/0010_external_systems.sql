-- The registry of external systems (SQLite twin of postgres/0010_external_systems.sql).
-- Secrets are never stored in clear: one sealed JSON object per system (XChaCha20-
-- Poly1305) with the id of the key that sealed it, and the names that are set.
CREATE TABLE external_systems (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    settings TEXT NOT NULL,
    sync_settings TEXT NOT NULL,
    secrets_set TEXT NOT NULL,
    secrets_key_id TEXT,
    secrets_nonce TEXT,
    secrets_ciphertext TEXT,
    last_test_at INTEGER,
    last_test_result TEXT,
    last_success_at INTEGER,
    last_error TEXT,
    archived_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX external_systems_kind_status ON external_systems (kind, status, id);
