-- Records that the retailer's other systems send (SQLite twin of
-- postgres/0013_records.sql): POS transactions, supplier purchase orders and returns, and
-- members with their per-system mappings.
--
-- Every record is idempotent on (system, external id): a unique index, not a cache. The
-- content hash (SHA-256 of the canonical input) tells a repeat ("already recorded") from
-- a different record under a reused external id (409). Money is decimal TEXT and times
-- INTEGER microseconds, as everywhere (see 0001).

-- POS transactions: sales, refunds and voids. A refund or void names its sale
-- (sale_id). A sale keeps what has been refunded of it, in total (refunded_amount) and
-- per SKU (refunded_quantities, a JSON object SKU -> quantity), changed only while its
-- row is locked, so that concurrent refunds never exceed it.
CREATE TABLE pos_transactions (
    id TEXT PRIMARY KEY,
    system_id TEXT NOT NULL REFERENCES external_systems (id),
    external_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    sale_id TEXT REFERENCES pos_transactions (id),
    store_code TEXT,
    customer TEXT,
    payment_method TEXT,
    lines TEXT NOT NULL,
    total TEXT NOT NULL,
    refunded_amount TEXT NOT NULL,
    refunded_quantities TEXT NOT NULL,
    lock_seq INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX pos_transactions_external ON pos_transactions (system_id, external_id);
CREATE INDEX pos_transactions_sale ON pos_transactions (sale_id) WHERE sale_id IS NOT NULL;
CREATE INDEX pos_transactions_occurred ON pos_transactions (occurred_at, id);

-- Supplier purchase orders and returns: pending -> confirmed -> shipped -> delivered, or
-- cancelled from pending or confirmed; the time each state was reached is kept.
CREATE TABLE supplier_orders (
    id TEXT PRIMARY KEY,
    system_id TEXT NOT NULL REFERENCES external_systems (id),
    external_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    lines TEXT NOT NULL,
    total TEXT NOT NULL,
    delivery TEXT,
    note TEXT,
    content_hash TEXT NOT NULL,
    pending_at INTEGER,
    confirmed_at INTEGER,
    shipped_at INTEGER,
    delivered_at INTEGER,
    cancelled_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX supplier_orders_external ON supplier_orders (system_id, external_id);
CREATE INDEX supplier_orders_created ON supplier_orders (created_at, id);

-- Members: our member, with the data of the last update applied to it.
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    name TEXT,
    mobile TEXT,
    level TEXT,
    points INTEGER NOT NULL,
    balance TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX members_updated ON members (updated_at, id);

-- An external member id per system, mapped to our member, with the version of the
-- newest update applied from that system (compare-and-set: an older one never wins).
CREATE TABLE member_mappings (
    system_id TEXT NOT NULL REFERENCES external_systems (id),
    external_id TEXT NOT NULL,
    member_id TEXT NOT NULL REFERENCES members (id),
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (system_id, external_id)
);
CREATE INDEX member_mappings_member ON member_mappings (member_id);
