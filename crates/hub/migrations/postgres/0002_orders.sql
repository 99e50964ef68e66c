-- Orders, holds, the outbox and the audit trail of external calls and callbacks
-- (PostgreSQL twin of sqlite/0002_orders.sql).

-- An order from a storefront. One order is one sub-order at the supplier: so_id is its
-- idempotency key there (soId).
CREATE TABLE orders (
    id                 TEXT PRIMARY KEY,
    order_number       TEXT NOT NULL UNIQUE,            -- the storefront's number (onlineNo)
    so_id              TEXT NOT NULL UNIQUE,            -- soId sent to the supplier
    request_hash       TEXT NOT NULL,                   -- of the create request, for safe retries
    status             TEXT NOT NULL,                   -- held | paid | cancelled | expired
    supplier_status    TEXT NOT NULL,                   -- none | push_pending | pushed | confirmed | ...
    retail_order_no    TEXT,                            -- the supplier's order number (retailOrderNo / ExtOrderNo)
    supplier_message   TEXT,                            -- the supplier's last failure message
    consignee_name     TEXT NOT NULL,
    consignee_mobile   TEXT NOT NULL,
    province           TEXT NOT NULL,
    city               TEXT NOT NULL,
    district           TEXT NOT NULL,
    town               TEXT,
    detail_address     TEXT NOT NULL,
    county_code        TEXT NOT NULL,                   -- resolved GB/T 2260 code
    distribution_time  TIMESTAMPTZ,
    install_time       TIMESTAMPTZ,
    government_order   BOOLEAN NOT NULL,
    remark             TEXT,
    total_qty          BIGINT NOT NULL,
    total_amount       NUMERIC NOT NULL,                   -- Σ actual_price × quantity
    hold_expires_at    TIMESTAMPTZ NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    paid_at            TIMESTAMPTZ,
    cancelled_at       TIMESTAMPTZ
);
CREATE INDEX orders_status ON orders (status, hold_expires_at);

-- One line per SKU (lines of one SKU are summed at creation). Prices are per unit.
CREATE TABLE order_lines (
    order_id         TEXT NOT NULL REFERENCES orders (id),
    line_no          BIGINT NOT NULL,
    product_code     TEXT NOT NULL REFERENCES products (code),
    source           TEXT NOT NULL,                     -- 'haier' | 'local'
    quantity         BIGINT NOT NULL,
    retail_price     NUMERIC NOT NULL,
    discount_amount  NUMERIC NOT NULL,                     -- per unit
    actual_price     NUMERIC NOT NULL,                     -- per unit: retail - discount
    is_gift          BOOLEAN NOT NULL,
    receive_qty      BIGINT,                           -- from cancel callbacks, set (never added)
    return_qty       BIGINT,
    reject_qty       BIGINT,
    PRIMARY KEY (order_id, line_no)
);

-- What can be held: per product and county for regional supplier stock (capacity = the
-- supplier's last seen stock), per product with county '' for local stock (capacity =
-- on hand). held = Σ active and committed-but-unsettled holds. The invariant
-- held <= capacity is kept by one conditional UPDATE per hold.
CREATE TABLE stock_pools (
    product_code   TEXT NOT NULL REFERENCES products (code),
    county_code    TEXT NOT NULL,
    capacity       BIGINT NOT NULL,
    held           BIGINT NOT NULL DEFAULT 0,
    refreshed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (product_code, county_code),
    -- held may exceed capacity when a refresh finds the supplier with less than we hold:
    -- new holds then fail until stock returns.
    CHECK (held >= 0)
);

-- A reservation of one SKU for one order, with a TTL.
CREATE TABLE holds (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    product_code  TEXT NOT NULL,
    county_code   TEXT NOT NULL,
    quantity      BIGINT NOT NULL,
    status        TEXT NOT NULL,                        -- active | committed | settled | released | expired
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (product_code, county_code) REFERENCES stock_pools (product_code, county_code)
);
CREATE INDEX holds_order ON holds (order_id);
CREATE INDEX holds_expiry ON holds (status, expires_at);

-- Every change to a stock pool: lock, release, expire, commit, settle, adjust, refresh.
CREATE TABLE inventory_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_code    TEXT NOT NULL,
    county_code     TEXT NOT NULL,
    change          TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    capacity_after  BIGINT NOT NULL,
    held_after      BIGINT NOT NULL,
    order_id        TEXT,
    reason          TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX inventory_log_product ON inventory_log (product_code, county_code, id);

-- The outbox: work that changes a supplier's state, enqueued in the same transaction as
-- the business write and leased by any instance.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,                    -- push_order | cancel_order | reschedule_order
    payload           JSONB NOT NULL,                    -- JSON
    dedupe_key        TEXT NOT NULL UNIQUE,
    status            TEXT NOT NULL,                    -- queued | running | done | dead
    attempts          BIGINT NOT NULL DEFAULT 0,
    max_attempts      BIGINT NOT NULL,
    run_at            TIMESTAMPTZ NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  TIMESTAMPTZ,
    last_error        TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);

-- The history of every attempt of a job.
CREATE TABLE job_attempts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    attempt      BIGINT NOT NULL,
    outcome      TEXT NOT NULL,                         -- done | retry | dead | ambiguous | lease_lost
    detail       TEXT,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX job_attempts_job ON job_attempts (job_id, id);

-- Every call to an external system, redacted.
CREATE TABLE external_calls (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system       TEXT NOT NULL,                         -- haier_open_platform | ylh
    endpoint     TEXT NOT NULL,                         -- y1_create, h3_stock...
    order_id     TEXT,
    job_id       TEXT,
    request      TEXT,                                  -- JSON, personal data and secrets masked
    response     TEXT,                                  -- JSON or a short text
    status       BIGINT,                               -- HTTP status, if any
    outcome      TEXT NOT NULL,
    latency_ms   BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX external_calls_order ON external_calls (order_id, id);

-- Every callback received, raw, before anything else is done with it.
CREATE TABLE supplier_callbacks (
    id            TEXT PRIMARY KEY,
    received_at   TIMESTAMPTZ NOT NULL,
    content_type  TEXT,
    body          TEXT NOT NULL,
    method        TEXT,
    outcome       TEXT NOT NULL                         -- applied | replayed | refused: ... | order_not_found
);

-- Each callback event applied once: a replay finds its key taken and changes nothing.
CREATE TABLE supplier_events (
    dedupe_key    TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    method        TEXT NOT NULL,
    state         BIGINT NOT NULL,
    callback_id   TEXT NOT NULL,
    applied_at    TIMESTAMPTZ NOT NULL
);
