-- Access: operators with passwords, API keys scoped to a role, and cookie sessions of
-- the admin page (PostgreSQL twin of sqlite/0008_access.sql).

-- Ids are paged with < and >: bytewise (COLLATE "C"), as 0004 explains.
CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    -- argon2id in PHC string form; never returned.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- Consecutive failed logins since the last success, and when the last one was.
    failed_logins BIGINT NOT NULL DEFAULT 0,
    last_failed_login_at TIMESTAMPTZ,
    locked_until TIMESTAMPTZ,
    last_login_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    -- The visible part of the key (shk_<prefix>_<secret>), unique, to find it.
    prefix TEXT NOT NULL UNIQUE,
    -- SHA-256 of the whole key, hex.
    secret_hash TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

CREATE TABLE sessions (
    -- SHA-256 of the cookie's token, hex: the token itself is never stored.
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
