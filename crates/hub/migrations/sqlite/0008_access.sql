-- Access: operators with passwords, API keys scoped to a role, and cookie sessions of
-- the admin page (SQLite twin of postgres/0008_access.sql).

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    -- argon2id in PHC string form; never returned.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    -- Consecutive failed logins since the last success, and when the last one was.
    failed_logins INTEGER NOT NULL DEFAULT 0,
    last_failed_login_at INTEGER,
    locked_until INTEGER,
    last_login_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    -- The visible part of the key (shk_<prefix>_<secret>), unique, to find it.
    prefix TEXT NOT NULL UNIQUE,
    -- SHA-256 of the whole key, hex.
    secret_hash TEXT NOT NULL,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, hex: the token itself is never stored.
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
