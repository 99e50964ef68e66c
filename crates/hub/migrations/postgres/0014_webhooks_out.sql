-- Outbound webhooks (PostgreSQL twin of sqlite/0014_webhooks_out.sql).
--
-- An endpoint is a URL an operator registered for an external system, with the event
-- types it subscribes to and its signing secret, sealed like the systems' secrets (key
-- id, nonce, ciphertext; never stored in clear). A message is one event, its body kept
-- exactly as signed and sent; a delivery is one message to one endpoint, driven by one
-- job of the outbox at a time; every attempt of a delivery is kept.
-- Ids are paged with < and >: bytewise (COLLATE "C"), as 0004 explains.
CREATE TABLE webhook_endpoints (
    id                TEXT COLLATE "C" PRIMARY KEY,
    system_id         TEXT NOT NULL REFERENCES external_systems (id) ON DELETE CASCADE,
    url               TEXT NOT NULL,
    description       TEXT,
    event_types       TEXT NOT NULL,                  -- JSON array of event type names
    enabled           BOOLEAN NOT NULL,
    disabled_reason   TEXT,
    disabled_at       TIMESTAMPTZ,
    secret_key_id     TEXT NOT NULL,
    secret_nonce      TEXT NOT NULL,
    secret_ciphertext TEXT NOT NULL,
    previous_secret_key_id     TEXT,              -- the secret before the last rotation,
    previous_secret_nonce      TEXT,              -- still signing until it expires
    previous_secret_ciphertext TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    failing_since     TIMESTAMPTZ,                    -- first failure since the last success
    last_success_at   TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_system ON webhook_endpoints (system_id, id);

CREATE TABLE webhook_messages (
    id          TEXT COLLATE "C" PRIMARY KEY,         -- the webhook-id header
    event_type  TEXT NOT NULL,
    body        TEXT NOT NULL,                        -- {"type","timestamp","data"} as sent
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT COLLATE "C" PRIMARY KEY,
    message_id       TEXT NOT NULL REFERENCES webhook_messages (id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    system_id        TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    status           TEXT NOT NULL,                   -- pending | succeeded | dead
    attempts         BIGINT NOT NULL,
    next_attempt_at  TIMESTAMPTZ,
    last_attempt_at  TIMESTAMPTZ,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_system ON webhook_deliveries (system_id, id);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (status, id);

CREATE TABLE webhook_attempts (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id       TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt           BIGINT NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    status_code       BIGINT,                         -- none when no answer came
    latency_ms        BIGINT NOT NULL,
    response_excerpt  TEXT,                           -- the first 1 KiB of the answer, as text
    error_class       TEXT,                           -- none on success
    error             TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
