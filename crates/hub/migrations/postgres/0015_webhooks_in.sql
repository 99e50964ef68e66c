-- Inbound webhooks (PostgreSQL twin of sqlite/0015_webhooks_in.sql).
--
-- webhook_secrets: a system's signing secrets, each sealed with the registry's key ring
-- (bound to the secret's id) and never stored in clear. A secret is active until its
-- expires_at (none: until a newer one is added, which gives it the configured overlap).
CREATE TABLE webhook_secrets (
    id TEXT COLLATE "C" PRIMARY KEY,
    system_id TEXT COLLATE "C" NOT NULL REFERENCES external_systems (id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE INDEX webhook_secrets_system ON webhook_secrets (system_id, id);

-- webhook_events: every verified delivery, raw (body bytes and the three headers), and
-- where its processing stands. The unique index on (system_id, webhook_id) is the
-- deduplication: a second delivery of the same message is never stored. Ids are UUID v7
-- text, paged with < and compared bytewise (COLLATE "C", as 0004 explains).
CREATE TABLE webhook_events (
    id TEXT COLLATE "C" PRIMARY KEY,
    system_id TEXT COLLATE "C" NOT NULL REFERENCES external_systems (id) ON DELETE CASCADE,
    webhook_id TEXT COLLATE "C" NOT NULL,
    webhook_timestamp BIGINT NOT NULL,
    webhook_signature TEXT NOT NULL,
    body BYTEA NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    processed_at TIMESTAMPTZ,
    result TEXT,
    replays BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX webhook_events_dedupe ON webhook_events (system_id, webhook_id);
CREATE INDEX webhook_events_system_received ON webhook_events (system_id, received_at);
CREATE INDEX webhook_events_status ON webhook_events (status, id);

-- webhook_refusals: refused deliveries counted per system and reason (an unknown system
-- counts under the empty id, so that callers cannot fill the table with made-up ids).
CREATE TABLE webhook_refusals (
    system_id TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    count BIGINT NOT NULL,
    last_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (system_id, reason)
);
